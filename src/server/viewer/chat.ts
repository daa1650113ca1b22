import {
  dayFile,
  listDays,
  type ParsedChatEntry,
  parseChatLog,
  queryChat,
  summaryLine,
  validateDate,
} from '../../chatlog/index.js';
import type { TeamStore } from '../../team/index.js';

/** What the viewer sends for one chat entry. */
export interface ViewerEntry {
  id: string;
  /** ISO-8601 UTC; the page shows it in the viewer's time zone. */
  at: string;
  from: string;
  to: string[];
  kind: string;
  replyTo: string | null;
  body: string;
  /** One word for the whole entry: the outcome when all recipients share it, else `mixed`; null if none. */
  outcome: string | null;
  /** The summary line the log writes, e.g. `→ beta: delivered (0.4 s)`. */
  summary: string;
  deliveries: ParsedChatEntry['deliveries'];
  torn: boolean;
  legacy: boolean;
}

export function toViewerEntry(e: ParsedChatEntry): ViewerEntry {
  const outcomes = [...new Set(e.deliveries.map((d) => d.outcome))];
  let summary = '';
  try {
    summary = summaryLine(e);
  } catch {
    // A legacy entry without deliveries: no summary.
  }
  return {
    id: e.id,
    at: e.at,
    from: e.from,
    to: e.to,
    kind: e.kind,
    replyTo: e.replyTo ?? null,
    body: e.body,
    outcome: outcomes.length === 0 ? null : outcomes.length === 1 ? outcomes[0]! : 'mixed',
    summary,
    deliveries: e.deliveries,
    torn: e.torn === true,
    legacy: e.legacy === true,
  };
}

export function involves(e: { from: string; to: string[] }, who: string | undefined): boolean {
  const w = who?.trim().toLowerCase();
  if (!w) return true;
  return e.from.trim().toLowerCase() === w || e.to.some((t) => t.trim().toLowerCase() === w);
}

/**
 * Parsed day files, kept while the file's size and mtime stay the same: a day of 10,000 entries is parsed
 * once, and every page after that is a slice. Chat files only grow, so a changed key means "parse again".
 */
export class DayCache {
  readonly #store: TeamStore;
  readonly #days = new Map<string, { key: string; entries: ViewerEntry[] }>();
  readonly #max: number;

  constructor(store: TeamStore, max = 16) {
    this.#store = store;
    this.#max = max;
  }

  /** The store's version of the day file: it changes whenever the file does. */
  async #key(date: string): Promise<string | null> {
    return (await this.#store.stat(dayFile(date)))?.version ?? null;
  }

  async day(date: string): Promise<ViewerEntry[]> {
    validateDate(date);
    const key = await this.#key(date);
    if (key === null) return [];
    const hit = this.#days.get(date);
    if (hit?.key === key) {
      // Most recently used last, for the eviction below.
      this.#days.delete(date);
      this.#days.set(date, hit);
      return hit.entries;
    }
    const data = await this.#store.read(dayFile(date));
    if (data === null) return [];
    const entries = parseChatLog(data.toString('utf8'), date).entries.map(toViewerEntry);
    this.#days.delete(date);
    this.#days.set(date, { key, entries });
    while (this.#days.size > this.#max) {
      const oldest = this.#days.keys().next().value;
      if (oldest === undefined) break;
      this.#days.delete(oldest);
    }
    return entries;
  }

  days(): Promise<string[]> {
    return listDays(this.#store);
  }
}

export interface ViewerSearch {
  /** Case-insensitive text of the body, as `ois chat --grep`; none: every entry. */
  grep?: string | undefined;
  with?: string | undefined;
  /** From this instant on; none: every day there is. */
  since?: Date | undefined;
  /** At most this many, the newest. */
  limit: number;
}

/**
 * The viewer's search: `queryChat`, the function behind `ois chat --grep`, over every day (or since an
 * instant), answering the newest `limit` matches in file order and how many there were.
 */
export async function searchChat(
  store: TeamStore,
  search: ViewerSearch,
): Promise<{ total: number; entries: ViewerEntry[]; truncated: boolean }> {
  const found = await queryChat(store, {
    ...(search.grep === undefined ? {} : { grep: search.grep }),
    ...(search.with === undefined ? {} : { with: search.with }),
    ...(search.since === undefined ? { allDays: true } : { since: search.since }),
  });
  const entries = found.slice(Math.max(0, found.length - search.limit)).map(toViewerEntry);
  return { total: found.length, entries, truncated: found.length > entries.length };
}
