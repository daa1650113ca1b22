import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/cli/command.js';
import { command, duration } from '../src/cli/commands/outbox.js';
import { parseCommandArgs } from '../src/cli/main.js';
import type { InstanceConfig } from '../src/config/index.js';
import { isOisError } from '../src/errors.js';
import { Outbox, outboxPath } from '../src/federation/outbox.js';
import { captured } from './helpers/streams.js';

// `ois outbox` run in-process through a small context of its own (the command is not in the commands index
// yet; tests/outbox-cli.test.ts runs the real `ois outbox` once it is).

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ois-outbox-cmd-'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function run(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string; error?: unknown }> {
  const out = captured();
  const err = captured();
  const { stream: stdout } = out;
  const { stream: stderr } = err;
  const args = parseCommandArgs(command.spec, argv);
  const json = args.values.json === true;
  const ctx: CommandContext = {
    io: { argv, env: {}, stdin: new PassThrough(), stdout, stderr, cwd: home },
    args,
    json,
    config: () => ({ home }) as InstanceConfig,
    initialisedConfig: () => {
      throw new Error('not used by ois outbox');
    },
    team: () => {
      throw new Error('not used by ois outbox');
    },
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
  try {
    const code = (await command.run(ctx)) ?? 0;
    return { code, stdout: out.text(), stderr: err.text() };
  } catch (error) {
    return { code: isOisError(error) ? error.exitCode : 1, stdout: out.text(), stderr: err.text(), error };
  }
}

function seed(): void {
  let clock = Date.now() - 5 * 60_000;
  const outbox = Outbox.open(home, { now: () => clock, random: () => 0.5 });
  try {
    outbox.enqueue({ id: '01JQUEUED0000000000000000A', peer: 'beta', payload: '{"n":1}', mode: 'federated' });
    outbox.enqueue({ id: '01JQUEUED0000000000000000B', peer: 'beta', payload: '{"n":2}', mode: 'federated' });
    outbox.enqueue({ id: '01JDEAD000000000000000000C', peer: 'gamma', payload: '{"n":3}', mode: 'direct' });
    outbox.claimDue();
    outbox.markFailed('01JQUEUED0000000000000000A', 'connection refused');
    outbox.markFailed('01JDEAD000000000000000000C', 'signature rejected', { permanent: true });
    clock = Date.now();
  } finally {
    outbox.close();
  }
}

describe('outbox - command', () => {
  it('outbox - ls on an instance without an outbox says it is empty and creates nothing', async () => {
    for (const argv of [[], ['ls'], ['ls', '--dead']]) {
      const r = await run(argv);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^(the outbox is empty|no dead letters)/);
    }
    const json = await run(['--json']);
    expect(JSON.parse(json.stdout)).toEqual({ messages: [], counts: { queued: 0, inflight: 0, dead: 0 } });
    expect(existsSync(outboxPath(home))).toBe(false);
  });

  it('outbox - ls shows the waiting messages, --dead the dead letters with their reason', async () => {
    seed();
    const r = await run(['ls']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+PEER\s+STATE\s+ATTEMPTS\s+AGE\s+NEXT ATTEMPT$/);
    expect(lines[1]).toMatch(
      /^01JQUEUED0000000000000000A\s+beta\s+queued\s+1\s+5m\s+due now \(last: connection refused\)$/,
    );
    expect(lines[2]).toMatch(/^01JQUEUED0000000000000000B\s+beta\s+queued\s+0\s+5m\s+due now$/);
    expect(lines[3]).toBe('1 dead letter(s), not retried: ois outbox ls --dead');
    expect(lines).toHaveLength(4);

    const dead = await run(['ls', '--dead']);
    expect(dead.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^ID\s+PEER\s+STATE\s+ATTEMPTS\s+AGE\s+REASON$/),
      expect.stringMatching(
        /^01JDEAD000000000000000000C\s+gamma\s+dead\s+1\s+5m\s+rejected: signature rejected$/,
      ),
    ]);

    const json = JSON.parse((await run(['ls', '--json'])).stdout);
    expect(json.counts).toEqual({ queued: 2, inflight: 0, dead: 1 });
    expect(json.messages.map((m: { id: string }) => m.id)).toEqual([
      '01JQUEUED0000000000000000A',
      '01JQUEUED0000000000000000B',
    ]);
    expect(json.messages[0]).toMatchObject({
      peer: 'beta',
      state: 'queued',
      payload: '{"n":1}',
      attempts: 1,
    });
  });

  it('outbox - retry puts a dead letter back in the queue; drop removes a message; unknown ids exit 2', async () => {
    seed();
    const retried = await run(['retry', '01JDEAD000000000000000000C']);
    expect(retried).toMatchObject({ code: 0, stderr: '' });
    expect(retried.stdout).toBe(
      '01JDEAD000000000000000000C to gamma is due now, but nothing sends it: this instance is not set up (ois init) and runs no daemon\n',
    );
    const dropped = await run(['drop', '01JQUEUED0000000000000000B', '--json']);
    expect(JSON.parse(dropped.stdout)).toMatchObject({
      ok: true,
      action: 'drop',
      message: { id: '01JQUEUED0000000000000000B', peer: 'beta' },
    });
    const outbox = Outbox.open(home);
    try {
      expect(outbox.list().map((m) => [m.id, m.state])).toEqual([
        ['01JQUEUED0000000000000000A', 'queued'],
        ['01JDEAD000000000000000000C', 'queued'],
      ]);
    } finally {
      outbox.close();
    }

    for (const argv of [
      ['drop', '01JQUEUED0000000000000000B'],
      ['retry', 'NOPE'],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(isOisError(r.error, 'OIS_ERR_OUTBOX_NOT_FOUND')).toBe(true);
    }
  });

  it('outbox - retry or drop with no outbox at all is "not found", and creates none', async () => {
    const r = await run(['drop', 'X']);
    expect(isOisError(r.error, 'OIS_ERR_OUTBOX_NOT_FOUND')).toBe(true);
    expect(existsSync(outboxPath(home))).toBe(false);
  });

  it('outbox - usage errors: unknown subcommand, missing ID, --dead outside ls', async () => {
    for (const argv of [['frob'], ['retry'], ['drop', 'X', '--dead'], ['ls', 'X']]) {
      const r = await run(argv);
      expect(isOisError(r.error, 'OIS_ERR_USAGE'), argv.join(' ')).toBe(true);
      expect(r.code).toBe(2);
    }
    expect(() => parseCommandArgs(command.spec, ['retry', 'a', 'b'])).toThrow(/unexpected argument "b"/);
  });

  it('outbox - a corrupt outbox is reported as a warning, set aside, and ls goes on', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(outboxPath(home), 'garbage, not a database '.repeat(100));
    const r = await run(['ls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('the outbox is empty: nothing waits for delivery\n');
    expect(r.stderr).toMatch(
      /^warning: the outbox .* was damaged; it was set aside as .*outbox\.db\.corrupt-/,
    );
  });

  it('outbox - durations read short', () => {
    expect(
      [0, 44_600, 60_000, 12 * 60_000, 3 * 3600_000, 3 * 3600_000 + 5 * 60_000, 50 * 3600_000].map(duration),
    ).toEqual(['0s', '45s', '1m', '12m', '3h', '3h 5m', '2d 2h']);
  });
});
