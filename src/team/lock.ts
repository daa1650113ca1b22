import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { OisError, storageError } from '../errors.js';
import { uniqueSuffix } from './atomic.js';

/**
 * A lock that works on NFS and SMB, where O_APPEND and fcntl locks cannot be trusted across machines:
 * `mkdir` of a lock directory is atomic on every network file system we care about. The holder writes a
 * small owner file (pid, host, time) so a waiter can say who holds it, and refreshes the directory's mtime
 * while it holds the lock; a lock whose mtime is older than `staleMs` was left by a crashed process and is
 * broken by renaming it away (rename is atomic, so only one waiter wins) and then removing it.
 */

export const DEFAULT_LOCK_STALE_MS = 20_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

export interface LockOptions {
  /** A lock untouched for this long is considered abandoned. */
  staleMs?: number;
  /** Give up waiting after this long. */
  timeoutMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Runs `fn` while holding the lock `<target>.lock`. */
export async function withLock<T>(
  target: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const release = await acquireLock(target, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Takes the lock `<target>.lock`; resolves to the function that releases it. */
export async function acquireLock(target: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const dir = `${target}.lock`;
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      await mkdir(dir);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw storageError('lock', target, err);
    }
    if (await breakIfStale(dir, staleMs)) continue;
    if (Date.now() >= deadline) {
      const owner = await readOwner(dir);
      throw new OisError(
        'OIS_ERR_LOCK_TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for the lock ${dir}`,
        {
          hint: owner
            ? `it is held by pid ${owner.pid} on ${owner.host} since ${owner.since}; if that process is gone, remove ${dir}`
            : `if no ois process is running, remove ${dir}`,
          details: { lock: dir, ...(owner ? { owner } : {}) },
        },
      );
    }
    // Short, jittered waits: a holder keeps the lock for one small write, so long sleeps waste throughput.
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 32);
  }

  const owner: LockOwner = {
    pid: process.pid,
    host: process.getBuiltinModule('node:os').hostname(),
    since: new Date().toISOString(),
  };
  await writeFile(`${dir}/owner`, JSON.stringify(owner)).catch(() => {});
  const refresh = setInterval(
    () => {
      const now = new Date();
      utimes(dir, now, now).catch(() => {});
    },
    Math.max(1000, Math.floor(staleMs / 3)),
  );
  refresh.unref();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    clearInterval(refresh);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
}

async function breakIfStale(dir: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(dir)).mtimeMs;
  } catch {
    return true; // released between our mkdir and stat: try again at once
  }
  if (Date.now() - mtimeMs < staleMs) return false;
  const graveyard = `${dir}.stale-${uniqueSuffix()}`;
  try {
    await rename(dir, graveyard);
  } catch {
    return true; // another waiter broke it first
  }
  await rm(graveyard, { recursive: true, force: true }).catch(() => {});
  return true;
}

async function readOwner(dir: string): Promise<LockOwner | null> {
  try {
    return JSON.parse(await readFile(`${dir}/owner`, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}
