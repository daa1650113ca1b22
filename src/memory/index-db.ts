import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { OisError } from '../errors.js';
import { agentId } from '../registry/index.js';
import { decryptAs, type MemoryLine, parseLine, verifyLine } from './entry.js';
import { type KeyView, mergeKey } from './merge.js';

/**
 * This instance's index of team memory, in `<home>/memory-index.db` (SQLite with FTS5, built into Node):
 * every verified line of every memory file, the view of each key (merge.ts), and a full-text index of the
 * entries this instance may read. Brought up to date incrementally (each file is append-only: only the
 * bytes after the last read are new); rebuilt from scratch when missing, damaged, or a file shrank.
 */
export const MEMORY_INDEX_FILE = 'memory-index.db';
const SCHEMA_VERSION = 1;

export interface Source {
  /** `team:<file>` or `home:<file>`. */
  name: string;
  size(): Promise<number | null>;
  readFrom(offset: number): Promise<Buffer | null>;
}

export interface Reader {
  /** This instance's agent name. */
  self: string;
  /** The Ed25519 key a verified member signs with; null for anyone else (their lines are ignored). */
  keyOf(author: string): string | null;
  isAdmin(author: string): boolean;
  /** This instance's X25519 private key (PEM), to read `agent:<self>` entries and its own. */
  encryptionKey: string | null;
}

export interface Entry {
  key: string;
  value: string;
  scope: string;
  tags: string[];
  author: string;
  owner: string;
  at: string;
  hlc: string;
}

export interface Rejected {
  source: string;
  line: number;
  author: string | null;
  reason: string;
}

