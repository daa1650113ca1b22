import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isOisError, storageError } from '../errors.js';
import { TEMP_PREFIX, writeFileAtomic } from './atomic.js';
import { type LockOptions, withLock } from './lock.js';

/**
 * The team folder as a storage boundary. Everything OIS writes to shared storage goes through this
 * interface, so that another backend (an object store, say) is an adapter and not a rewrite. Paths are
 * relative to the team folder and use `/`.
 */
export interface TeamStore {
  /** Where the team folder is, for messages to the user. */
  readonly root: string;
  /** The whole file, or null when it does not exist. */
  read(rel: string): Promise<Buffer | null>;
  /** The file from byte `offset` on (for followers), or null when it does not exist. */
  readFrom(rel: string, offset: number): Promise<Buffer | null>;
  /** Replaces the file atomically (readers see the old or the new content). */
  writeAtomic(rel: string, data: string | Uint8Array): Promise<void>;
  /**
   * Appends, under the file's lock, in one write, what `render` returns. `render` gets the file's last bytes
   * (empty for a new file) so a writer can repair the separation after an entry a crashed writer tore.
   */
  append(rel: string, render: (tail: string) => string): Promise<void>;
  /** Runs `fn` under the lock of `rel` (for read-modify-write edits). */
  withLock<T>(rel: string, fn: () => Promise<T>): Promise<T>;
  /** Names in a folder, without temp and lock files; empty when the folder does not exist. */
  list(rel: string): Promise<string[]>;
  /** Size in bytes, or null when missing. */
  size(rel: string): Promise<number | null>;
  /** Creates a folder and its parents. */
  ensureDir(rel: string): Promise<void>;
  /**
   * What is at `rel`, without following a symlink (a link is `other`), or null when nothing is. `version`
   * changes whenever the content does (size and mtime on a file system), for caches.
   */
  stat(rel: string): Promise<EntryInfo | null>;
  /** The whole regular file, never through a symlink (a link fails); null when it does not exist. */
  readFile(rel: string): Promise<Buffer | null>;
  /** Removes a file: readers see it or nothing, and the name is free at once. False when it was not there. */
  remove(rel: string): Promise<boolean>;
  /** Ends what the store holds open (a connection to NATS); the folder holds nothing. */
  close?(): Promise<void>;
  /**
   * Peer delivery through the team's own backend, where it has one: a team on NATS puts a signed envelope
   * into the recipient's inbox stream (specs/nats.md). Resolves once it is stored for the recipient;
   * `OIS_ERR_NATS_NO_INBOX` when the recipient has no inbox there (it is reached over HTTP). A folder has
   * none: peers are reached over HTTP.
   */
  deliver?(envelope: PeerEnvelope): Promise<{ duplicate: boolean }>;
}

/** What the team store needs to know of a signed envelope (federation's `Envelope`), to carry it. */
export interface PeerEnvelope {
  id: string;
  from: string;
  to: string;
  wait?: number;
}

export interface EntryInfo {
  kind: 'file' | 'dir' | 'other';
  size: number;
  mtimeMs: number;
  version: string;
}

const TAIL_BYTES = 512;

/** The team folder on a local or network file system. */
export class FsTeamStore implements TeamStore {
  readonly root: string;
  readonly #lock: LockOptions;

  constructor(root: string, lock: LockOptions = {}) {
    this.root = resolve(root);
    this.#lock = lock;
  }

  path(rel: string): string {
    return join(this.root, ...rel.split('/'));
  }

  async read(rel: string): Promise<Buffer | null> {
    const path = this.path(rel);
    try {
      return await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('read', path, err);
    }
  }

