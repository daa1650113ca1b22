import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOisError } from '../src/errors.js';
import {
  backoffDelay,
  DEFAULT_OUTBOX_TTL_MS,
  type EnqueueInput,
  Outbox,
  type OutboxOptions,
  outboxPath,
} from '../src/federation/outbox.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
const LEASE = 60_000;

let home: string;
let clock: number;
const opened: Outbox[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ois-outbox-'));
  clock = T0;
});

afterEach(async () => {
  for (const o of opened.splice(0)) o.close();
  await rm(home, { recursive: true, force: true });
});

function open(options: OutboxOptions = {}): Outbox {
  const o = Outbox.open(home, { now: () => clock, ...options });
  opened.push(o);
  return o;
}

function msg(id: string, peer = 'beta', extra: Partial<EnqueueInput> = {}): EnqueueInput {
  return { id, peer, payload: JSON.stringify({ text: `hello ${id}` }), mode: 'federated', ...extra };
}

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isOisError(thrown), String(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

describe('outbox - store', () => {
  it('outbox - enqueue, claim and deliver', () => {
    const outbox = open();
    const m = outbox.enqueue(msg('m1', 'beta', { mode: 'direct' }));
    expect(m).toMatchObject({
      id: 'm1',
      peer: 'beta',
      mode: 'direct',
      state: 'queued',
      attempts: 0,
      createdAt: T0,
      nextAttemptAt: T0,
      expiresAt: T0 + DEFAULT_OUTBOX_TTL_MS,
      lastError: null,
      deadReason: null,
    });
    expect(m.payload).toBe(JSON.stringify({ text: 'hello m1' }));
    expect(outbox.counts()).toEqual({ queued: 1, inflight: 0, dead: 0 });

    const claimed = outbox.claimDue(10, LEASE);
    expect(claimed.map((c) => c.id)).toEqual(['m1']);
    expect(claimed[0]).toMatchObject({ state: 'inflight', attempts: 1, leaseUntil: T0 + LEASE });
    // A claimed message is not handed out twice.
    expect(outbox.claimDue(10, LEASE)).toEqual([]);
    expect(outbox.counts()).toEqual({ queued: 0, inflight: 1, dead: 0 });

    expect(outbox.markDelivered('m1')).toMatchObject({ state: 'delivered', leaseUntil: null });
    expect(outbox.counts()).toEqual({ queued: 0, inflight: 0, dead: 0 });
    expect(outbox.list()).toEqual([]);
    expect(outbox.list({ state: 'delivered' }).map((d) => d.id)).toEqual(['m1']);
    // Unknown ids are values, not errors, for the daemon's reports (the user may have dropped it meanwhile).
    expect(outbox.markDelivered('nope')).toBeNull();
    expect(outbox.markFailed('nope', 'x')).toBeNull();
  });

  it('outbox - enqueue is idempotent on the id, also after delivery, until delivered ones are purged', () => {
    const outbox = open({ keepDeliveredMs: 60 * 60_000 });
    outbox.enqueue(msg('m1'));
    const again = outbox.enqueue(msg('m1', 'gamma', { payload: '{"other":true}' }));
    expect(again).toMatchObject({ peer: 'beta', payload: JSON.stringify({ text: 'hello m1' }) });
    expect(outbox.list()).toHaveLength(1);

    outbox.claimDue();
    outbox.markDelivered('m1');
    clock += 30 * 60_000;
    // A sender retrying a message that was delivered does not queue it again.
    expect(outbox.enqueue(msg('m1')).state).toBe('delivered');
    expect(outbox.claimDue()).toEqual([]);

    clock += 31 * 60_000;
    outbox.claimDue(); // housekeeping purges delivered messages older than keepDeliveredMs
    expect(outbox.list({ state: 'delivered' })).toEqual([]);
    expect(outbox.enqueue(msg('m1')).state).toBe('queued');
  });

  it("outbox - per-peer order: a peer's later message waits while its first is queued or inflight; other peers are not held up", () => {
    const outbox = open({ random: () => 0.5 });
    outbox.enqueue(msg('a1', 'alpha'));
    outbox.enqueue(msg('a2', 'alpha'));
    outbox.enqueue(msg('b1', 'beta'));
    outbox.enqueue(msg('b2', 'beta'));

    // One per peer: the oldest.
    expect(
      outbox
        .claimDue(10, LEASE)
        .map((m) => m.id)
        .sort(),
    ).toEqual(['a1', 'b1']);
    // a1 is inflight: a2 waits; b1 delivered: b2 goes.
    outbox.markDelivered('b1');
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['b2']);

    // a1 fails and is queued again with a backoff: a2 still waits behind it, even though a2 itself is due.
    const failed = outbox.markFailed('a1', 'connection refused');
    expect(failed).toMatchObject({ state: 'queued', lastError: 'connection refused' });
    expect(failed!.nextAttemptAt).toBe(clock + 500);
    clock = failed!.nextAttemptAt - 1;
    expect(outbox.claimDue(10, LEASE)).toEqual([]);
    clock = failed!.nextAttemptAt;
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['a1']);
    outbox.markDelivered('a1');
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['a2']);

    // Peer names compare case-insensitively, like agent names.
    outbox.enqueue(msg('g1', 'Gamma'));
    outbox.enqueue(msg('g2', 'gamma'));
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['g1']);
    expect(outbox.list({ peer: 'GAMMA' }).map((m) => m.id)).toEqual(['g1', 'g2']);
  });

  it('outbox - a dead head no longer holds its peer up; the limit picks the longest-waiting peers first', () => {
    const outbox = open();
    outbox.enqueue(msg('a1', 'alpha'));
    outbox.enqueue(msg('a2', 'alpha'));
    outbox.claimDue(10, LEASE);
    outbox.markFailed('a1', 'signature rejected', { permanent: true });
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['a2']);

    outbox.enqueue(msg('c1', 'carol'));
    clock += 10;
    outbox.enqueue(msg('d1', 'dave'));
    expect(outbox.claimDue(1, LEASE).map((m) => m.id)).toEqual(['c1']);
    expect(outbox.claimDue(1, LEASE).map((m) => m.id)).toEqual(['d1']);
  });

  it('outbox - backoff grows exponentially with full jitter, within its bounds, up to the cap', () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 300_000 };
    // The ceiling doubles per attempt: the top of the jitter range shows it.
    const top = [1, 2, 3, 4, 5, 8, 9, 10, 30].map((n) => backoffDelay(n, policy, () => 0.999999));
    expect(top).toEqual([999, 1999, 3999, 7999, 15999, 127999, 255999, 299999, 299999]);
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(4000);
    for (let n = 1; n <= 40; n++) {
      const d = backoffDelay(n, policy);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(300_000, 1000 * 2 ** (n - 1)));
    }

    // Through the outbox, with real randomness: each wait is within [0, ceiling) and they spread out.
    const outbox = open({ baseDelayMs: 100, maxDelayMs: 1600 });
    outbox.enqueue(msg('m1'));
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      const [claimed] = outbox.claimDue(10, LEASE);
      expect(claimed).toMatchObject({ id: 'm1', attempts: attempt });
      const failed = outbox.markFailed('m1', `refused ${attempt}`)!;
      const wait = failed.nextAttemptAt - clock;
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(Math.min(1600, 100 * 2 ** (attempt - 1)));
      waits.push(wait);
      clock = failed.nextAttemptAt;
    }
    expect(new Set(waits).size).toBeGreaterThan(1);

    // Retry-After from the peer is honoured as a minimum.
    outbox.claimDue(10, LEASE);
    const asked = outbox.markFailed('m1', '429', { retryAfterMs: 60_000 })!;
    expect(asked.nextAttemptAt - clock).toBeGreaterThanOrEqual(60_000);
  });

  it('outbox - past its TTL a message becomes a dead letter with the reason', () => {
    const outbox = open({ baseDelayMs: 1000, maxDelayMs: 1000, random: () => 0.5 });
    outbox.enqueue(msg('m1', 'beta', { ttlMs: 10_000 }));
    outbox.enqueue(msg('m2', 'gamma', { ttlMs: 10_000 }));
    outbox.claimDue(10, LEASE);
    outbox.markFailed('m1', 'connection refused');
    // m2's attempt never reports back; its lease lapses after its TTL.
    clock += 10_000;
    // A queued message past its TTL is not claimed but dies.
    expect(outbox.claimDue(10, LEASE)).toEqual([]);
    const [dead] = outbox.list({ state: 'dead', peer: 'beta' });
    expect(dead).toMatchObject({ id: 'm1', state: 'dead', lastError: 'connection refused' });
    expect(dead!.deadReason).toMatch(
      /^expired: not delivered within its TTL after 1 attempt\(s\); last error: connection refused$/,
    );

    // An inflight message that fails after its TTL also dies, with that failure as the reason.
    clock = T0 + 11_000;
    outbox.enqueue(msg('m3', 'dave', { ttlMs: 5000 }));
    outbox.claimDue(10, LEASE);
    clock += 6000;
    const failed = outbox.markFailed('m3', 'timed out');
    expect(failed).toMatchObject({ state: 'dead', lastError: 'timed out' });
    expect(failed!.deadReason).toContain('expired');
    expect(failed!.deadReason).toContain('timed out');
    expect(outbox.counts().dead).toBe(2);
    // m2's claim never reported back; once its lease lapses (after its TTL) it dies, saying so.
    clock = T0 + LEASE;
    expect(outbox.list({ state: 'dead', peer: 'gamma' })[0]!.deadReason).toMatch(
      /^expired: .*after 1 attempt\(s\); last error: attempt 1 did not report back/,
    );
    // A message is never given up before its TTL: the last backoff is cut to end just before it.
    outbox.enqueue(msg('m4', 'erin', { ttlMs: 1500 }));
    outbox.claimDue(10, LEASE);
    const last = outbox.markFailed('m4', 'refused')!;
    expect(last.state).toBe('queued');
    expect(last.nextAttemptAt).toBeLessThan(last.expiresAt);
  });

  it('outbox - a permanent failure makes a dead letter at once', () => {
    const outbox = open();
    outbox.enqueue(msg('m1'));
    outbox.claimDue(10, LEASE);
    const dead = outbox.markFailed('m1', 'OIS_ERR_PEER_AUTH: signature rejected', { permanent: true });
    expect(dead).toMatchObject({
      state: 'dead',
      deadReason: 'rejected: OIS_ERR_PEER_AUTH: signature rejected',
      lastError: 'OIS_ERR_PEER_AUTH: signature rejected',
    });
    expect(outbox.claimDue(10, LEASE)).toEqual([]);
    // A late report does not bring a dead or delivered message back.
    expect(outbox.markFailed('m1', 'later')).toMatchObject({
      state: 'dead',
      lastError: 'OIS_ERR_PEER_AUTH: signature rejected',
    });
  });

  it('outbox - retry makes a message due now, revives a dead letter; drop removes; unknown ids are errors', () => {
    const outbox = open({ random: () => 0.9 });
    outbox.enqueue(msg('q1'));
    outbox.enqueue(msg('d1', 'gamma', { ttlMs: 5000 }));
    outbox.claimDue(10, LEASE);
    const waiting = outbox.markFailed('q1', 'refused')!;
    expect(waiting.nextAttemptAt).toBeGreaterThan(clock);
    expect(outbox.retryNow('q1')).toMatchObject({ state: 'queued', nextAttemptAt: clock });
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['q1']);
    // Inflight: already being tried; unchanged.
    expect(outbox.retryNow('q1').state).toBe('inflight');
    outbox.markDelivered('q1');
    expectCode(() => outbox.retryNow('q1'), 'OIS_ERR_USAGE');

    outbox.markFailed('d1', 'bad signature', { permanent: true });
    clock += 60_000; // well past d1's TTL: a revived dead letter gets a fresh one
    const revived = outbox.retryNow('d1');
    expect(revived).toMatchObject({
      state: 'queued',
      attempts: 0,
      deadReason: null,
      nextAttemptAt: clock,
      expiresAt: clock + 5000,
    });
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['d1']);

    expect(outbox.drop('d1')).toMatchObject({ id: 'd1', state: 'inflight' });
    expect(outbox.list()).toEqual([]);
    expect(outbox.markDelivered('d1')).toBeNull();
    expectCode(() => outbox.drop('d1'), 'OIS_ERR_OUTBOX_NOT_FOUND');
    expectCode(() => outbox.retryNow('nope'), 'OIS_ERR_OUTBOX_NOT_FOUND');
  });

  it('outbox - wakePeer makes every queued message of that peer due now, and nobody else', () => {
    const outbox = open({ random: () => 0.9 });
    outbox.enqueue(msg('b1', 'beta'));
    outbox.enqueue(msg('b2', 'beta'));
    outbox.enqueue(msg('g1', 'gamma'));
    outbox.claimDue(10, LEASE);
    const b1 = outbox.markFailed('b1', 'refused')!;
    const g1 = outbox.markFailed('g1', 'refused')!;
    expect(b1.nextAttemptAt).toBeGreaterThan(clock);
    expect(outbox.claimDue(10, LEASE)).toEqual([]);

    expect(outbox.wakePeer('BETA')).toBe(1); // b2 was due already
    expect(outbox.list({ peer: 'gamma' })[0]!.nextAttemptAt).toBe(g1.nextAttemptAt);
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['b1']);
    expect(outbox.wakePeer('nobody')).toBe(0);
  });

  it('outbox - a lapsed lease puts an inflight message back in the queue: a crashed claim is retried, never lost', () => {
    const outbox = open();
    outbox.enqueue(msg('m1'));
    outbox.enqueue(msg('m2'));
    const [first] = outbox.claimDue(10, 30_000);
    expect(first).toMatchObject({ id: 'm1', attempts: 1 });
    // The claimer "dies": no report. Before the lease ends nothing is handed out again.
    clock += 29_999;
    expect(outbox.claimDue(10, 30_000)).toEqual([]);
    clock += 1;
    // Another process (a restarted daemon) opens the outbox and takes the message over, in order.
    const other = open();
    const [again] = other.claimDue(10, 30_000);
    expect(again).toMatchObject({ id: 'm1', attempts: 2, state: 'inflight' });
    expect(again!.lastError).toMatch(/did not report back/);
    other.markDelivered('m1');
    expect(other.claimDue(10, 30_000).map((m) => m.id)).toEqual(['m2']);
  });

  it('outbox - enqueue with claim hands the message to the sender unless an earlier one of its peer is pending', () => {
    const outbox = open();
    const first = outbox.enqueue(msg('m1'), { claim: true, leaseMs: 10_000 });
    expect(first).toMatchObject({ state: 'inflight', attempts: 1, leaseUntil: T0 + 10_000 });
    // The daemon does not take it while the sender is trying it.
    expect(outbox.claimDue(10, LEASE)).toEqual([]);
    const second = outbox.enqueue(msg('m2'), { claim: true });
    expect(second).toMatchObject({ state: 'queued', attempts: 0 });
    expect(outbox.enqueue(msg('g1', 'gamma'), { claim: true }).state).toBe('inflight');
    // An existing id is never claimed a second time.
    expect(outbox.enqueue(msg('m1'), { claim: true })).toMatchObject({ state: 'inflight', attempts: 1 });
    outbox.markDelivered('m1');
    expect(outbox.claimDue(10, LEASE).map((m) => m.id)).toEqual(['m2']);
  });

  it('outbox - a corrupt database file is set aside, never lost, and a fresh outbox works', async () => {
    const file = outboxPath(home);
    const garbage = Buffer.from(`${'this is not an SQLite database\n'.repeat(200)}`);
    await writeFile(file, garbage);

    const outbox = open();
    expect(outbox.recovered).not.toBeNull();
    expect(outbox.recovered!.code).toBe('OIS_ERR_OUTBOX_CORRUPT');
    const setAside = outbox.recovered!.details!.setAside as string;
    expect(setAside).toMatch(/outbox\.db\.corrupt-2026-11-21T12-00-00-000Z$/);
    expect(await readFile(setAside)).toEqual(garbage);

    outbox.enqueue(msg('m1'));
    expect(outbox.claimDue().map((m) => m.id)).toEqual(['m1']);
    outbox.close();
    expect(open().recovered).toBeNull();
    expect((await readdir(home)).filter((f) => f.includes('.corrupt-'))).toHaveLength(1);
  });

  it('outbox - damage inside an otherwise valid database is found at open and set aside too', async () => {
    const first = open();
    for (let n = 0; n < 300; n++) first.enqueue(msg(`m${n}`, `peer-${n % 7}`, { payload: 'x'.repeat(500) }));
    first.close();
    const file = outboxPath(home);
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(8 * 4096);
    // Keep the 100-byte header, trash pages further in.
    const bytes = await readFile(file);
    bytes.fill(0xa5, 4096 * 3, 4096 * 6);
    await writeFile(file, bytes);

    const outbox = open();
    expect(outbox.recovered?.code).toBe('OIS_ERR_OUTBOX_CORRUPT');
    expect(outbox.list()).toEqual([]);
    expect((await readFile(outbox.recovered!.details!.setAside as string)).equals(bytes)).toBe(true);
  });
});
