import type { InstanceConfig } from '../../config/index.js';
import type { OutboxMessage, PresenceSnapshot } from '../../federation/index.js';
import type { NoticeFeed } from '../../notices/index.js';
import type { Registry } from '../../registry/index.js';
import type { TeamStore } from '../../team/index.js';
import { DEFAULT_SHARED_MAX_BYTES } from '../../team/index.js';

/** What the daemon hands the viewer: its stores and the same functions the CLI commands use. */
export interface ViewerOptions {
  /** The team folder. */
  store: TeamStore;
  /** The current registry (AGENTS.md). */
  registry: () => Promise<Registry>;
  config: InstanceConfig & { name: string };
  /** What this instance knows of its peers (`readPresence(home)`). */
  presence: () => Promise<PresenceSnapshot>;
  /** The daemon's outbox. */
  outbox: {
    list(filter?: { state?: OutboxMessage['state'] | OutboxMessage['state'][] }): OutboxMessage[];
    retryNow(id: string): OutboxMessage;
    drop(id: string): OutboxMessage;
  };
  /** Compose: the same send path as `ois send`. */
  send: (to: string[] | 'all', body: string) => Promise<unknown>;
  /**
   * `required` when the daemon listens on a non-loopback address: every route but the login page then
   * needs `token` (cookie after the login form, or `Authorization: Bearer`).
   */
  auth: { required: boolean; token: string | null };
  /** The notices feed (`ois notices`): the team's and this daemon's, with what was read. */
  notices?: {
    read(options: { all: boolean }): Promise<NoticeFeed>;
    markRead(until: string): Promise<void>;
  };
  /** The tasks board, team memory and team skills (the same functions as ois task, memory, skills). */
  team?: {
    tasks(): Promise<{ from: string; to: string; status: string }[]>;
    task(id: string): Promise<unknown>;
    memory(filter: { q?: string; by?: string; tag?: string; limit: number }): Promise<unknown[]>;
    memoryHistory(key: string): Promise<unknown>;
    skills(): Promise<unknown[]>;
    skill(name: string): Promise<unknown>;
  };
  /** Poll period of the live feed (default 250 ms). */
  followIntervalMs?: number;
  /** Largest shared file (default 25 MiB). */
  sharedMaxBytes?: number;
}

/** The largest shared file the viewer takes: the upload route's body limit and the store's limit. */
export function sharedMaxBytes(opts: ViewerOptions): number {
  return opts.sharedMaxBytes ?? DEFAULT_SHARED_MAX_BYTES;
}
