import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, outboxPath } from '../src/federation/outbox.js';

// Real OS processes running the compiled outbox (dist/, built by vitest's globalSetup), as `ois send` and the
// daemon do: SQLite's locking between processes, and what survives SIGKILL, cannot be tested in one process.
const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'outbox-worker.mjs');

let home: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ois-outbox-proc-'));
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(home, { recursive: true, force: true });
});

interface Worker {
  child: ChildProcess;
  /** Every complete line printed so far. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startWorker(args: string[], onLine?: (line: string, w: Worker) => void): Worker {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const w: Worker = { child, lines: [], exited: Promise.resolve({ code: null, signal: null, stderr: '' }) };
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      w.lines.push(line);
      onLine?.(line, w);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  w.exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return w;
}

async function finished(w: Worker): Promise<void> {
  const { code, signal, stderr } = await w.exited;
  expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
}

describe('outbox - processes', () => {
  it('outbox - a sender killed with SIGKILL mid-way loses none of the messages it stored, and doubles none', async () => {
    const KILL_AFTER = 60;
    const w = startWorker(['enqueue', home, 'kill', '100000', 'beta'], (_line, worker) => {
      if (worker.lines.length === KILL_AFTER) worker.child.kill('SIGKILL');
    });
    const { signal } = await w.exited;
    expect(signal).toBe('SIGKILL');
    // It was killed in the middle, not after it had finished.
    expect(w.lines.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(w.lines.length).toBeLessThan(100000);

    const outbox = Outbox.open(home);
    try {
      expect(outbox.recovered).toBeNull();
      const stored = outbox.list().map((m) => m.id);
      // Every message whose enqueue returned is there...
      expect(stored.slice(0, w.lines.length)).toEqual(w.lines);
      // ...in order, once each; at most the one in progress at the kill is there too (committed, not printed).
      expect(new Set(stored).size).toBe(stored.length);
      expect(stored.length - w.lines.length).toBeLessThanOrEqual(1);
      expect(stored).toEqual(
        Array.from({ length: stored.length }, (_, n) => `kill-${String(n).padStart(4, '0')}`),
      );
      // And the survivor is usable: the daemon claims the first one.
      expect(outbox.claimDue().map((m) => m.id)).toEqual(['kill-0000']);
    } finally {
      outbox.close();
    }
  });

  it('outbox - two processes enqueueing at once both keep every message, each in its own order', async () => {
    const N = 200;
    // A common start time: Node's start-up alone takes longer than a few hundred enqueues.
    const go = String(Date.now() + 400);
    const a = startWorker(['enqueue', home, 'a', String(N), 'beta', go, '1']);
    const b = startWorker(['enqueue', home, 'b', String(N), 'gamma', go, '1']);
    // The same ids from a third process at the same time: idempotent, no duplicates.
    const again = startWorker(['enqueue', home, 'a', String(N), 'beta', go, '1']);
    await Promise.all([finished(a), finished(b), finished(again)]);

    const outbox = Outbox.open(home);
    try {
      const all = outbox.list();
      expect(all).toHaveLength(2 * N);
      // They really ran at the same time: their messages interleave (otherwise this tests nothing).
      const switches = all.filter((m, i) => i > 0 && m.peer !== all[i - 1]!.peer).length;
      expect(switches).toBeGreaterThan(10);
      const ids = (peer: string) => outbox.list({ peer }).map((m) => m.id);
      const expected = (p: string) =>
        Array.from({ length: N }, (_, n) => `${p}-${String(n).padStart(4, '0')}`);
      expect(ids('beta')).toEqual(expected('a'));
      expect(ids('gamma')).toEqual(expected('b'));
    } finally {
      outbox.close();
    }
  });

  it('outbox - two daemons claiming at once never hand out the same message, and deliver every one in per-peer order', async () => {
    const PEERS = 6;
    const PER_PEER = 25;
    const seed = Outbox.open(home);
    for (let n = 0; n < PER_PEER; n++) {
      for (let p = 0; p < PEERS; p++) {
        seed.enqueue({
          id: `p${p}-${String(n).padStart(3, '0')}`,
          peer: `peer-${p}`,
          payload: '{}',
          mode: 'direct',
        });
      }
    }
    seed.close();

    const go = String(Date.now() + 400);
    const one = startWorker(['claim', home, go]);
    const two = startWorker(['claim', home, go]);
    await Promise.all([finished(one), finished(two)]);

    const claimed = [...one.lines, ...two.lines];
    expect(claimed).toHaveLength(PEERS * PER_PEER);
    expect(new Set(claimed).size).toBe(claimed.length);
    // Both took part (otherwise this proves nothing about two processes).
    expect(one.lines.length).toBeGreaterThan(0);
    expect(two.lines.length).toBeGreaterThan(0);
    // Within each worker's own output, a peer's messages come in order; across the two, per-peer order holds
    // because a peer's next message is only claimable once the previous one was marked delivered.
    for (const lines of [one.lines, two.lines]) {
      for (let p = 0; p < PEERS; p++) {
        const mine = lines.filter((id) => id.startsWith(`p${p}-`));
        expect(mine).toEqual([...mine].sort());
      }
    }
    const outbox = Outbox.open(home);
    try {
      expect(outbox.counts()).toEqual({ queued: 0, inflight: 0, dead: 0 });
      expect(outbox.list({ state: 'delivered' })).toHaveLength(PEERS * PER_PEER);
      expect(outbox.list({ state: 'delivered' }).every((m) => m.attempts === 1)).toBe(true);
    } finally {
      outbox.close();
    }
  });

  it('outbox - processes opening a corrupt outbox at once set it aside once and share the new one', async () => {
    await writeFile(outboxPath(home), Buffer.alloc(16384, 0x5a));
    const go = String(Date.now() + 400);
    const workers = ['a', 'b', 'c'].map((p) => startWorker(['enqueue', home, p, '20', `peer-${p}`, go]));
    await Promise.all(workers.map(finished));

    const files = await readdir(home);
    const setAside = files.filter((f) => f.startsWith('outbox.db.corrupt-') && !/-(wal|shm)$/.test(f));
    expect(setAside).toHaveLength(1);
    const outbox = Outbox.open(home);
    try {
      expect(outbox.recovered).toBeNull();
      expect(outbox.list()).toHaveLength(60);
    } finally {
      outbox.close();
    }
  });
});
