import type { TeamStore } from '../team/index.js';
import type { ChatEntry, ParsedChatEntry, ParsedChatLog } from './format.js';
import { appendEntry, type FollowOptions, followChat, listDays, readDay } from './log.js';

/** What an append did. */
export interface ChatAppend {
  /**
   * True when the log already held an entry with this id and this append stored nothing (a backend that
   * `dedupes`). A caller that lost the answer to an append can repeat it: the entry is there once.
   */
  duplicate: boolean;
}

/**
 * The team's chat log as a seam: the folder's day files (`FolderChatLog`, the default) or a NATS JetStream
 * stream (`src/nats/`). One contract suite (tests/chatlog-contract.test.ts) runs against every backend, so
 * the commands and the viewer can use either without knowing which.
 */
export interface ChatLog {
  /** `folder` or `nats`, for messages to the user. */
  readonly kind: string;
  /**
   * True when appending an entry whose id is already in the log stores nothing (NATS: `Nats-Msg-Id` within
   * the stream's duplicate window). The folder does not: its one writer appends under a lock and never
   * needs to repeat a write whose outcome it lost.
   */
  readonly dedupes: boolean;
  /** Appends one entry to the day of `entry.at` (UTC). A bad entry throws before anything is stored. */
  append(entry: ChatEntry): Promise<ChatAppend>;
  /** The days that have entries, `YYYY-MM-DD`, oldest first. */
  days(): Promise<string[]>;
  /**
   * One day's entries in the order they were appended, each with the line of its heading in that day's
   * file (on NATS: in the file `ois export` would write); empty when the day has none.
   */
  readDay(date: string): Promise<ParsedChatLog>;
  /** Calls `onEntry` for each new entry until `options.signal` is aborted (see `followChat`). */
  follow(options: FollowOptions, onEntry: (entry: ParsedChatEntry) => void): Promise<void>;
}

/** The chat log in the team folder's `chat/YYYY-MM-DD.md` files: today's functions behind the seam. */
export class FolderChatLog implements ChatLog {
  readonly kind = 'folder';
  readonly dedupes = false;
  readonly #store: TeamStore;

  constructor(store: TeamStore) {
    this.#store = store;
  }

  async append(entry: ChatEntry): Promise<ChatAppend> {
    await appendEntry(this.#store, entry);
    return { duplicate: false };
  }

  days(): Promise<string[]> {
    return listDays(this.#store);
  }

  readDay(date: string): Promise<ParsedChatLog> {
    return readDay(this.#store, date);
  }

  follow(options: FollowOptions, onEntry: (entry: ParsedChatEntry) => void): Promise<void> {
    return followChat(this.#store, options, onEntry);
  }
}
