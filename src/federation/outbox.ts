/**
 * The durable per-instance outbox: messages that could not be delivered yet, kept in `<home>/outbox.db` until
 * they are delivered, expire (TTL) or fail for good, and then kept as dead letters with the reason.
 *
 * Why SQLite (`node:sqlite`, built into Node, no npm package): several processes of one instance use the
 * outbox at once (each `ois send`, the daemon, `ois outbox`), and a sender or the daemon may be killed with
 * SIGKILL at any moment. SQLite's transactions give exactly what a hand-made file queue would have to
 * re-invent: an enqueue that returned is on disk, a half-done one is not there at all, and two processes
 * never claim the same message. WAL mode lets readers (`ois outbox ls`) run while a writer commits, and
 * `busy_timeout` makes a writer wait for another instead of failing.
 *
 * The outbox lives in the instance home, never in the team folder: SQLite's locking is not safe on NFS/SMB,
 * and the queue belongs to one sender anyway.
 *
 * Delivered messages are kept (state `delivered`, no payload change) for `keepDeliveredMs` (default 24 h, the
 * default TTL) and then purged. Keeping them makes `enqueue` idempotent on the message id for as long as a
 * sender could plausibly retry the same message, so a retried `ois send` never re-queues a message that was
 * already delivered (no blind duplicate). `ois outbox ls` does not show them.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { OisError } from '../errors.js';

export const OUTBOX_FILE = 'outbox.db';
/** How long a message is retried before it becomes a dead letter. */
export const DEFAULT_OUTBOX_TTL_MS = 24 * 60 * 60 * 1000;
/** Backoff: the first retry waits up to this long... */
export const DEFAULT_OUTBOX_BASE_DELAY_MS = 1000;
/** ...each later one up to twice as long as the one before, but never more than this. */
export const DEFAULT_OUTBOX_MAX_DELAY_MS = 5 * 60 * 1000;
/** How long a claim holds a message before another process may take it over (see `claimDue`). */
export const DEFAULT_OUTBOX_LEASE_MS = 2 * 60 * 1000;
export const DEFAULT_OUTBOX_CLAIM_LIMIT = 32;
/** How long delivered messages are remembered, for idempotent `enqueue`. */
export const DEFAULT_OUTBOX_KEEP_DELIVERED_MS = DEFAULT_OUTBOX_TTL_MS;
/** How long a write waits for another process's write to finish before giving up. */
export const DEFAULT_OUTBOX_BUSY_TIMEOUT_MS = 5000;

export type OutboxState = 'queued' | 'inflight' | 'dead' | 'delivered';
export type OutboxMode = 'federated' | 'direct';

export interface OutboxMessage {
  /** The message id (a ULID); unique in the outbox. */
  id: string;
  /** The recipient agent's name (compared case-insensitively, like agent names everywhere). */
  peer: string;
  /** Opaque to the outbox: the signed envelope or the direct-send parameters, as the sender stored them. */
  payload: string;
  mode: OutboxMode;
  /** All times are ms since the epoch. */
  createdAt: number;
  expiresAt: number;
  /** Delivery attempts started (a claim counts as one, even if its process died before reporting back). */
  attempts: number;
  nextAttemptAt: number;
  /** While `inflight`: when the claim lapses and another process may take the message over. */
  leaseUntil: number | null;
  lastError: string | null;
  /** Why a `dead` message was given up on. */
  deadReason: string | null;
  state: OutboxState;
}

export interface EnqueueInput {
  id: string;
  peer: string;
  payload: string;
  mode: OutboxMode;
  /** Default: `DEFAULT_OUTBOX_TTL_MS` (or the outbox's `defaultTtlMs`). */
  ttlMs?: number;
}

export interface EnqueueOptions {
  /**
   * Claim the new message for the caller at once (state `inflight`, one attempt counted), when per-peer order
   * allows it: when the peer has no earlier pending message. This is how `ois send` uses the outbox: it
   * stores the message before trying it (so a kill -9 mid-send loses nothing), and the claim keeps the
   * daemon from sending the same message at the same time. When an earlier message is pending the new one
   * stays `queued` behind it, and the caller must not send it itself.
   */
  claim?: boolean;
  leaseMs?: number;
}

export interface FailOptions {
  /** The peer rejected the message in a way a retry cannot fix (signature rejected, unknown session...). */
  permanent?: boolean;
  /** The peer asked to wait (429/503 with `Retry-After`): the next attempt is at least this far away. */
  retryAfterMs?: number;
}

