import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runOis } from './helpers/cli.js';

describe('demo - the one-command tour', () => {
  it('demo - runs two instances end to end, queues while a peer is down, delivers when it is back, cleans up', {
    timeout: 40_000,
  }, async () => {
    const r = await runOis(['demo'], { timeoutMs: 35_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('two OpenClaw gateway SIMULATORS (not real gateways)');
    // Membership: alpha founds, beta's request reaches alpha's session, the approval reaches beta's.
    expect(r.stdout).toMatch(/founded the team in .*: alpha is its owner/);
    expect(r.stdout).toMatch(/asked to join the team as beta: pending/);
    expect(r.stdout).toMatch(
      /\[alpha's gateway simulator\] into agent:main:main:\n.*\n\s+beta asks to join the team/,
    );
    expect(r.stdout).toMatch(/approved beta: now active member\n {4}notice approved → beta delivered/);
    expect(r.stdout).toMatch(/delivered to beta in/);
    expect(r.stdout).toMatch(/delivered to alpha in/);
    expect(r.stdout).toMatch(/beta +queued +1 /);
    expect(r.stdout).toMatch(/While you were away: the build is green\./);
    expect(r.stdout).toContain('demo finished: every message arrived.');
    const dir = /Everything lives in (\S+) and is removed/.exec(r.stdout)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  });
});
