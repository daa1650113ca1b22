import { setTimeout as sleep } from 'node:timers/promises';
import type { OrderedConsumerOptions } from '@nats-io/jetstream';
import {
  type ChatAppend,
  type ChatEntry,
  type ChatLog,
  DEFAULT_FOLLOW_GRACE_MS,
  dayHeader,
  entryMatcher,
  type FollowOptions,
  formatEntry,
  isChatDate,
  type ParsedChatEntry,
  type ParsedChatLog,
  parseChatLog,
  utcDate,
  validateDate,
} from '../chatlog/index.js';
import {
  DUPLICATE_WINDOW_MS,
  ensureStream,
  type NatsTeam,
  publishOnce,
  readStream,
  retryUntil,
} from './connection.js';
import { chatSubjectDate } from './names.js';

const encoder = new TextEncoder();
const NS_PER_MS = 1_000_000;
/** The day header's lines (`# <date> Chat Log` and a blank line), before a day's first entry. */
const HEADER_LINES = countNewlines(dayHeader('2026-01-01'));

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

export interface Stored {
  seq: number;
  text: string;
}

/**
 * The chat log on a JetStream stream (specs/nats.md): one message per entry, on
 * `ois.<team>.chat.<date>.<from>`, its payload the entry exactly as the day file holds it (specs/chat-log.md)
 * and its `Nats-Msg-Id` the entry's id. Reading a day concatenates that day's messages after the day header,
 * so it parses to what the folder would hold, line numbers included, and `ois export` writes those bytes.
 */
export class NatsChatLog implements ChatLog {
  readonly kind = 'nats';
  readonly dedupes = true;
  readonly #team: NatsTeam;

  private constructor(team: NatsTeam) {
    this.#team = team;
  }

  /** The team's chat log; creates its stream when this is the first instance. */
  static async open(team: NatsTeam): Promise<NatsChatLog> {
    await ensureStream(team, {
      name: team.names.chatStream,
      subjects: [team.names.chatSubjects],
      retention: 'limits',
      storage: 'file',
      num_replicas: team.replicas,
      duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
      discard: 'old',
    });
    return new NatsChatLog(team);
  }

  async append(entry: ChatEntry): Promise<ChatAppend> {
    // Rendering checks the entry as the folder does: a bad one throws before anything is published.
    const rendered = formatEntry(entry);
    // Published as its writer: an exchange logs the peer's reply too, under the sender's own subject.
    const subject = this.#team.names.chatSubject(entry.at.slice(0, 10), this.#team.self ?? entry.from);
    const { duplicate } = await publishOnce(this.#team, subject, encoder.encode(rendered), entry.id);
    return { duplicate };
  }

  async days(): Promise<string[]> {
    const { names, jsm } = this.#team;
    const info = await retryUntil(this.#team, 'list the chat days', () =>
      jsm.streams.info(names.chatStream, { subjects_filter: names.chatSubjects }),
    );
    const dates = new Set<string>();
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const date = chatSubjectDate(subject);
      if (date !== null && isChatDate(date)) dates.add(date);
    }
    return [...dates].sort();
  }

  async readDay(date: string): Promise<ParsedChatLog> {
    validateDate(date);
    const stored = await retryUntil(this.#team, `read the chat of ${date}`, () => this.#day(date));
    if (stored.length === 0) return { entries: [], problems: [] };
    return parseChatLog(dayHeader(date) + stored.map((s) => s.text).join(''), date);
  }

  /** How many entries the stream holds for one day (the log is append-only: the count is its version). */
  async dayCount(date: string): Promise<number> {
    const { names, jsm } = this.#team;
    const filter = names.chatDay(date);
    const info = await retryUntil(this.#team, `read the chat of ${date}`, () =>
      jsm.streams.info(names.chatStream, { subjects_filter: filter }),
    );
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  }

  /**
   * One day's entries stored after sequence `afterSeq`, oldest first, each as its text and sequence: what a
   * reader that has the day's first `have` entries, up to `afterSeq`, appends to it (the team store's day
   * files, specs/nats.md).
   */
  dayAfter(date: string, afterSeq: number, have: number): Promise<Stored[]> {
    validateDate(date);
    return retryUntil(this.#team, `read the chat of ${date}`, () =>
      this.#day(date, Number.POSITIVE_INFINITY, afterSeq, have),
    );
  }

  /**
   * One day's messages, oldest first, after `afterSeq` and up to `beforeSeq` (exclusive) when given; none
   * when the day holds no more than the `have` a caller already read (a reader would wait for more in vain).
   */
  async #day(date: string, beforeSeq = Number.POSITIVE_INFINITY, afterSeq = 0, have = 0): Promise<Stored[]> {
    const { names, jsm } = this.#team;
    const filter = names.chatDay(date);
    const info = await jsm.streams.info(names.chatStream, { subjects_filter: filter });
    const total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    if (total <= have || info.state.last_seq <= afterSeq) return [];
    const out: Stored[] = [];
    const done = new AbortController();
    let last = afterSeq;
    await readStream(
      this.#team,
      names.chatStream,
      {
        filter,
        start: () =>
          last === 0
            ? { deliver_policy: 'all' }
            : { deliver_policy: 'by_start_sequence', opt_start_seq: last + 1 },
        // It stops at the day's last message, so a reader that idles before is stuck.
        expectMore: async () => true,
        signal: done.signal,
      },
      (m) => {
        if (m.seq >= beforeSeq) return done.abort();
        last = m.seq;
        out.push({ seq: m.seq, text: m.string() });
        if (m.info.pending === 0) done.abort();
      },
    );
    return out;
  }

