import { TEMP_PREFIX } from './atomic.js';
import { inTurn, normPath as norm } from './queue.js';
import type { EntryInfo, TeamStore } from './store.js';

/**
 * A team folder in memory: the reference implementation of the TeamStore contract besides the file system
 * (tests/team-store.test.ts runs one suite against both), and a store for tests and embeddings that need no
 * disk. One process only: its locks are promise queues, not lock directories.
 */
export class MemoryTeamStore implements TeamStore {
  readonly root: string;
  readonly #files = new Map<string, { data: Buffer; mtimeMs: number; version: number }>();
  readonly #dirs = new Set<string>(['']);
  readonly #locks = new Map<string, Promise<unknown>>();
  #clock = 0;

  constructor(root = 'memory:') {
    this.root = root;
  }

  async read(rel: string): Promise<Buffer | null> {
    const f = this.#files.get(norm(rel));
    return f ? Buffer.from(f.data) : null;
  }

  async readFrom(rel: string, offset: number): Promise<Buffer | null> {
    const f = await this.read(rel);
    return f === null ? null : f.subarray(Math.min(offset, f.length));
  }

  async readFile(rel: string): Promise<Buffer | null> {
    return this.read(rel);
  }

  async writeAtomic(rel: string, data: string | Uint8Array): Promise<void> {
    const key = norm(rel);
    this.#mkdirs(parent(key));
    const previous = this.#files.get(key);
    this.#files.set(key, {
      data: Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data),
      mtimeMs: Date.now(),
      version: (previous?.version ?? 0) + 1 + this.#clock++,
    });
  }

  async append(rel: string, render: (tail: string) => string): Promise<void> {
    await this.withLock(rel, async () => {
      const current = (await this.read(rel)) ?? Buffer.alloc(0);
      const tail = current.subarray(Math.max(0, current.length - 512)).toString('utf8');
      await this.writeAtomic(rel, Buffer.concat([current, Buffer.from(render(tail), 'utf8')]));
    });
  }

  async withLock<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    return inTurn(this.#locks, norm(rel), fn);
  }

  async list(rel: string): Promise<string[]> {
    const dir = norm(rel);
    const prefix = dir === '' ? '' : `${dir}/`;
    const names = new Set<string>();
    for (const key of [...this.#files.keys(), ...this.#dirs]) {
      if (key === dir || !key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length).split('/')[0]!;
      if (name !== '' && !name.startsWith(TEMP_PREFIX) && !name.endsWith('.lock')) names.add(name);
    }
    return [...names].sort();
  }

  async size(rel: string): Promise<number | null> {
    return this.#files.get(norm(rel))?.data.length ?? null;
  }

  async ensureDir(rel: string): Promise<void> {
    this.#mkdirs(norm(rel));
  }

  async stat(rel: string): Promise<EntryInfo | null> {
    const key = norm(rel);
    const f = this.#files.get(key);
    if (f) return { kind: 'file', size: f.data.length, mtimeMs: f.mtimeMs, version: String(f.version) };
    return this.#dirs.has(key) ? { kind: 'dir', size: 0, mtimeMs: 0, version: 'dir' } : null;
  }

  async remove(rel: string): Promise<boolean> {
    return this.#files.delete(norm(rel));
  }

  #mkdirs(dir: string): void {
    for (let d = dir; d !== ''; d = parent(d)) this.#dirs.add(d);
  }
}

function parent(key: string): string {
  const at = key.lastIndexOf('/');
  return at < 0 ? '' : key.slice(0, at);
}