export interface OutboxFilter {
  state?: OutboxState | OutboxState[];
  peer?: string;
}

export interface OutboxCounts {
  queued: number;
  inflight: number;
  dead: number;
}

export interface OutboxOptions {
  /** The clock, injectable for tests. */
  now?: () => number;
  /** A number in [0, 1), for the backoff jitter; injectable for tests. */
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  defaultTtlMs?: number;
  keepDeliveredMs?: number;
  busyTimeoutMs?: number;
}

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The wait before the next attempt after `attempts` failed ones: exponential backoff with full jitter,
 * `floor(random() * min(maxDelayMs, baseDelayMs * 2^(attempts - 1)))`.
 *
 * Why full jitter: when a peer comes back after an outage, every sender that queued for it would otherwise
 * retry in lock-step and knock it over again; spreading each wait uniformly over [0, ceiling) breaks the
 * herd up while the ceiling still grows fast enough to leave a dead peer alone.
 *
 * @example backoffDelay(3, { baseDelayMs: 1000, maxDelayMs: 300_000 }) // somewhere in [0, 4000)
 */
export function backoffDelay(
  attempts: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.floor(Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * ceiling);
}

/** `<home>/outbox.db`. */
export function outboxPath(home: string): string {
  return join(home, OUTBOX_FILE);
}

// ---------------------------------------------------------------------------------------------------------
// All SQL of the outbox, in one place.
//
// `seq` (AUTOINCREMENT: never reused, even after a delete) is the order of enqueueing, and it alone decides
// per-peer order: clocks of two processes (or one clock stepped back by NTP) cannot be trusted to order two
// messages, one database counter can.
// ---------------------------------------------------------------------------------------------------------

const SCHEMA_VERSION = 1;

