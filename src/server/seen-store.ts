import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export type SeenState = 'delivering' | 'delivered';

/**
 * (WAL with synchronous=NORMAL: a commit survives a crash of the daemon, and only a power cut can lose the
 * last few; at worst that repeats a delivery the sender retried, which is the rarest case there is.)
 *
 * The ids a daemon has taken in (`<home>/inbox.db`), so a repeated envelope is acknowledged without a
 * second delivery. An id is claimed ('delivering') before the gateway call and released if that fails, so
 * two copies arriving at once cannot both be delivered and a failed delivery can be retried.
 */
export class SeenStore {
  readonly #db: DatabaseSync;
  readonly #claim;
  readonly #get;
  readonly #done;
  readonly #release;

  constructor(home: string) {
    this.#db = new DatabaseSync(join(home, 'inbox.db'));
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS seen (
        id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        state TEXT NOT NULL,
        at INTEGER NOT NULL
      );
    `);
    this.#claim = this.#db.prepare('INSERT OR IGNORE INTO seen (id, sender, state, at) VALUES (?, ?, ?, ?)');
    this.#get = this.#db.prepare('SELECT state FROM seen WHERE id = ?');
    this.#done = this.#db.prepare("UPDATE seen SET state = 'delivered', at = ? WHERE id = ?");
    this.#release = this.#db.prepare("DELETE FROM seen WHERE id = ? AND state = 'delivering'");
  }

  /** 'new' when this call claimed the id; otherwise the state someone else left. */
  claim(id: string, sender: string): 'new' | SeenState {
    const { changes } = this.#claim.run(id, sender, 'delivering', Date.now());
    if (changes === 1) return 'new';
    return (this.#get.get(id) as { state: SeenState } | undefined)?.state ?? 'delivering';
  }

  delivered(id: string): void {
    this.#done.run(Date.now(), id);
  }

  release(id: string): void {
    this.#release.run(id);
  }

  /** Ids claimed but never settled: a daemon that died mid-delivery left them (recovered at start). */
  unsettled(): string[] {
    return (this.#db.prepare("SELECT id FROM seen WHERE state = 'delivering'").all() as { id: string }[]).map(
      (r) => r.id,
    );
  }

  close(): void {
    this.#db.close();
  }
}
