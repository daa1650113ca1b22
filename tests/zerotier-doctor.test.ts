import { afterEach, describe, expect, it } from 'vitest';
import { checkZerotier } from '../src/doctor/index.js';
import { type Agent, parseRegistry } from '../src/registry/index.js';
import { detectZerotier } from '../src/zerotier/index.js';
import { tempDir } from './helpers/cli.js';
import {
  type FakeJoinedNetwork,
  type FakeLocalService,
  startFakeLocal,
  zerotierHomeFor,
} from './helpers/zerotier-fakes.js';

const TOKEN = 'zt1-local-token-doctor';
const NET = '8056c2e21c000001';
const SELF_NODE = 'a1b2c3d4e5';

const registry = parseRegistry(
  `## alpha (admin)

\`\`\`yaml ois-agent
name: alpha
role: admin
zerotier: {nodeId: ${SELF_NODE}, ip: 10.147.17.5}
\`\`\`

## beta (member)

\`\`\`yaml ois-agent
name: beta
role: member
gateway: {url: 'http://10.147.17.6:18789', sessionKey: 'agent:main:main'}
zerotier: {nodeId: 89e92ceee5, ip: 10.147.17.6}
\`\`\`

## gamma (member)

\`\`\`yaml ois-agent
name: gamma
role: member
zerotier: {nodeId: '0011223344'}
\`\`\`

## delta (member)

\`\`\`yaml ois-agent
name: delta
role: member
zerotier: {nodeId: 'abcabcabca'}
\`\`\`
`,
  'AGENTS.md',
);
const [alpha, beta, gamma, delta] = registry.agents as [Agent, Agent, Agent, Agent];

let fake: FakeLocalService | undefined;
afterEach(async () => {
  if (fake) expect(fake.violations).toEqual([]);
  await fake?.close();
  fake = undefined;
});

async function envWith(network: FakeJoinedNetwork | null) {
  fake = await startFakeLocal({
    token: TOKEN,
    nodeId: SELF_NODE,
    networks: network ? { [NET]: network } : {},
    peers: {
      '89e92ceee5': { latency: 14, paths: [{ address: '198.51.100.4/9993', active: true }] },
      '0011223344': { latency: -1, paths: [] },
    },
  });
  return { ZEROTIER_HOME: await zerotierHomeFor(fake, TOKEN), HOME: await tempDir() };
}

const byName = (checks: Awaited<ReturnType<typeof checkZerotier>>, subject: string, name: string) =>
  checks.find((c) => c.subject === subject && c.name === name);

