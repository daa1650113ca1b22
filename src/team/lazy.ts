import { OisError } from '../errors.js';
import type { EntryInfo, PeerEnvelope, TeamStore } from './store.js';

/**
 * A store whose implementation is loaded on first use: the CLI names a team on NATS without loading the NATS
 * client for a command that never touches the team (and keeps its start-up small). Every call waits for the
 * loaded store and forwards to it.
 */
export class LazyTeamStore implements TeamStore {
  readonly root: string;
  readonly #load: () => Promise<TeamStore>;
  #store: Promise<TeamStore> | undefined;

  constructor(root: string, load: () => Promise<TeamStore>) {
    this.root = root;
    this.#load = load;
  }

  /** The loaded store. */
  store(): Promise<TeamStore> {
    this.#store ??= this.#load();
    return this.#store;
  }

  async read(rel: string): Promise<Buffer | null> {
    return (await this.store()).read(rel);
  }
  async readFrom(rel: string, offset: number): Promise<Buffer | null> {
    return (await this.store()).readFrom(rel, offset);
  }
  async writeAtomic(rel: string, data: string | Uint8Array): Promise<void> {
    return (await this.store()).writeAtomic(rel, data);
  }
  async append(rel: string, render: (tail: string) => string): Promise<void> {
    return (await this.store()).append(rel, render);
  }
  async withLock<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    return (await this.store()).withLock(rel, fn);
  }
  async list(rel: string): Promise<string[]> {
    return (await this.store()).list(rel);
  }
  async size(rel: string): Promise<number | null> {
    return (await this.store()).size(rel);
  }
  async ensureDir(rel: string): Promise<void> {
    return (await this.store()).ensureDir(rel);
  }
  async stat(rel: string): Promise<EntryInfo | null> {
    return (await this.store()).stat(rel);
  }
  async readFile(rel: string): Promise<Buffer | null> {
    return (await this.store()).readFile(rel);
  }
  async remove(rel: string): Promise<boolean> {
    return (await this.store()).remove(rel);
  }
  async deliver(envelope: PeerEnvelope): Promise<{ duplicate: boolean }> {
    const store = await this.store();
    if (!store.deliver) {
      throw new OisError('OIS_ERR_NATS_NO_INBOX', `the team ${this.root} carries no envelopes`, {
        hint: 'peers are reached over HTTP',
      });
    }
    return store.deliver(envelope);
  }
  async close(): Promise<void> {
    if (this.#store === undefined) return;
    const store = await this.#store.catch(() => null);
    await store?.close?.();
  }
}
