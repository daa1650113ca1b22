import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Check } from '../src/doctor/index.js';
import { OIS_BIN, type RunResult } from './helpers/cli.js';
import { makeTeam, type TestTeam } from './helpers/team.js';

let team: TestTeam | undefined;
afterEach(async () => {
  await team?.close();
  team = undefined;
});

async function doctor(t: TestTeam, args: string[] = []): Promise<{ r: RunResult; checks: Check[] }> {
  const r = await t.agents.alpha!.ois(['doctor', '--json', '--timeout', '2000', ...args]);
  return { r, checks: JSON.parse(r.stdout).checks };
}

const find = (checks: Check[], subject: string, name: string) =>
  checks.find((c) => c.subject === subject && c.name === name);

/** Every check of every subject that did not pass. */
const problems = (checks: Check[]) =>
  checks.filter((c) => c.status === 'fail').map((c) => `${c.subject}: ${c.name}`);

async function withOwnToken(t: TestTeam): Promise<void> {
  const a = t.agents.alpha!;
  expect((await a.ois(['secrets', 'set', 'alpha', '--token-stdin'], { input: a.token })).code).toBe(0);
}

describe('doctor - tells apart every way a peer can be misconfigured', () => {
  it('doctor - a healthy team passes every check, exit 0, and nothing is delivered', async () => {
    team = await makeTeam(['alpha', 'beta']);
    await withOwnToken(team);
    const { r, checks } = await doctor(team);
    expect(problems(checks)).toEqual([]);
    expect(r.code).toBe(0);
    for (const name of [
      'address',
      'gateway up',
      'gateway started',
      'token accepted',
      'sessions_send allowed',
      'session key',
      'clock',
    ]) {
      expect(find(checks, 'beta', name)?.status, name).toBe('ok');
    }
    expect(find(checks, 'this instance', 'own sessions_send allowed')?.status).toBe('ok');
    expect(team.agents.beta!.sim.transcript('agent:main:main')).toEqual([]);
    const text = await team.agents.alpha!.ois(['doctor']);
    expect(text.stdout).toMatch(/^ok +beta +token accepted +an authenticated session_status call answered$/m);
    expect(text.stdout).toContain('all checks passed');
  });

  it('doctor - peer down: the gateway-up check fails with the fix, exit 4', async () => {
    team = await makeTeam(['alpha', 'beta']);
    await team.agents.beta!.sim.close();
    const { r, checks } = await doctor(team, ['beta']);
    expect(find(checks, 'beta', 'gateway up')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_UNREACHABLE',
      detail: expect.stringContaining('connection refused'),
    });
    expect(find(checks, 'beta', 'token accepted')?.status).toBe('skip');
    expect(r.code).toBe(4);
  });

  it('doctor - wrong token: one authentication attempt only, exit 5', async () => {
    team = await makeTeam(['alpha', 'beta']);
    await team.agents.alpha!.ois(['secrets', 'set', 'beta', '--token-env', 'T'], {
      env: { T: 'wrong-wrong-wrong' },
    });
    const { r, checks } = await doctor(team, ['beta']);
    expect(find(checks, 'beta', 'token accepted')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_AUTH',
      fix: expect.stringContaining('ois secrets set beta'),
    });
    expect(find(checks, 'beta', 'sessions_send allowed')?.status).toBe('skip');
    expect(team.agents.beta!.sim.requests.filter((q) => q.path === '/tools/invoke')).toHaveLength(1);
    expect(r.stdout + r.stderr).not.toContain('wrong-wrong-wrong');
    expect(r.code).toBe(5);
  });

  it('doctor - sessions_send not allowed: the openclaw.json fix, exit 5', async () => {
    team = await makeTeam(['alpha', 'beta'], { allowSessionsSend: false });
    const { r, checks } = await doctor(team, ['beta']);
    expect(find(checks, 'beta', 'token accepted')?.status).toBe('ok');
    expect(find(checks, 'beta', 'sessions_send allowed')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_TOOL_DENIED',
      fix: expect.stringContaining('"gateway": {"tools": {"allow": ["sessions_send"]}}'),
    });
    expect(r.code).toBe(5);
  });

  it('doctor - unknown session key: says which key and how to fix it', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const file = join(team.dir, 'AGENTS.md');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        /(name: beta[\s\S]*?sessionKey: )agent:main:main/,
        '$1agent:main:work',
      ),
    );
    const { r, checks } = await doctor(team, ['beta']);
    expect(find(checks, 'beta', 'session key')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_SESSION_UNKNOWN',
      detail: expect.stringContaining('agent:main:work'),
    });
    expect(find(checks, 'beta', 'sessions_send allowed')?.status).toBe('ok');
    expect(team.agents.beta!.sim.transcript('agent:main:work')).toEqual([]);
    expect(r.code).toBe(5);
  });

  it('doctor - team folder not writable: exit 6 with the fix', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const a = team.agents.alpha!;
    await chmod(team.dir, 0o555);
    try {
      // Root writes anywhere, so as root the check runs as "nobody", who can read but not write.
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        await chmod(a.home, 0o755);
        await chmod(join(a.home, 'config.yaml'), 0o644);
      }
      const r = await new Promise<RunResult>((resolve) => {
        const child = spawn(
          process.execPath,
          [OIS_BIN, '--home', a.home, 'doctor', '--json', '--timeout', '1000'],
          {
            env: { PATH: process.env.PATH, HOME: a.home },
            ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => {
          stdout += d;
        });
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      const checks: Check[] = JSON.parse(r.stdout).checks;
      expect(find(checks, 'this instance', 'team folder')).toMatchObject({
        status: 'fail',
        code: 'OIS_ERR_TEAM_UNWRITABLE',
        fix: expect.stringContaining('write access'),
      });
      expect(r.code).toBe(6);
    } finally {
      await chmod(team.dir, 0o755);
    }
  });
});
