import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { OisError } from '../errors.js';
import { TEAM_PATHS, type TeamStore } from '../team/index.js';
import {
  type ChatEntry,
  closeTornTail,
  formatEntry,
  isChatDate,
  type ParsedChatEntry,
  type ParsedChatLog,
  parseChatLog,
  SEPARATOR,
  utcDate,
} from './format.js';
import { DayScanner } from './search.js';

export const DEFAULT_FOLLOW_INTERVAL_MS = 500;
/**
 * After UTC midnight a follower keeps reading yesterday's file this long: a writer whose clock lags, or
 * whose entry was stamped just before midnight, still appends there.
 */
export const DEFAULT_FOLLOW_GRACE_MS = 120_000;

/** Day files a search reads ahead of the one it scans. */
const READ_AHEAD = 4;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.md$/;
const DURATION = /^(\d{1,9})([mhdw])$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
// A complete entry ends with the separator line; a follower cuts the data it has read right after one.
const SEPARATOR_END = Buffer.from(`\n${SEPARATOR}\n`);

/** `chat/<date>.md`, relative to the team folder. */
export function dayFile(date: string): string {
  return `${TEAM_PATHS.chat}/${date}.md`;
}

/**
 * Checks a `YYYY-MM-DD` date given by a user (a real calendar date) and returns it.
 * Throws `OIS_ERR_USAGE` otherwise.
 */
export function validateDate(date: string): string {
  if (isChatDate(date)) return date;
  throw new OisError('OIS_ERR_USAGE', `not a date: ${JSON.stringify(date)}`, {
    hint: 'write the date as YYYY-MM-DD, e.g. 2026-11-21',
  });
}

/**
 * Reads a duration such as `30m`, `12h`, `3d` or `2w` into milliseconds. Throws `OIS_ERR_USAGE` otherwise.
 * @example parseDuration('3d') // 259200000
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const amount = match ? Number(match[1]) : 0;
  if (!match || amount <= 0) {
    throw new OisError('OIS_ERR_USAGE', `not a duration: ${JSON.stringify(text)}`, {
      hint: 'use a whole number and a unit: 30m (minutes), 12h (hours), 3d (days) or 2w (weeks)',
    });
  }
  return amount * UNIT_MS[match[2]!]!;
}

/**
 * Appends one entry to `chat/<UTC date of entry.at>.md` in one write under the file's lock. A new file gets
 * the day header first; an entry a crashed writer left open is closed first (see `closeTornTail`).
 */
export async function appendEntry(store: TeamStore, entry: ChatEntry): Promise<{ path: string }> {
  // Render before taking the lock: a bad entry throws without touching the file, and the lock is held only
  // for the write itself.
  const rendered = formatEntry(entry);
  const date = entry.at.slice(0, 10);
  const path = dayFile(date);
  await store.ensureDir(TEAM_PATHS.chat);
  await store.append(path, (tail) => closeTornTail(tail, date) + rendered);
  return { path };
}

/** The days that have a log, `YYYY-MM-DD`, oldest first. */
export async function listDays(store: TeamStore): Promise<string[]> {
  const names = await store.list(TEAM_PATHS.chat);
  return names
    .map((name) => DAY_FILE.exec(name)?.[1])
    .filter((date): date is string => date !== undefined && isChatDate(date))
    .sort();
}

/** One day's log, parsed; empty when there is no file for that day. */
export async function readDay(store: TeamStore, date: string): Promise<ParsedChatLog> {
  validateDate(date);
  const data = await store.read(dayFile(date));
  if (data === null) return { entries: [], problems: [] };
  return parseChatLog(data.toString('utf8'), date);
}

export interface ChatFilter {
  /** Entries sent by this agent or to it (case-insensitive). */
  with?: string;
  /** Case-insensitive substring of the body. */
  grep?: string;
}

export interface ChatQuery extends ChatFilter {
  /** One day, `YYYY-MM-DD`. */
  date?: string;
  /** Entries at or after this instant, across as many day files as it takes. */
  since?: Date;
  /** Every day file there is (when neither `date` nor `since` is given). */
  allDays?: boolean;
  /** What "today" is when neither `date` nor `since` is given (default: the clock). */
  now?: Date;
}