const SQL = {
  /**
   * `synchronous = FULL`: a commit is fsynced before `enqueue` returns, so even a power cut right after
   * `ois send` reported "queued" does not lose the message. Writes are rare (one per failed delivery).
   */
  pragmas: 'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;',
  userVersion: 'PRAGMA user_version',
  quickCheck: 'PRAGMA quick_check(1)',
  schema: `
    CREATE TABLE IF NOT EXISTS messages (
      seq             INTEGER PRIMARY KEY AUTOINCREMENT,
      id              TEXT    NOT NULL UNIQUE,
      peer            TEXT    NOT NULL COLLATE NOCASE,
      payload         TEXT    NOT NULL,
      mode            TEXT    NOT NULL CHECK (mode IN ('federated', 'direct')),
      state           TEXT    NOT NULL CHECK (state IN ('queued', 'inflight', 'dead', 'delivered')),
      created_at      INTEGER NOT NULL,
      ttl_ms          INTEGER NOT NULL,
      expires_at      INTEGER NOT NULL,
      attempts        INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,
      lease_until     INTEGER,
      last_error      TEXT,
      dead_reason     TEXT,
      finished_at     INTEGER
    ) STRICT;
    -- The head of each peer's line: its pending message with the lowest seq.
    CREATE INDEX IF NOT EXISTS messages_pending ON messages (peer, seq) WHERE state IN ('queued', 'inflight');
    CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_attempt_at);
    PRAGMA user_version = ${SCHEMA_VERSION};`,

  insert: `
    INSERT INTO messages (id, peer, payload, mode, state, created_at, ttl_ms, expires_at, next_attempt_at)
    VALUES (:id, :peer, :payload, :mode, 'queued', :now, :ttl, :now + :ttl, :now)
    ON CONFLICT (id) DO NOTHING`,
  byId: 'SELECT * FROM messages WHERE id = :id',
  isHead: `
    SELECT NOT EXISTS (
      SELECT 1 FROM messages p
      WHERE p.peer = m.peer AND p.state IN ('queued', 'inflight') AND p.seq < m.seq
    ) AS head
    FROM messages m WHERE m.id = :id`,
  claimOne: `
    UPDATE messages SET state = 'inflight', attempts = attempts + 1, lease_until = :leaseUntil
    WHERE id = :id RETURNING *`,

  /** A claim whose process died (or hung past its lease) gives the message back; see `claimDue`. */
  releaseLapsed: `
    UPDATE messages
    SET state = 'queued', lease_until = NULL, next_attempt_at = :now,
        last_error = 'attempt ' || attempts || ' did not report back (its process stopped or hung)'
    WHERE state = 'inflight' AND lease_until <= :now`,
  expire: `
    UPDATE messages
    SET state = 'dead', finished_at = :now,
        dead_reason = 'expired: not delivered within its TTL after ' || attempts || ' attempt(s)'
                      || COALESCE('; last error: ' || last_error, '')
    WHERE state = 'queued' AND expires_at <= :now`,
  purgeDelivered: `DELETE FROM messages WHERE state = 'delivered' AND finished_at <= :before`,
  /**
   * For each peer, its head (lowest pending seq) if that head is queued and due; an inflight head blocks its
   * peer. Oldest due first, so a busy peer cannot starve the others past `limit`.
   */
  claimHeads: `
    UPDATE messages SET state = 'inflight', attempts = attempts + 1, lease_until = :leaseUntil
    WHERE seq IN (
      SELECT m.seq FROM messages m
      WHERE m.state = 'queued' AND m.next_attempt_at <= :now
        AND m.seq = (SELECT MIN(p.seq) FROM messages p WHERE p.peer = m.peer AND p.state IN ('queued', 'inflight'))
      ORDER BY m.next_attempt_at, m.seq
      LIMIT :limit)
    RETURNING *`,
  /** One peer's head, when it is queued (due or not): an explicit send or retry is a reason to try now. */
  claimPeerHead: `
    UPDATE messages SET state = 'inflight', attempts = attempts + 1, lease_until = :leaseUntil
    WHERE state = 'queued'
      AND seq = (SELECT MIN(p.seq) FROM messages p WHERE p.peer = :peer AND p.state IN ('queued', 'inflight'))
    RETURNING *`,
  delivered: `
    UPDATE messages SET state = 'delivered', lease_until = NULL, finished_at = :now, dead_reason = NULL
    WHERE id = :id RETURNING *`,
  failed: `
    UPDATE messages
    SET state = :state, next_attempt_at = :next, lease_until = NULL, last_error = :error,
        dead_reason = :reason, finished_at = :finished
    WHERE id = :id RETURNING *`,
  dueNow: 'UPDATE messages SET next_attempt_at = :now WHERE id = :id RETURNING *',
  revive: `
    UPDATE messages
    SET state = 'queued', attempts = 0, next_attempt_at = :now, expires_at = :now + ttl_ms, lease_until = NULL,
        dead_reason = NULL, finished_at = NULL
    WHERE id = :id RETURNING *`,
  drop: 'DELETE FROM messages WHERE id = :id RETURNING *',
  wakePeer: `
    UPDATE messages SET next_attempt_at = :now
    WHERE peer = :peer AND state = 'queued' AND next_attempt_at > :now`,
  list: `
    SELECT * FROM messages
    WHERE (:peer IS NULL OR peer = :peer)
      AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
    ORDER BY seq`,
  counts: 'SELECT state, COUNT(*) AS n FROM messages GROUP BY state',
} as const;

type StatementName = Exclude<keyof typeof SQL, 'pragmas' | 'schema'>;

interface Row {
  seq: number;
  id: string;
  peer: string;
  payload: string;
  mode: OutboxMode;
  state: OutboxState;
  created_at: number;
  ttl_ms: number;
  expires_at: number;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  dead_reason: string | null;
  finished_at: number | null;
}

function toMessage(row: Row): OutboxMessage {
  return {
    id: row.id,
    peer: row.peer,
    payload: row.payload,
    mode: row.mode,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    lastError: row.last_error,
    deadReason: row.dead_reason,
    state: row.state,
  };
}

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function sqliteCode(err: unknown): number | null {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  return e?.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number' ? e.errcode & 0xff : null;
}

/** `quick_check` found damage that opening alone did not reveal. */
class DamagedDatabase extends Error {}

function isCorruption(err: unknown): boolean {
  if (err instanceof DamagedDatabase) return true;
  const code = sqliteCode(err);
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}

