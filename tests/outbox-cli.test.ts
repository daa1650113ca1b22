import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../src/federation/outbox.js';
import { runOis, tempDir } from './helpers/cli.js';

// The real `ois outbox` as a subprocess (the compiled dist/); tests/outbox-command.test.ts covers the
// command in-process.

let home: string;

beforeEach(async () => {
  home = await tempDir('ois-outbox-cli-');
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

function seed(): void {
  const outbox = Outbox.open(home);
  try {
    outbox.enqueue({ id: '01JCLIQUEUED00000000000001', peer: 'beta', payload: '{}', mode: 'federated' });
    outbox.enqueue({ id: '01JCLIDEAD0000000000000002', peer: 'gamma', payload: '{}', mode: 'direct' });
    outbox.claimDue();
    outbox.markFailed('01JCLIQUEUED00000000000001', 'connection refused');
    outbox.markFailed('01JCLIDEAD0000000000000002', 'signature rejected', { permanent: true });
  } finally {
    outbox.close();
  }
}

describe('outbox - cli', () => {
  it('outbox - ois outbox lists the waiting messages, --dead the dead letters, --json one document', async () => {
    seed();
    const ls = await runOis(['outbox', '--home', home]);
    expect(ls).toMatchObject({ code: 0, stderr: '' });
    expect(ls.stdout).toMatch(
      /^ID\s+PEER\s+STATE\s+ATTEMPTS\s+AGE\s+NEXT ATTEMPT\n01JCLIQUEUED00000000000001\s+beta\s+queued\s+1\s+/,
    );
    expect(ls.stdout).toContain('(last: connection refused)');
    expect(ls.stdout).toContain('1 dead letter(s), not retried: ois outbox ls --dead');

    const dead = await runOis(['outbox', 'ls', '--dead', '--home', home]);
    expect(dead.stdout).toMatch(
      /01JCLIDEAD0000000000000002\s+gamma\s+dead\s+1\s+\S+\s+rejected: signature rejected\n$/,
    );

    const json = await runOis(['outbox', 'ls', '--json', '--home', home]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      messages: [{ id: '01JCLIQUEUED00000000000001', state: 'queued' }],
      counts: { queued: 1, inflight: 0, dead: 1 },
    });
  });

  it('outbox - ois outbox retry and drop act on one message; an unknown id exits 2 with its code', async () => {
    seed();
    const retry = await runOis(['outbox', 'retry', '01JCLIDEAD0000000000000002', '--home', home]);
    expect(retry).toMatchObject({ code: 0, stderr: '' });
    expect(retry.stdout).toContain('is due now');
    const drop = await runOis(['outbox', 'drop', '01JCLIQUEUED00000000000001', '--home', home]);
    expect(drop.code).toBe(0);
    const left = await runOis(['outbox', '--json', '--home', home]);
    expect(JSON.parse(left.stdout).messages.map((m: { id: string }) => m.id)).toEqual([
      '01JCLIDEAD0000000000000002',
    ]);

    const unknown = await runOis(['outbox', 'drop', '01JCLIQUEUED00000000000001', '--home', home]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error OIS_ERR_OUTBOX_NOT_FOUND: /);
    const usage = await runOis(['outbox', 'retry', '--home', home]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error OIS_ERR_USAGE: /);
  });
});
