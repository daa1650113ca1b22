import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHeader } from '../src/federation/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { makeTeam, type TestTeam } from './helpers/team.js';
import {
  ALPHA_NODE,
  BETA_NODE,
  type FakeCentral,
  type FakeLocalService,
  NET,
  startTeamNetwork,
} from './helpers/zerotier-fakes.js';

const LOCAL_TOKEN = 'zt1-local-token-integration';
const CENTRAL_TOKEN = 'central-token-integration-0123';

let team: TestTeam | undefined;
let local: FakeLocalService | undefined;
let central: FakeCentral | undefined;
afterEach(async () => {
  for (const f of [local, central]) {
    if (f) expect(f.violations).toEqual([]);
    await f?.close();
  }
  local = central = undefined;
  await team?.close();
  team = undefined;
});

async function zerotierEnv(betaIp: string): Promise<Record<string, string>> {
  const network = await startTeamNetwork({
    localToken: LOCAL_TOKEN,
    centralToken: CENTRAL_TOKEN,
    betaIp,
    betaAuthorized: true,
  });
  local = network.local;
  central = network.central;
  return network.env;
}

describe('zerotier - wired into init, join, send and doctor', () => {
  it('zerotier - init --zerotier-network records the network; join records this node and its address', async () => {
    team = await makeTeam(['alpha']);
    const env = await zerotierEnv('10.147.17.60');
    const a = team.agents.alpha!;
    expect((await a.ois(['init', '--zerotier-network', NET], { env })).code).toBe(0);
    expect((await a.ois(['join'], { env })).code).toBe(0);
    const registry = parseRegistry(await readFile(join(team.dir, 'AGENTS.md'), 'utf8'));
    expect(registry.team).toEqual({ zerotier: { network: NET } });
    expect(registry.agents[0]!.extra.zerotier).toEqual({ nodeId: ALPHA_NODE, ip: '10.147.17.5' });
    const bad = await a.ois(['init', '--zerotier-network', 'nope'], { env });
    expect(bad.code).toBe(2);
  });

  it("zerotier - a peer whose address changed is reached at the network's current address, and AGENTS.md follows", async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    // beta's gateway listens on 127.0.0.1; AGENTS.md still has an old address, 127.0.0.3.
    const port = new URL(beta!.sim.url).port;
    const file = join(team.dir, 'AGENTS.md');
    let text = await readFile(file, 'utf8');
    text = text
      .replace(beta!.sim.url, `http://127.0.0.3:${port}`)
      .replace(
        /(name: beta\n[\s\S]*?joined: '[\d-]+')/,
        `$1\nzerotier: {nodeId: '${BETA_NODE}', ip: 127.0.0.3}`,
      );
    await writeFile(file, text);
    const env = await zerotierEnv('127.0.0.1');
    expect((await alpha!.ois(['net', 'use', NET], { env })).code).toBe(0);
    const r = await alpha!.ois(['send', 'beta', '--no-queue', 'found you'], {
      env: { ...env, OIS_SEND_RETRIES: '0' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'beta moved on the ZeroTier network (127.0.0.3 → 127.0.0.1); AGENTS.md updated',
    );
    expect(parseHeader(beta!.sim.transcript('agent:main:main')[0]!.content)?.body).toBe('found you');
    const after = parseRegistry(await readFile(file, 'utf8')).agents.find((a) => a.name === 'beta')!;
    expect(after.gateway?.url).toBe(`http://127.0.0.1:${port}`);
    expect(after.extra.zerotier).toEqual({ nodeId: BETA_NODE, ip: '127.0.0.1' });
  });

  it('zerotier - doctor reports the network checks for this instance', async () => {
    team = await makeTeam(['alpha']);
    const env = await zerotierEnv('10.147.17.60');
    const a = team.agents.alpha!;
    await a.ois(['net', 'use', NET], { env });
    const r = await a.ois(['doctor', '--json'], { env });
    const names = JSON.parse(r.stdout).checks.map((c: { name: string }) => c.name);
    expect(names).toContain('zerotier service');
    expect(names).toContain('zerotier network');
  });
});