  async follow(options: FollowOptions, onEntry: (entry: ParsedChatEntry) => void): Promise<void> {
    const { signal } = options;
    if (signal.aborted) return;
    const now = options.now ?? (() => new Date());
    const matches = entryMatcher(options);
    const { names, jsm } = this.#team;

    // Where to start: after the last message there is now (`end`), or at today's first entry (`start`,
    // from a little before UTC midnight so that a writer whose clock runs ahead is not missed).
    let start: Partial<OrderedConsumerOptions>;
    const today = utcDate(now());
    const { state } = await retryUntil(this.#team, 'find the end of the chat log', () =>
      jsm.streams.info(names.chatStream),
    );
    // What the stream held when following began: a reader idle below it is not stuck.
    const floor = state.last_seq;
    if ((options.from ?? 'end') === 'end') {
      start = { deliver_policy: 'by_start_sequence', opt_start_seq: floor + 1 };
    } else {
      const midnight = Date.parse(`${today}T00:00:00.000Z`) - DEFAULT_FOLLOW_GRACE_MS;
      start = { deliver_policy: 'by_start_time', opt_start_time: new Date(midnight).toISOString() };
    }
    let last = 0;
    options.onReady?.();

    // Lines already in each day's file before the next entry, so entries keep the line numbers they have
    // in readDay and in an export; counted once per day, from that day's earlier messages.
    const lines = new Map<string, number>();
    const linesBefore = async (date: string, seq: number): Promise<number> => {
      let count = lines.get(date);
      if (count === undefined) {
        const earlier = await retryUntil(this.#team, `read the chat of ${date}`, () => this.#day(date, seq));
        count = HEADER_LINES + earlier.reduce((n, s) => n + countNewlines(s.text), 0);
      }
      return count;
    };
    // The folder follower reads today's file, and yesterday's for a grace period after midnight.
    let current = today;
    let graceUntil = 0;
    const wanted = (date: string): boolean => {
      const clock = now();
      const day = utcDate(clock);
      if (day !== current) {
        current = day;
        graceUntil = clock.getTime() + DEFAULT_FOLLOW_GRACE_MS;
      }
      return date === day || (date < day && clock.getTime() < graceUntil && date >= previousDay(day));
    };

    // A new reader (after a lost node) resumes after the last message seen.
    await readStream(
      this.#team,
      names.chatStream,
      {
        filter: names.chatSubjects,
        start: () => (last === 0 ? start : { deliver_policy: 'by_start_sequence', opt_start_seq: last + 1 }),
        expectMore: async () =>
          (await jsm.streams.info(names.chatStream)).state.last_seq > Math.max(last, floor),
        signal,
        ...(options.onError ? { onRestart: (reason: string) => options.onError?.(new Error(reason)) } : {}),
      },
      async (m) => {
        last = m.seq;
        const date = chatSubjectDate(m.subject);
        if (date === null || !isChatDate(date)) return;
        const text = m.string();
        let first: number;
        try {
          first = await linesBefore(date, m.seq);
        } catch (err) {
          if (!options.onError) throw err;
          options.onError(err);
          return;
        }
        lines.set(date, first + countNewlines(text));
        if (!wanted(date)) return;
        for (const entry of parseChatLog(text, date, { firstLine: first + 1 }).entries) {
          if (signal.aborted) return;
          if (matches(entry)) onEntry(entry);
        }
      },
    );
    // The connection closed before the abort: wait for it, as the folder's follower does.
    while (!signal.aborted) await sleep(100, undefined, { signal }).catch(() => {});
  }
}

function previousDay(date: string): string {
  return utcDate(new Date(Date.parse(`${date}T00:00:00.000Z`) - 86_400_000));
}
