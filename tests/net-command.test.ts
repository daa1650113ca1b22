import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIo, CommandContext } from '../src/cli/command.js';
import { command } from '../src/cli/commands/net.js';
import { parseCommandArgs } from '../src/cli/main.js';
import { loadConfig } from '../src/config/index.js';
import { isOisError } from '../src/errors.js';
import { FsTeamStore } from '../src/team/index.js';
import { captured } from './helpers/streams.js';
import {
  ALPHA_NODE,
  BETA_NODE,
  centralMember,
  type FakeCentral,
  type FakeLocalService,
  makeNetTeam,
  NET,
  startFakeCentral,
  startFakeLocal,
  zerotierHomeFor,
} from './helpers/zerotier-fakes.js';

/**
 * `ois net` through its exported command, run in this process with a context built the way the CLI entry
 * builds it (tests/net-cli.test.ts runs it as a subprocess).
 */

const LOCAL_TOKEN = 'zt1-local-token-net';
const CENTRAL_TOKEN = 'central-token-net-0123456789';

async function runNet(
  argv: string[],
  options: { home: string; env: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = captured();
  const err = captured();
  const { stream: stdout } = out;
  const { stream: stderr } = err;
  const io: CliIo = {
    argv,
    env: { HOME: options.home, ...options.env },
    stdin: Readable.from([]),
    stdout,
    stderr,
    cwd: options.home,
  };
  const args = parseCommandArgs(command.spec, argv);
  const json = args.values.json === true;
  const config = loadConfig({ env: io.env, cwd: io.cwd, flags: { home: options.home } });
  const ctx: CommandContext = {
    io,
    args,
    json,
    config: () => config,
    initialisedConfig: () => config as never,
    team: () => new FsTeamStore(config.team!),
    print: (line) => {
      if (!json) stdout.write(`${line}\n`);
    },
    printJson: (value) => {
      stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    warn: (message, hint) => {
      stderr.write(`warning: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
    },
    runCommand: async () => {
      throw new Error('no nested command in this test');
    },
  };
  let code: number;
  try {
    code = (await command.run(ctx)) ?? 0;
  } catch (e) {
    if (!isOisError(e)) throw e;
    stderr.write(`error ${e.code}: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
    code = e.exitCode;
  }
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}

let local: FakeLocalService | undefined;
let central: FakeCentral | undefined;
afterEach(async () => {
  for (const f of [local, central]) {
    if (f) expect(f.violations).toEqual([]);
    await f?.close();
  }
  local = undefined;
  central = undefined;
});

async function zerotierEnv(
  options: { joined?: string | null; central?: boolean; controller?: boolean } = {},
) {
  local = await startFakeLocal({
    token: LOCAL_TOKEN,
    nodeId: options.controller ? NET.slice(0, 10) : ALPHA_NODE,
    networks:
      options.joined === null
        ? {}
        : { [NET]: { status: options.joined ?? 'OK', assignedAddresses: ['10.147.17.5/24'] } },
    peers: { [BETA_NODE]: { latency: 9, paths: [{ address: '198.51.100.4/9993', active: true }] } },
    controller: options.controller
      ? { [NET]: { [BETA_NODE]: { authorized: false }, ffeeddccbb: { authorized: true, name: 'printer' } } }
      : {},
  });
  const env: Record<string, string> = { ZEROTIER_HOME: await zerotierHomeFor(local, LOCAL_TOKEN) };
  if (options.central) {
    central = await startFakeCentral({
      token: CENTRAL_TOKEN,
      networks: {
        [NET]: {
          members: {
            [ALPHA_NODE]: centralMember(NET, ALPHA_NODE, {
              name: 'alpha',
              config: { authorized: true, ipAssignments: ['10.147.17.5'] },
            }),
            [BETA_NODE]: centralMember(NET, BETA_NODE, {
              lastSeen: Date.now() - 3_600_000,
              config: { authorized: false, ipAssignments: ['10.147.17.60', '10.147.18.60'] },
            }),
            '1234512345': centralMember(NET, '1234512345', { name: null, description: null, lastSeen: null }),
          },
        },
      },
    });
    env.ZEROTIER_CENTRAL_URL = central.url;
    env.ZEROTIER_API_TOKEN = CENTRAL_TOKEN;
  }
  return env;
}

describe('net - the ois net command (in process)', () => {
  it('net - use records the network id in AGENTS.md and rejects a malformed id', async () => {
    const team = await makeNetTeam(false);
    const before = await readFile(team.agentsFile, 'utf8');
    const bad = await runNet(['use', 'not-an-id'], { home: team.homes.alpha!, env: {} });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('OIS_ERR_USAGE');
    expect(await readFile(team.agentsFile, 'utf8')).toBe(before);

    const ok = await runNet(['use', NET.toUpperCase(), '--json'], { home: team.homes.alpha!, env: {} });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, network: NET });
    const after = await readFile(team.agentsFile, 'utf8');
    expect(after).toContain(`\`\`\`yaml ois-team\nzerotier: {network: ${NET}}\n\`\`\``);
    // Everything else byte for byte.
    expect(after.replace(/```yaml ois-team\n[^`]*```\n\n/, '')).toBe(before);
  });

  it('net - status reports node, online, joined, status and addresses', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv();
    const r = await runNet(['status', '--json'], { home: team.homes.alpha!, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      service: { running: true, nodeId: ALPHA_NODE, online: true },
      network: { id: NET, joined: true, status: 'OK', addresses: ['10.147.17.5'] },
      problem: null,
    });
    const text = await runNet(['status'], { home: team.homes.alpha!, env });
    expect(text.stdout).toMatch(/^joined\s+yes$/m);
    expect(text.stdout).toMatch(/^addresses\s+10\.147\.17\.5$/m);
  });

  it('net - status names the problem: not joined, ACCESS_DENIED, not running', async () => {
    const team = await makeNetTeam();
    let env = await zerotierEnv({ joined: null });
    let r = await runNet(['status', '--json'], { home: team.homes.beta!, env });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).problem.code).toBe('OIS_ERR_ZT_NOT_JOINED');
    await local!.close();

    env = await zerotierEnv({ joined: 'ACCESS_DENIED' });
    r = await runNet(['status'], { home: team.homes.beta!, env });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^status\s+ACCESS_DENIED$/m);
    expect(r.stderr).toContain('ois net authorize beta');
    await local!.close();
    r = await runNet(['status', '--json'], { home: team.homes.beta!, env });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      service: { running: false },
      problem: { code: 'OIS_ERR_ZT_NOT_RUNNING' },
    });
  });

  it('net - members from Central are mapped to agents; strays are flagged', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ central: true });
    const r = await runNet(['members', '--json'], { home: team.homes.beta!, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe('central');
    expect(
      out.members.map((e: { agent: string | null; nodeId: string; flags: string[] }) => [
        e.agent,
        e.nodeId,
        e.flags,
      ]),
    ).toEqual([
      ['alpha', ALPHA_NODE, []],
      ['beta', BETA_NODE, ['not-authorized', 'address-changed']],
      [null, '1234512345', ['no-agent', 'not-authorized']],
    ]);
    expect(out.members[1].address).toMatchObject({ recordedIp: '10.147.17.6', currentIp: '10.147.17.60' });
    expect(out.members[1].member).toMatchObject({
      online: false,
      ipAssignments: ['10.147.17.60', '10.147.18.60'],
    });
    const text = await runNet(['members'], { home: team.homes.beta!, env });
    expect(text.stdout).toContain('no agent in AGENTS.md');
    expect(text.stdout).toContain('AGENTS.md says 10.147.17.6, now 10.147.17.60');
    expect(text.stdout + text.stderr).not.toContain(CENTRAL_TOKEN);
  });

  it('net - members come from the local controller without a Central token', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ controller: true });
    const r = await runNet(['members', '--json'], { home: team.homes.alpha!, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe('controller');
    expect(out.members).toEqual([
      expect.objectContaining({ agent: 'beta', nodeId: BETA_NODE, flags: ['not-authorized'] }),
      expect.objectContaining({ agent: null, nodeId: 'ffeeddccbb', flags: ['no-agent'] }),
      expect.objectContaining({ agent: 'alpha', nodeId: ALPHA_NODE, flags: ['no-member'] }),
    ]);
    expect(out.members[0].member.online).toBe(true);
  });

  it('net - members without a Central token on a node that is not the controller is OIS_ERR_ZT_TOKEN', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv();
    const r = await runNet(['members'], { home: team.homes.alpha!, env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('OIS_ERR_ZT_TOKEN');
    expect(r.stderr).toContain('ois secrets set zerotier-central --token-stdin');
  });

  it("net - authorize by an admin authorises and names the agent's node via Central", async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ central: true });
    const before = await readFile(team.agentsFile, 'utf8');
    const r = await runNet(['authorize', 'beta'], { home: team.homes.alpha!, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`authorised beta (node ${BETA_NODE}) on ${NET}`);
    const post = central!.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe(`/api/v1/network/${NET}/member/${BETA_NODE}`);
    expect(post.body).toEqual({ name: 'beta', description: 'OIS agent beta', config: { authorized: true } });
    expect(await readFile(team.agentsFile, 'utf8')).toBe(before);
  });

  it('net - authorize --node pre-authorises a node on the local controller', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ controller: true });
    const r = await runNet(['authorize', 'beta', '--node', '0A0B0C0D0E', '--json'], {
      home: team.homes.alpha!,
      env,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      source: 'controller',
      member: { nodeId: '0a0b0c0d0e', authorized: true, name: 'beta' },
    });
    expect(local!.state.controller[NET]!['0a0b0c0d0e']).toMatchObject({ authorized: true, name: 'beta' });
  });

  it('net - authorize by a non-admin is OIS_ERR_NOT_ADMIN and touches nothing', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ central: true });
    const before = await readFile(team.agentsFile, 'utf8');
    const r = await runNet(['authorize', 'alpha'], { home: team.homes.beta!, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OIS_ERR_NOT_ADMIN');
    expect(central!.requests).toHaveLength(0);
    expect(await readFile(team.agentsFile, 'utf8')).toBe(before);
  });

  it('net - a Central outage during authorize is OIS_ERR_ZT_API and the registry is unchanged', async () => {
    const team = await makeNetTeam();
    const env = await zerotierEnv({ central: true });
    const before = await readFile(team.agentsFile, 'utf8');
    central!.script.push({ status: 500, body: { type: 'internal', message: 'boom' } });
    let r = await runNet(['authorize', 'beta'], { home: team.homes.alpha!, env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('OIS_ERR_ZT_API');
    await central!.close();
    r = await runNet(['authorize', 'beta'], { home: team.homes.alpha!, env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).not.toContain(CENTRAL_TOKEN);
    expect(await readFile(team.agentsFile, 'utf8')).toBe(before);
  });

  it('net - authorize needs a network, a known agent and a node id', async () => {
    const team = await makeNetTeam(false);
    let r = await runNet(['authorize', 'beta'], { home: team.homes.alpha!, env: {} });
    expect(r.stderr).toContain('OIS_ERR_ZT_NETWORK_UNSET');
    await runNet(['use', NET], { home: team.homes.alpha!, env: {} });
    r = await runNet(['authorize', 'nobody'], { home: team.homes.alpha!, env: {} });
    expect(r.stderr).toContain('OIS_ERR_AGENT_UNKNOWN');
    r = await runNet(['authorize', 'beta', '--node', 'xyz'], { home: team.homes.alpha!, env: {} });
    expect(r.stderr).toContain('OIS_ERR_USAGE');
  });
});
