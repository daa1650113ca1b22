import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runOis } from './helpers/cli.js';
import {
  ALPHA_NODE,
  BETA_NODE,
  type FakeCentral,
  type FakeLocalService,
  makeNetTeam,
  NET,
  startTeamNetwork,
} from './helpers/zerotier-fakes.js';

/**
 * `ois net` as users run it: the real command in a subprocess, the local service and Central faked on
 * 127.0.0.1:0.
 */

const LOCAL_TOKEN = 'zt1-local-token-cli';
const CENTRAL_TOKEN = 'central-token-cli-0123456789';

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

async function fakes(status: string | null = 'OK') {
  const network = await startTeamNetwork({ localToken: LOCAL_TOKEN, centralToken: CENTRAL_TOKEN, status });
  local = network.local;
  central = network.central;
  return network.env;
}

describe('net - ois net as a subprocess', () => {
  it('net - use, then status through the real command', async () => {
    const team = await makeNetTeam(false);
    const env = await fakes();
    const use = await runOis(['--home', team.homes.alpha!, 'net', 'use', NET], { env });
    expect(use.stderr).toBe('');
    expect(use.code).toBe(0);
    expect(await readFile(team.agentsFile, 'utf8')).toContain(`zerotier: {network: ${NET}}`);
    const st = await runOis(['--home', team.homes.alpha!, 'net', 'status', '--json'], { env });
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({
      ok: true,
      service: { nodeId: ALPHA_NODE },
      network: { status: 'OK', addresses: ['10.147.17.5'] },
    });
  });

  it('net - status with ACCESS_DENIED exits 3 and tells whom to ask', async () => {
    const team = await makeNetTeam();
    const env = await fakes('ACCESS_DENIED');
    const r = await runOis(['--home', team.homes.beta!, 'net', 'status'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('OIS_ERR_ZT_ACCESS_DENIED');
    expect(r.stderr).toContain('ois net authorize beta');
  });

  it('net - members and authorize through Central; no token in any output', async () => {
    const team = await makeNetTeam();
    const env = await fakes();
    const m = await runOis(['--home', team.homes.beta!, 'net', 'members', '--json'], { env });
    expect(m.code).toBe(0);
    expect(JSON.parse(m.stdout).members.map((e: { agent: string }) => e.agent)).toEqual(['alpha', 'beta']);
    const denied = await runOis(['--home', team.homes.beta!, 'net', 'authorize', 'alpha'], { env });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('OIS_ERR_NOT_ADMIN');
    const a = await runOis(['--home', team.homes.alpha!, 'net', 'authorize', 'beta'], { env });
    expect(a.code).toBe(0);
    expect(central!.state.networks[NET]!.members[BETA_NODE]).toMatchObject({
      name: 'beta',
      description: 'OIS agent beta',
      config: expect.objectContaining({ authorized: true }),
    });
    for (const r of [m, denied, a]) expect(r.stdout + r.stderr).not.toContain(CENTRAL_TOKEN);
  });

  it('net - a Central outage fails with OIS_ERR_ZT_API and leaves AGENTS.md as it was', async () => {
    const team = await makeNetTeam();
    const env = await fakes();
    const before = await readFile(team.agentsFile, 'utf8');
    central!.script.push({ status: 500, body: { type: 'internal', message: 'boom' } });
    const r = await runOis(['--home', team.homes.alpha!, 'net', 'authorize', 'beta', '--json'], { env });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'OIS_ERR_ZT_API' } });
    expect(await readFile(team.agentsFile, 'utf8')).toBe(before);
  });
});