/** Turns a SQLite failure into the error the CLI and the daemon report. */
function outboxError(action: string, file: string, err: unknown): OisError {
  if (err instanceof OisError) return err;
  if (isCorruption(err)) {
    return new OisError('OIS_ERR_OUTBOX_CORRUPT', `cannot ${action}: ${file} is damaged`, {
      hint: 'open the outbox again (restart the daemon): the damaged file is set aside and a new one started',
      cause: err,
      details: { file },
    });
  }
  const busy = sqliteCode(err) === SQLITE_BUSY;
  return new OisError(
    'OIS_ERR_STORAGE',
    `cannot ${action} in ${file}: ${busy ? 'another process kept it locked too long' : (err as Error)?.message}`,
    {
      hint: busy
        ? 'retry; if it persists, look for a hung ois process of this instance'
        : 'check that the instance home is writable and the disk is not full',
      cause: err,
      details: { file },
    },
  );
}

/** Blocks the thread for `ms`: `open` is synchronous, and waiting for another process's recovery is rare. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class Outbox {
  /** The database file. */
  readonly file: string;
  /**
   * Set when `open` found the database damaged: it was renamed aside (never deleted; the error's
   * `details.setAside` names it) and a new, empty outbox started. Callers show it as a warning.
   */
  readonly recovered: OisError | null;

  readonly #db: DatabaseSync;
  readonly #statements = new Map<StatementName, StatementSync>();
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #policy: BackoffPolicy;
  readonly #defaultTtlMs: number;
  readonly #keepDeliveredMs: number;

  private constructor(file: string, db: DatabaseSync, recovered: OisError | null, options: OutboxOptions) {
    this.file = file;
    this.#db = db;
    this.recovered = recovered;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#policy = {
      baseDelayMs: options.baseDelayMs ?? DEFAULT_OUTBOX_BASE_DELAY_MS,
      maxDelayMs: options.maxDelayMs ?? DEFAULT_OUTBOX_MAX_DELAY_MS,
    };
    this.#defaultTtlMs = options.defaultTtlMs ?? DEFAULT_OUTBOX_TTL_MS;
    this.#keepDeliveredMs = options.keepDeliveredMs ?? DEFAULT_OUTBOX_KEEP_DELIVERED_MS;
  }

  /** Whether this home has an outbox yet (so `ois outbox ls` can answer without creating one). */
  static exists(home: string): boolean {
    return existsSync(outboxPath(home));
  }

  /**
   * Opens (creating if needed) the outbox of the instance whose home is `home`. A damaged database is set
   * aside as `outbox.db.corrupt-<time>` and a new one started; `recovered` then says so. Throws
   * OIS_ERR_STORAGE when the home cannot be written or another process holds the database too long.
   */
  static open(home: string, options: OutboxOptions = {}): Outbox {
    const file = outboxPath(home);
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_OUTBOX_BUSY_TIMEOUT_MS;
    try {
      // 0700: payloads are the team's messages, and only this instance's user should read them.
      mkdirSync(home, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new OisError('OIS_ERR_STORAGE', `cannot create the instance home ${home}`, {
        hint: 'check the permissions of its parent folder',
        cause: err,
      });
    }
    try {
      return new Outbox(file, openDatabase(file, busyTimeoutMs), null, options);
    } catch (err) {
      if (!isCorruption(err)) throw outboxError('open the outbox', file, err);
      const { db, setAside } = recoverDatabase(file, busyTimeoutMs, options.now ?? Date.now);
      const recovered =
        setAside === null
          ? null
          : new OisError(
              'OIS_ERR_OUTBOX_CORRUPT',
              `the outbox ${file} was damaged; it was set aside as ${setAside} and a new one started`,
              {
                hint: 'keep the set-aside file for inspection; messages it held were not sent: re-send them',
                cause: err,
                details: { file, setAside },
              },
            );
      return new Outbox(file, db, recovered, options);
    }
  }

  /**
   * Stores a message to be delivered. Idempotent on `id`: a message already in the outbox (in any state,
   * including recently delivered) is returned as it is and not changed; the other fields are ignored then.
   */
  enqueue(input: EnqueueInput, options: EnqueueOptions = {}): OutboxMessage {
    const ttl = input.ttlMs ?? this.#defaultTtlMs;
    if (!(Number.isFinite(ttl) && ttl > 0)) {
      throw new OisError('OIS_ERR_INTERNAL', `outbox: ttlMs must be a positive number, not ${ttl}`);
    }
    if (input.id === '' || input.peer === '') {
      throw new OisError('OIS_ERR_INTERNAL', 'outbox: a message needs an id and a peer');
    }
    return this.#write('queue a message', () => {
      const now = this.#now();
      const inserted =
        this.#run('insert', {
          id: input.id,
          peer: input.peer,
          payload: input.payload,
          mode: input.mode,
          now,
          ttl,
        }).changes === 1;
      if (inserted && options.claim) {
        const head = this.#get<{ head: number }>('isHead', { id: input.id })?.head === 1;
        if (head) {
          const leaseUntil = now + (options.leaseMs ?? DEFAULT_OUTBOX_LEASE_MS);
          return toMessage(this.#all('claimOne', { id: input.id, leaseUntil })[0]!);
        }
      }
      return toMessage(this.#get<Row>('byId', { id: input.id })!);
    });
  }

  /**
   * Claims, for each peer, its oldest pending message if it is due, and marks it `inflight` with a lease
   * until `now + leaseMs`; the caller delivers each and reports `markDelivered` or `markFailed`.
   *
   * Why per-peer order: a conversation read out of order is wrong ("yes, do it" before the question), so a
   * peer's later messages wait while an earlier one is queued or in flight. Peers are independent: one
   * offline peer never holds up the others.
   *
   * Why leases: a claim must survive the claimer being killed mid-delivery without losing the message. A
   * lapsed lease puts the message back in the queue, due at once, and the next claim sends it again. A
   * receiving daemon dedupes federated messages by id; a direct delivery into a bare gateway cannot be
   * deduped, but its text names the message id, so the rare double after a crash is recognisable, while a
   * lost message would not be noticed at all. `leaseMs` must exceed the longest delivery attempt (connect +
   * request timeout), or a slow but live attempt is duplicated.
   *
   * Also moves queued messages past their TTL to the dead letters, and purges old delivered ones.
   */
  claimDue(limit = DEFAULT_OUTBOX_CLAIM_LIMIT, leaseMs = DEFAULT_OUTBOX_LEASE_MS): OutboxMessage[] {
    return this.#write('claim messages', () => {
      const now = this.#now();
      this.#housekeep(now);
      const rows = this.#all('claimHeads', { now, leaseUntil: now + leaseMs, limit });
      return rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.seq - b.seq).map(toMessage);
    });
  }

  /**
   * Claims `peer`'s oldest pending message for the caller when it is queued, due or not (`ois send` and
   * `ois outbox retry` on an instance without a daemon send what waits now). Null when the peer has nothing
   * queued, or its head is in flight in another process.
   */
  claimHead(peer: string, leaseMs = DEFAULT_OUTBOX_LEASE_MS): OutboxMessage | null {
    return this.#write('claim a message', () => {
      const now = this.#now();
      this.#housekeep(now);
      const row = this.#all('claimPeerHead', { peer, leaseUntil: now + leaseMs })[0];
      return row ? toMessage(row) : null;
    });
  }

  /**
   * Records a delivery. Returns null when the message is no longer in the outbox (dropped meanwhile): the
   * delivery happened anyway, and there is nothing left to record.
   */
  markDelivered(id: string): OutboxMessage | null {
    return this.#write('record a delivery', () => {
      const row = this.#all('delivered', { id, now: this.#now() })[0];
      return row ? toMessage(row) : null;
    });
  }

  /**
   * Records a failed attempt: the next one is scheduled after `backoffDelay(attempts)` (at least
   * `retryAfterMs`), or the message becomes a dead letter with the reason when it is `permanent` or past its
   * TTL. A message already delivered or dead stays as it is (a late report from a lapsed claim must not
   * undo a delivery). Returns null when the message is no longer in the outbox.
   */
  markFailed(id: string, error: string, options: FailOptions = {}): OutboxMessage | null {
    return this.#write('record a failed attempt', () => {
      const row = this.#get<Row>('byId', { id });
      if (!row) return null;
      if (row.state === 'delivered' || row.state === 'dead') return toMessage(row);
      const now = this.#now();
      const delay = Math.max(
        options.retryAfterMs ?? 0,
        backoffDelay(Math.max(1, row.attempts), this.#policy, this.#random),
      );
      // Never later than just before the TTL ends: one last attempt then, rather than giving up early.
      const next = Math.min(now + delay, row.expires_at - 1);
      const expired = `expired: not delivered within its TTL after ${row.attempts} attempt(s)`;
      let reason: string | null = null;
      if (options.permanent) reason = `rejected: ${error}`;
      else if (now >= row.expires_at) reason = `${expired}; last error: ${error}`;
      else if (now + (options.retryAfterMs ?? 0) >= row.expires_at)
        reason = `${expired}; the peer asked to wait ${Math.ceil(options.retryAfterMs! / 1000)} s, past the TTL; last error: ${error}`;
      const updated = this.#all('failed', {
        id,
        state: reason === null ? 'queued' : 'dead',
        next: reason === null ? next : row.next_attempt_at,
        error,
        reason,
        finished: reason === null ? null : now,
      })[0]!;
      return toMessage(updated);
    });
  }

  /**
   * Makes a message due now (`ois outbox retry`). A dead letter goes back to the queue with a fresh TTL and
   * backoff, in its original place: it is again the head of its peer's line if it is older than what is still
   * pending there. An inflight one is being tried already and is returned unchanged. Per-peer order still
   * applies: a message behind another pending one waits for it. OIS_ERR_OUTBOX_NOT_FOUND when
   * no such message; OIS_ERR_USAGE when it was delivered (retrying would send it twice).
   */
  retryNow(id: string): OutboxMessage {
    return this.#write('retry a message', () => {
      const row = this.#get<Row>('byId', { id });
      if (!row) throw notFound(id);
      const now = this.#now();
      switch (row.state) {
        case 'inflight':
          return toMessage(row);
        case 'delivered':
          throw new OisError('OIS_ERR_USAGE', `message ${id} was delivered already`, {
            hint: 'nothing to retry; send a new message if it needs saying again',
          });
        case 'dead':
          return toMessage(this.#all('revive', { id, now })[0]!);
        case 'queued':
          return toMessage(this.#all('dueNow', { id, now })[0]!);
      }
    });
  }

  /** Removes a message for good (`ois outbox drop`); returns what it was. OIS_ERR_OUTBOX_NOT_FOUND if unknown. */
  drop(id: string): OutboxMessage {
    return this.#write('drop a message', () => {
      const row = this.#all('drop', { id })[0];
      if (!row) throw notFound(id);
      return toMessage(row);
    });
  }

  /** Makes every queued message of `peer` due now (presence saw it come back); returns how many. */
  wakePeer(peer: string): number {
    return this.#write('wake a peer', () =>
      Number(this.#run('wakePeer', { peer, now: this.#now() }).changes),
    );
  }

  /** Messages in enqueue order; by default every one not delivered. Expired ones show as dead. */
  list(filter: OutboxFilter = {}): OutboxMessage[] {
    const states =
      filter.state === undefined
        ? ['queued', 'inflight', 'dead']
        : Array.isArray(filter.state)
          ? filter.state
          : [filter.state];
    return this.#write('list messages', () => {
      this.#housekeep(this.#now());
      return this.#all('list', { peer: filter.peer ?? null, states: JSON.stringify(states) }).map(toMessage);
    });
  }

  counts(): OutboxCounts {
    return this.#write('count messages', () => {
      this.#housekeep(this.#now());
      const counts: OutboxCounts = { queued: 0, inflight: 0, dead: 0 };
      for (const { state, n } of this.#all<{ state: OutboxState; n: number }>('counts')) {
        if (state !== 'delivered') counts[state] = n;
      }
      return counts;
    });
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Lapsed claims back to the queue first, so that an expired one is then seen as expired. */
  #housekeep(now: number): void {
    this.#run('releaseLapsed', { now });
    this.#run('expire', { now });
    this.#run('purgeDelivered', { before: now - this.#keepDeliveredMs });
  }

  /**
   * Runs `fn` in one write transaction. BEGIN IMMEDIATE takes the write lock up front: a transaction that
   * reads first and upgrades later can fail with SQLITE_BUSY at once in WAL mode (busy_timeout does not
   * help there), while an immediate one simply waits its turn.
   */
  #write<T>(action: string, fn: () => T): T {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw outboxError(action, this.file, err);
    }
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {}
      }
      throw outboxError(action, this.file, err);
    }
  }

  #statement(name: StatementName): StatementSync {
    let s = this.#statements.get(name);
    if (!s) {
      s = this.#db.prepare(SQL[name]);
      this.#statements.set(name, s);
    }
    return s;
  }

  #run(name: StatementName, params: Record<string, SQLInputValue>) {
    return this.#statement(name).run(params);
  }

  #get<T>(name: StatementName, params: Record<string, SQLInputValue>): T | undefined {
    return this.#statement(name).get(params) as T | undefined;
  }

  #all<T = Row>(name: StatementName, params: Record<string, SQLInputValue> = {}): T[] {
    return this.#statement(name).all(params) as T[];
  }
}