  async readFrom(rel: string, offset: number): Promise<Buffer | null> {
    const path = this.path(rel);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('read', path, err);
    }
    try {
      const { size } = await handle.stat();
      if (size <= offset) return Buffer.alloc(0);
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    } catch (err) {
      throw storageError('read', path, err);
    } finally {
      await handle.close();
    }
  }

  async writeAtomic(rel: string, data: string | Uint8Array): Promise<void> {
    await this.#withParent(rel, () => writeFileAtomic(this.path(rel), data));
  }

  /** Runs a write; when its folder is missing, creates it and runs it once more (the contract: writes make their folders). */
  async #withParent<T>(rel: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const missing =
        (err as { cause?: { code?: string }; code?: string }).cause?.code ?? (err as { code?: string }).code;
      if (missing !== 'ENOENT' || !rel.includes('/')) throw err;
      await this.ensureDir(rel.slice(0, rel.lastIndexOf('/')));
      return write();
    }
  }

  async append(rel: string, render: (tail: string) => string): Promise<void> {
    await this.#withParent(rel, () => this.#append(rel, render));
  }

  async #append(rel: string, render: (tail: string) => string): Promise<void> {
    const path = this.path(rel);
    await withLock(
      path,
      async () => {
        let handle: Awaited<ReturnType<typeof open>>;
        try {
          // 'a+' so we can read the tail; under the lock no one else appends, so size is the end.
          handle = await open(path, 'a+');
        } catch (err) {
          throw storageError('append to', path, err);
        }
        try {
          const { size } = await handle.stat();
          let tail = '';
          if (size > 0) {
            const length = Math.min(size, TAIL_BYTES);
            const buffer = Buffer.alloc(length);
            await handle.read(buffer, 0, length, size - length);
            tail = buffer.toString('utf8');
          }
          const data = Buffer.from(render(tail), 'utf8');
          // One write per entry; loop only in the unlikely case of a short write.
          let written = 0;
          while (written < data.length) {
            const { bytesWritten } = await handle.write(data, written, data.length - written);
            written += bytesWritten;
          }
        } catch (err) {
          throw storageError('append to', path, err);
        } finally {
          await handle.close();
        }
      },
      this.#lock,
    );
  }

  async withLock<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    // The folder first (never a retry: `fn` may have done things before an ENOENT of its own).
    if (rel.includes('/')) await this.ensureDir(rel.slice(0, rel.lastIndexOf('/')));
    return withLock(this.path(rel), fn, this.#lock);
  }

  async list(rel: string): Promise<string[]> {
    const path = this.path(rel);
    try {
      const names = await readdir(path);
      return names.filter((name) => !name.startsWith(TEMP_PREFIX) && !name.endsWith('.lock')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storageError('list', path, err);
    }
  }

  async size(rel: string): Promise<number | null> {
    try {
      return (await stat(this.path(rel))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('read', this.path(rel), err);
    }
  }

  async stat(rel: string): Promise<EntryInfo | null> {
    const path = this.path(rel);
    try {
      const info = await lstat(path);
      const kind = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : 'other';
      // ctime too: a writer can set a file's mtime back, not its ctime.
      const version = `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`;
      return { kind, size: info.size, mtimeMs: info.mtimeMs, version };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('read', path, err);
    }
  }

  async readFile(rel: string): Promise<Buffer | null> {
    const path = this.path(rel);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: a symlink planted in the folder (pointing at /etc/passwd, say) fails here with ELOOP, with
      // no window between a check and the open.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('read', path, err);
    }
    try {
      if (!(await handle.stat()).isFile()) throw storageError('read', path, new Error('not a regular file'));
      return await handle.readFile();
    } catch (err) {
      throw isOisError(err) ? err : storageError('read', path, err);
    } finally {
      await handle.close();
    }
  }

  async remove(rel: string): Promise<boolean> {
    const path = this.path(rel);
    const gone = join(dirname(path), `${TEMP_PREFIX}rm-${basename(path)}`);
    try {
      await rename(path, gone);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw storageError('remove', path, err);
    }
    await rm(gone, { force: true }).catch((err) => {
      throw storageError('remove', path, err);
    });
    return true;
  }

  async ensureDir(rel: string): Promise<void> {
    try {
      await mkdir(this.path(rel), { recursive: true });
    } catch (err) {
      throw storageError('create', this.path(rel), err);
    }
  }
}