function atOf(hlc: string): string {
  return new Date(Number(hlc.slice(0, 15))).toISOString();
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, offset INTEGER NOT NULL, lines INTEGER NOT NULL, last_hlc TEXT);
CREATE TABLE IF NOT EXISTS lines (id INTEGER PRIMARY KEY, key TEXT, op TEXT NOT NULL, author TEXT NOT NULL, hlc TEXT NOT NULL, raw TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lines_by_key ON lines (key);
CREATE TABLE IF NOT EXISTS enc_keys (author TEXT PRIMARY KEY, x25519 TEXT NOT NULL, hlc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (rid INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, author TEXT NOT NULL,
  hlc TEXT NOT NULL, scope TEXT NOT NULL, tags TEXT NOT NULL, value TEXT, readable INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(key, value, tags, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS rejected (source TEXT NOT NULL, line INTEGER NOT NULL, author TEXT, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
`;

export class MemoryIndex {
  readonly file: string;
  #db: DatabaseSync;
  readonly #q: Record<'linesOf' | 'entryRid' | 'delFts' | 'delEntry' | 'insEntry' | 'insFts', StatementSync>;

  private constructor(file: string, db: DatabaseSync) {
    this.file = file;
    this.#db = db;
    this.#q = {
      linesOf: db.prepare('SELECT raw FROM lines WHERE key = ?'),
      entryRid: db.prepare('SELECT rid FROM entries WHERE key = ?'),
      delFts: db.prepare('DELETE FROM entries_fts WHERE rowid = ?'),
      delEntry: db.prepare('DELETE FROM entries WHERE rid = ?'),
      insEntry: db.prepare(
        'INSERT INTO entries (key, owner, author, hlc, scope, tags, value, readable) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insFts: db.prepare('INSERT INTO entries_fts (rowid, key, value, tags) VALUES (?, ?, ?, ?)'),
    };
  }

  /** Opens the index, rebuilding it from nothing when it is missing, damaged or of another version. */
  static open(home: string): MemoryIndex {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const file = join(home, MEMORY_INDEX_FILE);
    const attempt = () => {
      const db = new DatabaseSync(file, { timeout: 5000 });
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version !== 0 && version !== SCHEMA_VERSION) throw new Error('other version');
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      return db;
    };
    try {
      return new MemoryIndex(file, attempt());
    } catch {
      // The index is derived: a damaged one is thrown away and built again from the files.
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      try {
        return new MemoryIndex(file, attempt());
      } catch (err) {
        throw new OisError(
          'OIS_ERR_STORAGE',
          `cannot open the memory index ${file}: ${(err as Error).message}`,
          {
            hint: 'check that the instance home is writable',
            cause: err,
          },
        );
      }
    }
  }

  close(): void {
    this.#db.close();
  }

  /** Forgets everything indexed (the next refresh reads every file from its start). */
  reset(): void {
    this.#db.exec(
      'DELETE FROM files; DELETE FROM lines; DELETE FROM enc_keys; DELETE FROM entries; DELETE FROM entries_fts; DELETE FROM rejected; DELETE FROM meta;',
    );
  }

  /**
   * Reads what is new in each source, verifies it, and recomputes the keys it touched. Returns how many
   * lines were read. A source shorter than what was indexed (a file rewritten) makes it start over.
   */
  async refresh(sources: Source[], reader: Reader): Promise<{ lines: number; rebuilt: boolean }> {
    const offsets = new Map(
      (
        this.#db.prepare('SELECT name, offset, lines, last_hlc FROM files').all() as {
          name: string;
          offset: number;
          lines: number;
          last_hlc: string | null;
        }[]
      ).map((r) => [r.name, r]),
    );
    const reader0 = JSON.stringify([reader.self, reader.encryptionKey !== null]);
    const readerChanged = this.meta('reader') !== reader0;
    const sizes = await Promise.all(sources.map((s) => s.size()));
    let rebuilt = false;
    const shrank = sources.some((s, i) => (sizes[i] ?? 0) < (offsets.get(s.name)?.offset ?? 0));
    const gone = [...offsets.keys()].some((n) => !sources.some((s) => s.name === n));
    if (shrank || gone || readerChanged) {
      this.reset();
      offsets.clear();
      rebuilt = true;
    }
    const touched = new Set<string>();
    let count = 0;
    let maxHlc = this.lastHlc();
    const insertLine = this.#db.prepare(
      'INSERT INTO lines (key, op, author, hlc, raw) VALUES (?, ?, ?, ?, ?)',
    );
    const insertKey = this.#db.prepare(
      'INSERT OR REPLACE INTO enc_keys (author, x25519, hlc) VALUES (?, ?, ?)',
    );
    const reject = this.#db.prepare(
      'INSERT INTO rejected (source, line, author, reason) VALUES (?, ?, ?, ?)',
    );
    const setFile = this.#db.prepare(
      'INSERT OR REPLACE INTO files (name, offset, lines, last_hlc) VALUES (?, ?, ?, ?)',
    );
    for (const [i, source] of sources.entries()) {
      const known = offsets.get(source.name);
      const offset = known?.offset ?? 0;
      if ((sizes[i] ?? 0) === offset) continue;
      const bytes = await source.readFrom(offset);
      if (!bytes) continue;
      const end = bytes.lastIndexOf(0x0a);
      if (end < 0) continue;
      const text = bytes.subarray(0, end).toString('utf8');
      let lineNo = known?.lines ?? 0;
      let lastHlc = known?.last_hlc ?? null;
      this.#db.exec('BEGIN');
      try {
        for (const raw of text.split('\n')) {
          lineNo++;
          if (raw.trim() === '') continue;
          count++;
          const l = parseLine(raw);
          if (!l) {
            reject.run(source.name, lineNo, null, 'not a memory line');
            continue;
          }
          const key = reader.keyOf(l.author);
          if (!key) {
            reject.run(source.name, lineNo, l.author, `${l.author} is not a verified member`);
            continue;
          }
          if (!verifyLine(l, key)) {
            reject.run(source.name, lineNo, l.author, `not signed by ${l.author}`);
            continue;
          }
          if (source.name.startsWith('team:') && source.name !== `team:memory/${agentId(l.author)}.jsonl`) {
            reject.run(source.name, lineNo, l.author, `${l.author}'s line in another agent's file`);
            continue;
          }
          if (lastHlc !== null && l.hlc <= lastHlc) {
            reject.run(
              source.name,
              lineNo,
              l.author,
              'dated before the line above it (backdated or reordered)',
            );
            continue;
          }
          lastHlc = l.hlc;
          if (maxHlc === null || l.hlc > maxHlc) maxHlc = l.hlc;
          if (l.op === 'key') {
            insertKey.run(l.author, l.x25519!, l.hlc);
            continue;
          }
          insertLine.run(l.key!, l.op, l.author, l.hlc, raw);
          touched.add(l.key!);
        }
        setFile.run(source.name, offset + end + 1, lineNo, lastHlc);
        this.#db.exec('COMMIT');
      } catch (err) {
        this.#db.exec('ROLLBACK');
        throw err;
      }
    }
    if (rebuilt || readerChanged) this.setMeta('reader', reader0);
    if (maxHlc !== null) this.setMeta('hlc', maxHlc);
    this.#db.exec('BEGIN');
    try {
      for (const key of touched) this.#recompute(key, reader);
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
    return { lines: count, rebuilt };
  }

  #linesOf(key: string): MemoryLine[] {
    return (this.#q.linesOf.all(key) as { raw: string }[]).map((r) => JSON.parse(r.raw) as MemoryLine);
  }

  #recompute(key: string, reader: Reader): void {
    const view = mergeKey(this.#linesOf(key), reader.isAdmin);
    const old = this.#q.entryRid.get(key) as { rid: number } | undefined;
    if (old) {
      this.#q.delFts.run(old.rid);
      this.#q.delEntry.run(old.rid);
    }
    const cur = view?.current;
    if (!view || !cur) return;
    const value = readableValue(cur, reader);
    const tags = JSON.stringify(cur.tags ?? []);
    const res = this.#q.insEntry.run(
      key,
      view.owner,
      cur.author,
      cur.hlc,
      cur.scope!,
      tags,
      value,
      value === null ? 0 : 1,
    );
    if (value !== null)
      this.#q.insFts.run(Number(res.lastInsertRowid), key, value, (cur.tags ?? []).join(' '));
  }

  /** The latest clock value of any line indexed (a writer's next value follows it). */
  lastHlc(): string | null {
    return this.meta('hlc');
  }

  private meta(k: string): string | null {
    return (
      (this.#db.prepare('SELECT v FROM meta WHERE k = ?').get(k) as { v: string } | undefined)?.v ?? null
    );
  }

  private setMeta(k: string, v: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)').run(k, v);
  }

  encryptionKeyOf(author: string): string | null {
    return (
      (
        this.#db.prepare('SELECT x25519 FROM enc_keys WHERE author = ?').get(author) as
          | { x25519: string }
          | undefined
      )?.x25519 ?? null
    );
  }

  /** The view of a key (owner, versions, ignored lines), whether this instance may read it or not. */
  view(key: string, reader: Reader): KeyView | null {
    return mergeKey(this.#linesOf(key), reader.isAdmin);
  }

  get(key: string): (Entry & { readable: boolean }) | null {
    const r = this.#db.prepare('SELECT * FROM entries WHERE key = ?').get(key) as
      | Record<string, string | number | null>
      | undefined;
    return r ? { ...toEntry(r), readable: r.readable === 1 } : null;
  }

  list(filter: { scope?: string; by?: string; tag?: string } = {}): Entry[] {
    return (
      this.#db.prepare('SELECT * FROM entries WHERE readable = 1 ORDER BY key').all() as Record<
        string,
        string | number | null
      >[]
    )
      .map(toEntry)
      .filter((e) => !filter.scope || e.scope === filter.scope)
      .filter(
        (e) =>
          !filter.by ||
          e.author.toLowerCase() === filter.by.toLowerCase() ||
          e.owner.toLowerCase() === filter.by.toLowerCase(),
      )
      .filter((e) => !filter.tag || e.tags.includes(filter.tag));
  }

  /**
   * Full-text search over the entries this instance may read: BM25 (key and tags weigh more than the
   * value), then recency (an entry a month old counts half). At most `limit`.
   */
  search(query: string, limit = 10): (Entry & { score: number })[] {
    const match = ftsQuery(query);
    if (match === null) return [];
    const rows = this.#db
      .prepare(
        `SELECT e.*, bm25(entries_fts, 3.0, 1.0, 2.0) AS rank FROM entries_fts JOIN entries e ON e.rid = entries_fts.rowid
         WHERE entries_fts MATCH ? ORDER BY rank LIMIT ?`,
      )
      .all(match, Math.max(limit * 5, 50)) as (Record<string, string | number | null> & { rank: number })[];
    const now = Date.now();
    return rows
      .map((r) => {
        const e = toEntry(r);
        const ageDays = Math.max(0, (now - Date.parse(e.at)) / 86_400_000);
        return { ...e, score: -Number(r.rank) / (1 + ageDays / 30) };
      })
      .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1))
      .slice(0, limit);
  }

  rejected(): Rejected[] {
    return this.#db
      .prepare('SELECT source, line, author, reason FROM rejected ORDER BY source, line')
      .all() as unknown as Rejected[];
  }

  /** Keys with lines by others than their owner (and the admins): someone tried to change another's key. */
  contested(reader: Reader): { key: string; owner: string; by: string[] }[] {
    const keys = (this.#db.prepare('SELECT DISTINCT key FROM lines').all() as { key: string }[]).map(
      (r) => r.key,
    );
    const out: { key: string; owner: string; by: string[] }[] = [];
    for (const key of keys) {
      const v = this.view(key, reader);
      if (v && v.ignored.length > 0)
        out.push({ key, owner: v.owner, by: [...new Set(v.ignored.map((l) => l.author))] });
    }
    return out;
  }
}

function toEntry(r: Record<string, string | number | null>): Entry {
  return {
    key: String(r.key),
    value: r.value === null ? '' : String(r.value),
    scope: String(r.scope),
    tags: JSON.parse(String(r.tags)) as string[],
    author: String(r.author),
    owner: String(r.owner),
    hlc: String(r.hlc),
    at: atOf(String(r.hlc)),
  };
}

/** The value this instance may read: plain for team and private, decrypted for agent:NAME; else null. */
function readableValue(l: MemoryLine, reader: Reader): string | null {
  if (l.scope === 'team' || l.scope === 'private') return l.value ?? null;
  if (l.enc && reader.encryptionKey) return decryptAs(l.enc, agentId(reader.self), reader.encryptionKey);
  return null;
}

/** Words too common to say what a prompt is about. */
const STOPWORDS = new Set(
  'a an and are as at be but by can could did do does for from had has have he her him his how i if in into is it its me my no not of on or our she so that the their them then there these they this to was we were what when where which who why will with would you your about after again all also any because been before being both each few more most other over same should some such than too under until very up down out just now only own yes hi hello please ok user asks ask said says want wants need needs'.split(
    ' ',
  ),
);

/**
 * An FTS5 query for free text: each word quoted (no operators from the user), common words left out, any
 * word matches.
 */
export function ftsQuery(text: string): string | null {
  const all = text.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [];
  const words = [...new Set(all.filter((w) => !STOPWORDS.has(w)))].slice(0, 32);
  return words.length === 0 ? null : words.map((w) => `"${w}"`).join(' OR ');
}