/** The test behind `with` and `grep`, for every backend's reader and follower. */
export function entryMatcher(filter: ChatFilter): (entry: ParsedChatEntry) => boolean {
  const who = filter.with?.trim().toLowerCase();
  const grep = filter.grep?.toLowerCase();
  return (entry) => {
    if (
      who &&
      entry.from.trim().toLowerCase() !== who &&
      !entry.to.some((t) => t.trim().toLowerCase() === who)
    ) {
      return false;
    }
    return !grep || entry.body.toLowerCase().includes(grep);
  };
}

/**
 * Reads day files into buffers that are used again for later days: a search reads every file once, and a
 * fresh buffer per file costs more in page faults than the read itself. `slot` picks one of the buffers, so
 * that later days can be read while this one is scanned. Falls back to `store.read` for a store that is not
 * a local folder, and on any error (which `store.read` then reports as it should).
 */
class DayReader {
  readonly #store: TeamStore;
  readonly #buffers: Buffer[] = [];

  constructor(store: TeamStore) {
    this.#store = store;
  }

  async read(date: string, slot: number): Promise<{ data: Buffer; length: number } | null> {
    const rel = dayFile(date);
    const path = (this.#store as { path?: (rel: string) => string }).path?.(rel);
    if (path === undefined) return this.#fallback(rel);
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(path, 'r');
      let data = this.#buffers[slot] ?? Buffer.alloc(0);
      let length = 0;
      // To the end, as readFile does: a writer may be appending.
      for (;;) {
        if (length === data.length) {
          const grown = Buffer.allocUnsafe(Math.max(1 << 20, data.length * 2));
          data.copy(grown, 0, 0, length);
          data = grown;
          this.#buffers[slot] = grown;
        }
        const { bytesRead } = await handle.read(data, length, data.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return { data, length };
    } catch {
      return this.#fallback(rel);
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  async #fallback(rel: string): Promise<{ data: Buffer; length: number } | null> {
    const data = await this.#store.read(rel);
    return data === null ? null : { data, length: data.length };
  }
}

/**
 * Entries of one day (`date`), since an instant (`since`, spanning day files), of every day (`allDays`), or of
 * today (UTC), filtered by `with` and `grep`, in file order. With `grep`, each file's bytes are scanned first
 * and only the entries around a hit are parsed (see `./search.ts`); the results are the same as parsing all.
 */
export async function queryChat(store: TeamStore, query: ChatQuery = {}): Promise<ParsedChatEntry[]> {
  if (query.since !== undefined && Number.isNaN(query.since.getTime())) {
    throw new OisError('OIS_ERR_USAGE', 'invalid "since" time', {
      hint: 'give a duration such as 3d or 12h',
    });
  }
  let days: string[];
  if (query.date !== undefined) days = [validateDate(query.date)];
  else if (query.since !== undefined) {
    const first = utcDate(query.since);
    days = (await listDays(store)).filter((day) => day >= first);
  } else if (query.allDays) days = await listDays(store);
  else days = [utcDate(query.now ?? new Date())];

  const matches = entryMatcher(query);
  const sinceMs = query.since?.getTime();
  const result: ParsedChatEntry[] = [];
  const keep = (entry: ParsedChatEntry) => {
    if (sinceMs !== undefined && Date.parse(entry.at) < sinceMs) return;
    if (matches(entry)) result.push(entry);
  };
  if (!query.grep) {
    for (const day of days) for (const entry of (await readDay(store, day)).entries) keep(entry);
    return result;
  }
  const scanner = new DayScanner(query.grep);
  const reader = new DayReader(store);
  // A few days are read ahead while one is scanned: each read takes several trips to the thread pool, and
  // each trip waits for the scan to yield. A read that fails is reported when its day's turn comes.
  const slots = READ_AHEAD + 1;
  const reads: Promise<{ data: Buffer; length: number } | null>[] = [];
  const start = (i: number) => {
    const read = reader.read(days[i]!, i % slots);
    read.catch(() => {});
    reads[i] = read;
  };
  for (let i = 0; i < Math.min(READ_AHEAD, days.length); i++) start(i);
  for (let i = 0; i < days.length; i++) {
    const file = await reads[i]!;
    if (i + READ_AHEAD < days.length) start(i + READ_AHEAD);
    if (file !== null) for (const entry of scanner.candidates(file.data, file.length, days[i]!)) keep(entry);
  }
  return result;
}

export interface FollowOptions extends ChatFilter {
  /** Stops following; `followChat` resolves once it is aborted. */
  signal: AbortSignal;
  /**
   * `end` (default): only entries that are completed after the call, plus one that was being written when
   * it started (like `tail -f`). `start`: today's entries from the beginning of the file first.
   */
  from?: 'start' | 'end';
  /** Poll period; fs.watch does not see writes made by other machines on NFS or SMB. */
  intervalMs?: number;
  /** The clock, for tests of the midnight roll-over. */
  now?: () => Date;
  /**
   * Storage errors while polling (an NFS mount that hiccups) go here and polling goes on; without it the
   * first error rejects the returned promise.
   */
  onError?: (err: unknown) => void;
  /** Called once the follower has its starting point: every entry appended after this is seen. */
  onReady?: () => void;
}

interface Cursor {
  date: string;
  offset: number;
  /** Lines before `offset`, so entries keep their line numbers. */
  lines: number;
  /** Bytes read after the last complete entry. */
  pending: Buffer;
}

function countNewlines(data: Buffer): number {
  let count = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) count++;
  return count;
}

/**
 * Polls today's log and calls `onEntry` for each complete entry (ended by its separator) as it appears. Data
 * after the last separator is kept until the writer completes it (or the next writer closes it as torn).
 * At UTC midnight it moves on to the new day's file, and keeps reading yesterday's for a grace period.
 */
export async function followChat(
  store: TeamStore,
  options: FollowOptions,
  onEntry: (entry: ParsedChatEntry) => void,
): Promise<void> {
  const { signal } = options;
  const interval = options.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
  const now = options.now ?? (() => new Date());
  const matches = entryMatcher(options);

  const open = async (date: string, from: 'start' | 'end'): Promise<Cursor> => {
    const cursor: Cursor = { date, offset: 0, lines: 0, pending: Buffer.alloc(0) };
    if (from === 'end') {
      const data = (await store.read(dayFile(date))) ?? Buffer.alloc(0);
      const cut = data.lastIndexOf(SEPARATOR_END);
      const end = cut < 0 ? 0 : cut + SEPARATOR_END.length;
      cursor.offset = end;
      cursor.lines = countNewlines(data.subarray(0, end));
    }
    return cursor;
  };

  const poll = async (cursor: Cursor): Promise<void> => {
    const data = await store.readFrom(dayFile(cursor.date), cursor.offset + cursor.pending.length);
    if (data === null || data.length === 0) return;
    cursor.pending = Buffer.concat([cursor.pending, data]);
    const cut = cursor.pending.lastIndexOf(SEPARATOR_END);
    if (cut < 0) return;
    const complete = cursor.pending.subarray(0, cut + SEPARATOR_END.length);
    const { entries } = parseChatLog(complete.toString('utf8'), cursor.date, { firstLine: cursor.lines + 1 });
    cursor.offset += complete.length;
    cursor.lines += countNewlines(complete);
    cursor.pending = Buffer.from(cursor.pending.subarray(complete.length));
    for (const entry of entries) {
      if (!signal.aborted && matches(entry)) onEntry(entry);
    }
  };

  if (signal.aborted) return;
  let today = utcDate(now());
  let cursors: Cursor[];
  try {
    cursors = [await open(today, options.from ?? 'end')];
  } catch (err) {
    if (!options.onError) throw err;
    options.onError(err);
    cursors = [{ date: today, offset: 0, lines: 0, pending: Buffer.alloc(0) }];
  }
  options.onReady?.();
  let graceUntil = 0;

  while (!signal.aborted) {
    const clock = now();
    const date = utcDate(clock);
    if (date !== today) {
      // A new day: its file starts empty, so read it from the start; keep the old one for the grace period.
      today = date;
      cursors = [
        ...cursors.filter((c) => c.date !== date),
        { date, offset: 0, lines: 0, pending: Buffer.alloc(0) },
      ];
      graceUntil = clock.getTime() + DEFAULT_FOLLOW_GRACE_MS;
    }
    if (cursors.length > 1 && clock.getTime() >= graceUntil) {
      cursors = cursors.filter((c) => c.date === today);
    }
    for (const cursor of cursors) {
      try {
        await poll(cursor);
      } catch (err) {
        if (!options.onError) throw err;
        options.onError(err);
      }
    }
    try {
      await sleep(interval, undefined, { signal });
    } catch {
      // aborted
    }
  }
}
