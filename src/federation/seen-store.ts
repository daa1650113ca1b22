import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { agentId } from '../registry/index.js';
import { DEFAULT_OUTBOX_TTL_MS } from './outbox.js';

export type SeenState = 'delivering' | 'delivered';

export const INBOX_FILE = 'inbox.db';

/**
 * How long a delivered id is remembered. A sender retries a queued message for at most the outbox TTL
 * (24 h), and each copy may be up to the clock window off: the window must outlast both, or a late copy
 * of a delivered message would be delivered again. The daemon also refuses any envelope whose `createdAt`
 * is older than this window (less the clock window), so an id that was pruned can never come back.
 */
export const DEFAULT_SEEN_WINDOW_MS = 2 * DEFAULT_OUTBOX_TTL_MS;

const SCHEMA_VERSION = 2;

/**
 * The (sender, id) pairs a daemon has taken in (`<home>/inbox.db`), so a repeated envelope is acknowledged
 * without a second delivery. A pair is claimed ('delivering') before the gateway call and released if that
 * fails, so two copies arriving at once cannot both be delivered and a failed delivery can be retried.
 *
 * Keyed by sender and id, not by id alone: message ids are visible in the team's chat log, and another
 * member that posts its own envelope under an id it read there must not turn the real message into a
 * "duplicate" that is never delivered.
 *
 * (WAL with synchronous=NORMAL: a commit survives a crash of the daemon, and only a power cut can lose the
 * last few; at worst that repeats a delivery the sender retried, which is the rarest case there is.)
 */
export class SeenStore {
  readonly #db: DatabaseSync;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #claim;
  readonly #get;
  readonly #done;
  readonly #release;
  readonly #others;
  readonly #prune;

  constructor(home: string, options: { windowMs?: number; now?: () => number } = {}) {
    this.#windowMs = options.windowMs ?? DEFAULT_SEEN_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#db = new DatabaseSync(join(home, INBOX_FILE));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
    migrate(this.#db);
    this.#claim = this.#db.prepare(
      "INSERT OR IGNORE INTO seen (sender, id, state, at) VALUES (?, ?, 'delivering', ?)",
    );
    this.#get = this.#db.prepare('SELECT state FROM seen WHERE sender = ? AND id = ?');
    this.#done = this.#db.prepare("UPDATE seen SET state = 'delivered', at = ? WHERE sender = ? AND id = ?");
    this.#release = this.#db.prepare("DELETE FROM seen WHERE sender = ? AND id = ? AND state = 'delivering'");
    this.#others = this.#db.prepare('SELECT sender FROM seen WHERE id = ? AND sender != ?');
    this.#prune = this.#db.prepare("DELETE FROM seen WHERE state = 'delivered' AND at < ?");
  }

  /** How long a delivered id is kept. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** 'new' when this call claimed the pair; otherwise the state an earlier copy left. */
  claim(id: string, sender: string): 'new' | SeenState {
    const from = agentId(sender);
    const { changes } = this.#claim.run(from, id, this.#now());
    if (changes === 1) return 'new';
    return (this.#get.get(from, id) as { state: SeenState } | undefined)?.state ?? 'delivering';
  }

  /** Other senders that used this id (a member reusing an id it read in the chat log). */
  otherSenders(id: string, sender: string): string[] {
    return (this.#others.all(id, agentId(sender)) as { sender: string }[]).map((r) => r.sender);
  }

  delivered(id: string, sender: string): void {
    this.#done.run(this.#now(), agentId(sender), id);
  }

  release(id: string, sender: string): void {
    this.#release.run(agentId(sender), id);
  }

  /** Pairs claimed but never settled: a daemon that died mid-delivery left them (recovered at start). */
  unsettled(): { id: string; sender: string }[] {
    return this.#db.prepare("SELECT id, sender FROM seen WHERE state = 'delivering'").all() as {
      id: string;
      sender: string;
    }[];
  }

  /** Forgets delivered ids older than the window; returns how many. */
  prune(): number {
    return Number(this.#prune.run(this.#now() - this.#windowMs).changes);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/** Version 1 (ois 0.1) keyed rows by id alone; its rows keep their sender and move over as they are. */
function migrate(db: DatabaseSync): void {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version >= SCHEMA_VERSION) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen'").get();
    if (old) db.exec('ALTER TABLE seen RENAME TO seen_v1');
    db.exec(`
      CREATE TABLE seen (
        sender TEXT NOT NULL,
        id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('delivering', 'delivered')),
        at INTEGER NOT NULL,
        PRIMARY KEY (sender, id)
      ) STRICT;
      CREATE INDEX seen_by_id ON seen (id);
      CREATE INDEX seen_by_age ON seen (state, at);
    `);
    if (old) {
      db.exec(`INSERT OR IGNORE INTO seen (sender, id, state, at)
               SELECT lower(sender), id, state, at FROM seen_v1; DROP TABLE seen_v1;`);
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`);
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
