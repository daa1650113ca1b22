import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NETWORK_STATUSES,
  openLocalService,
  readLocalPort,
  readLocalToken,
  zerotierHome,
} from '../src/zerotier/index.js';
import { tempDir } from './helpers/cli.js';
import { caught } from './helpers/errors.js';
import { type FakeLocalService, startFakeLocal, zerotierHomeFor } from './helpers/zerotier-fakes.js';

const TOKEN = 'zt1-local-token-0123456789abcdef';
const NODE = 'a1b2c3d4e5';
const NET = '8056c2e21c000001';

let fake: FakeLocalService | undefined;
afterEach(async () => {
  if (fake) expect(fake.violations).toEqual([]);
  await fake?.close();
  fake = undefined;
});

async function envFor(f: FakeLocalService | null, token: string | null = TOKEN, text?: string) {
  const home = await zerotierHomeFor(f, token, text);
  return { ZEROTIER_HOME: home, HOME: await tempDir('ois-user-home-') };
}

describe('zerotier - local service client', () => {
  it('zerotier - the ZeroTier home follows the platform, ZEROTIER_HOME overrides', () => {
    expect(zerotierHome({}, 'linux')).toBe('/var/lib/zerotier-one');
    expect(zerotierHome({}, 'darwin')).toBe('/Library/Application Support/ZeroTier/One');
    expect(zerotierHome({ ProgramData: 'D:\\PD' }, 'win32')).toBe(join('D:\\PD', 'ZeroTier', 'One'));
    expect(zerotierHome({ ZEROTIER_HOME: '/zt' }, 'linux')).toBe('/zt');
  });

  it('zerotier - the token file is trimmed of its trailing newline and spaces and sent as X-ZT1-Auth', async () => {
    fake = await startFakeLocal({ token: TOKEN, nodeId: NODE });
    const env = await envFor(fake, TOKEN, `  ${TOKEN} \r\n\n`);
    expect((await readLocalToken(env)).token).toBe(TOKEN);
    expect(await readLocalPort(env)).toBe(fake.port);
    const local = await openLocalService({ env });
    try {
      expect(await local.status()).toEqual({ nodeId: NODE, online: true, version: '1.14.2' });
    } finally {
      await local.close();
    }
    expect(fake.requests[0]!.headers['x-zt1-auth']).toBe(TOKEN);
  });

  it('zerotier - without zerotier-one.port the default port 9993 is used', async () => {
    const env = await envFor(null);
    expect(await readLocalPort(env)).toBe(9993);
  });

  it('zerotier - ~/.zeroTierOneAuthToken is used when authtoken.secret is missing', async () => {
    fake = await startFakeLocal({ token: TOKEN, nodeId: NODE });
    const env = await envFor(fake, null);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(env.HOME, '.zeroTierOneAuthToken'), `${TOKEN}\n`);
    const t = await readLocalToken(env);
    expect(t).toEqual({ token: TOKEN, file: join(env.HOME, '.zeroTierOneAuthToken') });
  });

  it('zerotier - a missing token file is OIS_ERR_ZT_TOKEN naming the files, not a crash', async () => {
    const env = await envFor(null, null);
    const err = await caught(openLocalService({ env }));
    expect(err.code).toBe('OIS_ERR_ZT_TOKEN');
    expect(err.message).toContain(join(env.ZEROTIER_HOME, 'authtoken.secret'));
    expect(err.message).toContain('does not exist');
  });

  it('zerotier - an unreadable token file is OIS_ERR_ZT_TOKEN', async () => {
    const env = await envFor(null, null);
    const file = join(env.ZEROTIER_HOME, 'authtoken.secret');
    // Root reads any mode, so make it unreadable as a file in a way that holds for root too.
    await mkdir(file);
    await chmod(file, 0o000);
    const err = await caught(readLocalToken(env));
    expect(err.code).toBe('OIS_ERR_ZT_TOKEN');
    expect(err.message).toMatch(/cannot be read/);
    await rm(file, { recursive: true, force: true });
  });

  it('zerotier - a wrong token gets 401 {} and is OIS_ERR_ZT_AUTH without the token in the message', async () => {
    fake = await startFakeLocal({ token: TOKEN, nodeId: NODE });
    const env = await envFor(fake, 'wrong-token-value');
    const local = await openLocalService({ env });
    const err = await caught(local.status());
    await local.close();
    expect(err.code).toBe('OIS_ERR_ZT_AUTH');
    expect(JSON.stringify(err.toJSON())).not.toContain('wrong-token-value');
    expect(fake.requests).toHaveLength(1);
  });

  it('zerotier - a service that does not listen is OIS_ERR_ZT_NOT_RUNNING', async () => {
    const dead = await startFakeLocal({ token: TOKEN, nodeId: NODE });
    const env = await envFor(dead);
    await dead.close();
    const local = await openLocalService({ env });
    const err = await caught(local.status());
    await local.close();
    expect(err.code).toBe('OIS_ERR_ZT_NOT_RUNNING');
    expect(err.message).toContain('connection refused');
  });

  it('zerotier - a network not joined is null (404 {}); joined networks carry status and addresses', async () => {
    fake = await startFakeLocal({
      token: TOKEN,
      nodeId: NODE,
      networks: { [NET]: { status: 'OK', assignedAddresses: ['10.147.17.5/24', 'fd80:56c2:e21c::1/88'] } },
    });
    const local = await openLocalService({ env: await envFor(fake) });
    try {
      expect(await local.network('1111111111111111')).toBeNull();
      expect(await local.network(NET)).toMatchObject({
        id: NET,
        status: 'OK',
        assignedAddresses: ['10.147.17.5/24', 'fd80:56c2:e21c::1/88'],
      });
      expect((await local.networks()).map((n) => n.id)).toEqual([NET]);
    } finally {
      await local.close();
    }
  });

  it('zerotier - every network status the service reports is passed through', async () => {
    const networks = Object.fromEntries(
      NETWORK_STATUSES.map((status, i) => [`8056c2e21c00000${i}`, { status }]),
    );
    fake = await startFakeLocal({ token: TOKEN, nodeId: NODE, networks });
    const local = await openLocalService({ env: await envFor(fake) });
    try {
      for (const [id, n] of Object.entries(networks)) {
        expect((await local.network(id))?.status).toBe(n.status);
      }
    } finally {
      await local.close();
    }
  });

  it('zerotier - peers carry latency and paths; an unknown peer (200 {}) is null', async () => {
    fake = await startFakeLocal({
      token: TOKEN,
      nodeId: NODE,
      peers: { '89e92ceee5': { latency: 12, paths: [{ address: '198.51.100.4/9993', active: true }] } },
    });
    const local = await openLocalService({ env: await envFor(fake) });
    try {
      expect(await local.peer('0000000001')).toBeNull();
      const p = await local.peer('89e92ceee5');
      expect(p).toMatchObject({ nodeId: '89e92ceee5', latency: 12 });
      expect(p!.paths[0]).toMatchObject({ address: '198.51.100.4/9993', active: true });
      expect((await local.peers()).map((x) => x.nodeId)).toEqual(['89e92ceee5']);
    } finally {
      await local.close();
    }
  });

  it('zerotier - unexpected JSON from the service is OIS_ERR_ZT_PROTOCOL', async () => {
    fake = await startFakeLocal({ token: TOKEN, nodeId: NODE });
    const local = await openLocalService({ env: await envFor(fake) });
    try {
      // Wrong shapes are deliberate here: take them out of the spec check.
      fake.script.push({ status: 200, body: ['not', 'a', 'status'] });
      const err = await caught(local.status());
      expect(err.code).toBe('OIS_ERR_ZT_PROTOCOL');
      fake.script.push({ status: 200, body: { nope: true } });
      expect((await caught(local.networks())).code).toBe('OIS_ERR_ZT_PROTOCOL');
    } finally {
      await local.close();
    }
    expect(fake.violations.length).toBeGreaterThan(0);
    fake.violations.length = 0;
  });

  it("zerotier - the controller's member list is an object {nodeId: revision}; records come one by one", async () => {
    const CNET = `${NODE}000042`;
    fake = await startFakeLocal({
      token: TOKEN,
      nodeId: NODE,
      peers: { '89e92ceee5': { latency: 3, paths: [{ address: '198.51.100.4/9993', active: true }] } },
      controller: {
        [CNET]: {
          '89e92ceee5': { authorized: true, name: 'beta', ipAssignments: ['10.147.17.9', '10.147.18.9'] },
          '0011223344': { authorized: false },
        },
      },
    });
    const local = await openLocalService({ env: await envFor(fake) });
    try {
      expect(await local.hostsNetwork(CNET)).toBe(true);
      const members = await local.controllerMembers(CNET);
      expect(members).toEqual([
        expect.objectContaining({ nodeId: '0011223344', authorized: false, name: null, online: false }),
        expect.objectContaining({
          nodeId: '89e92ceee5',
          authorized: true,
          name: 'beta',
          ipAssignments: ['10.147.17.9', '10.147.18.9'],
          lastSeen: null,
          online: true,
        }),
      ]);
      const m = await local.authorizeControllerMember(CNET, '0011223344', 'gamma');
      expect(m).toMatchObject({ authorized: true, name: 'gamma' });
      const post = fake.requests.find((r) => r.method === 'POST')!;
      expect(post.body).toEqual({ authorized: true, name: 'gamma' });
      expect(await local.controllerMember(CNET, '9999999999')).toBeNull();
    } finally {
      await local.close();
    }
  });
});