function notFound(id: string): OisError {
  return new OisError('OIS_ERR_OUTBOX_NOT_FOUND', `no message ${id} in the outbox`, {
    hint: 'ois outbox ls lists them (ois outbox ls --dead the dead letters)',
  });
}

/**
 * Opens the database and checks it. Throws the SQLite error (corruption included) untouched, so `open` can
 * tell corruption from other failures.
 */
function openDatabase(file: string, busyTimeoutMs: number): DatabaseSync {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      return openOnce(file, busyTimeoutMs);
    } catch (err) {
      // While another process creates the database or switches it to WAL, SQLite answers SQLITE_BUSY at once
      // for some of these steps, without calling the busy handler (the WAL index is being rebuilt, or the
      // journal mode changes under an exclusive lock). It lasts milliseconds: wait it out like busy_timeout.
      if (sqliteCode(err) !== SQLITE_BUSY || Date.now() > deadline) throw err;
      sleepSync(5 + Math.floor(Math.random() * 20));
    }
  }
}

function openOnce(file: string, busyTimeoutMs: number): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: busyTimeoutMs });
  try {
    // Switching to WAL reads the header: garbage in place of a database fails here with SQLITE_NOTADB.
    db.exec(SQL.pragmas);
    const version = (db.prepare(SQL.userVersion).get() as { user_version: number }).user_version;
    if (version > SCHEMA_VERSION) {
      throw new OisError('OIS_ERR_STORAGE', `the outbox ${file} was written by a newer version of ois`, {
        hint: 'upgrade ois on this machine',
      });
    }
    if (version < SCHEMA_VERSION) {
      db.exec('BEGIN IMMEDIATE');
      try {
        db.exec(SQL.schema);
        db.exec('COMMIT');
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    }
    // A damaged page further in the file would otherwise only surface at some later claim, in the middle of
    // the daemon's work; checking here (a few ms for an outbox of thousands of messages) puts all recovery
    // in one place.
    const check = db.prepare(SQL.quickCheck).get() as { quick_check: string } | undefined;
    if (check?.quick_check !== 'ok') {
      throw new DamagedDatabase(`quick_check: ${check?.quick_check ?? 'no answer'}`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

const RECOVERY_LOCK_STALE_MS = 30_000;
const RECOVERY_LOCK_WAIT_MS = 10_000;

/**
 * Sets a damaged database aside and starts a new one, under a lock directory: two processes that find the
 * file damaged at the same time must not both rename, or the second would set aside the fresh database the
 * first just made (and the messages queued in it meanwhile). Under the lock the file is checked again, so
 * the second one just opens the new database. Returns the set-aside name, or null if another process had
 * already recovered.
 */
function recoverDatabase(
  file: string,
  busyTimeoutMs: number,
  now: () => number,
): { db: DatabaseSync; setAside: string | null } {
  const lock = `${file}.recovering`;
  const deadline = Date.now() + RECOVERY_LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw outboxError('recover the outbox', file, err);
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released between mkdir and stat
      }
      if (age > RECOVERY_LOCK_STALE_MS) {
        // Its holder died mid-recovery (recovery takes milliseconds).
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new OisError('OIS_ERR_STORAGE', `another process is recovering the outbox ${file}`, {
          hint: `retry; if no ois process is running, remove ${lock}`,
        });
      }
      sleepSync(20);
    }
  }
  try {
    try {
      return { db: openDatabase(file, busyTimeoutMs), setAside: null };
    } catch (err) {
      if (!isCorruption(err)) throw err;
    }
    const stamp = new Date(now()).toISOString().replaceAll(':', '-').replace('.', '-');
    let setAside = `${file}.corrupt-${stamp}`;
    for (let n = 1; existsSync(setAside); n++) setAside = `${file}.corrupt-${stamp}-${n}`;
    // The WAL may hold committed transactions that belong to the damaged file: keep it next to it.
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(file + suffix)) renameSync(file + suffix, setAside + suffix);
    }
    renameSync(file, setAside);
    return { db: openDatabase(file, busyTimeoutMs), setAside };
  } catch (err) {
    throw outboxError('recover the outbox', file, err);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