describe('zerotier - doctor checks', () => {
  it('zerotier - all well: service, network, own address and a direct path per peer', async () => {
    const env = await envWith({ status: 'OK', assignedAddresses: ['10.147.17.5/24'] });
    const checks = await checkZerotier({ env, networkId: NET, self: alpha, peers: [beta, gamma, delta] });
    expect(byName(checks, 'this instance', 'zerotier service')).toMatchObject({ status: 'ok' });
    expect(byName(checks, 'this instance', 'zerotier network')).toMatchObject({ status: 'ok' });
    expect(byName(checks, 'this instance', 'zerotier address')).toMatchObject({
      status: 'ok',
      detail: '10.147.17.5',
    });
    expect(byName(checks, 'beta', 'zerotier path')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('14 ms'),
    });
    expect(byName(checks, 'gamma', 'zerotier path')).toMatchObject({ status: 'warn' });
    // delta is unknown to /peer (200 {}).
    expect(byName(checks, 'delta', 'zerotier path')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_UNREACHABLE',
    });
  });

  it('zerotier - ZeroTier not running is one failure with its fix', async () => {
    const dead = await startFakeLocal({ token: TOKEN, nodeId: SELF_NODE });
    const env = { ZEROTIER_HOME: await zerotierHomeFor(dead, TOKEN), HOME: await tempDir() };
    await dead.close();
    const checks = await checkZerotier({ env, networkId: NET, self: alpha, peers: [beta] });
    expect(checks).toEqual([
      expect.objectContaining({
        name: 'zerotier service',
        status: 'fail',
        code: 'OIS_ERR_ZT_NOT_RUNNING',
        fix: expect.stringContaining('systemctl start zerotier-one'),
      }),
    ]);
  });

  it('zerotier - not joined and ACCESS_DENIED fail with their codes and fixes', async () => {
    let checks = await checkZerotier({ env: await envWith(null), networkId: NET, self: alpha });
    expect(byName(checks, 'this instance', 'zerotier network')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_ZT_NOT_JOINED',
      fix: expect.stringContaining(`zerotier-cli join ${NET}`),
    });
    await fake!.close();
    checks = await checkZerotier({
      env: await envWith({ status: 'ACCESS_DENIED' }),
      networkId: NET,
      self: alpha,
    });
    expect(byName(checks, 'this instance', 'zerotier network')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_ZT_ACCESS_DENIED',
      fix: 'ask an admin to run: ois net authorize alpha',
    });
  });

  it('zerotier - every other network status is reported with a code or a warning', async () => {
    const expected: Record<string, [string, string | undefined]> = {
      REQUESTING_CONFIGURATION: ['warn', undefined],
      NOT_FOUND: ['fail', 'OIS_ERR_ZT_NOT_FOUND'],
      PORT_ERROR: ['fail', 'OIS_ERR_ZT_NOT_RUNNING'],
      CLIENT_TOO_OLD: ['fail', 'OIS_ERR_ZT_PROTOCOL'],
      AUTHENTICATION_REQUIRED: ['fail', 'OIS_ERR_ZT_ACCESS_DENIED'],
    };
    for (const [status, [level, code]] of Object.entries(expected)) {
      const env = await envWith({ status, authenticationURL: 'https://sso.example/login' });
      const checks = await checkZerotier({ env, networkId: NET, self: alpha });
      const c = byName(checks, 'this instance', 'zerotier network')!;
      expect([status, c.status, c.code]).toEqual([status, level, code]);
      expect(c.fix).toBeTruthy();
      expect(fake!.violations).toEqual([]);
      await fake!.close();
      fake = undefined;
    }
  });

  it('zerotier - a recorded address that the network no longer assigns is a warning', async () => {
    const env = await envWith({ status: 'OK', assignedAddresses: ['10.147.17.55/24'] });
    const checks = await checkZerotier({
      env,
      networkId: NET,
      self: alpha,
      peers: [beta],
      members: [
        {
          nodeId: '89e92ceee5',
          name: 'beta',
          description: null,
          authorized: true,
          ipAssignments: ['10.147.17.66'],
          lastSeen: null,
          online: null,
          physicalAddress: null,
          clientVersion: null,
        },
      ],
    });
    expect(byName(checks, 'this instance', 'zerotier address')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('10.147.17.55'),
    });
    expect(byName(checks, 'beta', 'zerotier address')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('10.147.17.66'),
    });
  });

  it('zerotier - no team network is a skip, not a failure', async () => {
    const checks = await checkZerotier({ env: {}, networkId: null });
    expect(checks).toEqual([
      expect.objectContaining({ status: 'skip', fix: 'if the team uses ZeroTier: ois net use NETWORK_ID' }),
    ]);
  });

  it('zerotier - detectZerotier gives node id and team address, or null without a service', async () => {
    const env = await envWith({ status: 'OK', assignedAddresses: ['fd80::5/88', '10.147.17.5/24'] });
    expect(await detectZerotier({ env, networkId: NET })).toEqual({ nodeId: SELF_NODE, ip: '10.147.17.5' });
    expect(await detectZerotier({ env, networkId: null })).toEqual({ nodeId: SELF_NODE, ip: null });
    expect(await detectZerotier({ env, networkId: '1111111111111111' })).toEqual({
      nodeId: SELF_NODE,
      ip: null,
    });
    const none = { ZEROTIER_HOME: await zerotierHomeFor(null, null), HOME: await tempDir() };
    expect(await detectZerotier({ env: none, networkId: NET })).toBeNull();
  });
});
