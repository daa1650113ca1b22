/**
 * A store path as a key: its segments without empty ones or `.` (`/a//b/./c` is `a/b/c`), for the stores
 * that keep files by key instead of on a file system.
 */
export function normPath(rel: string): string {
  return rel
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/**
 * Runs `fn` after every earlier call with the same key has settled, one at a time per key, in this process:
 * the in-process half of a store's `withLock` (a promise queue per key; the entry goes once the queue is
 * empty). A failure of one call does not stop the next.
 */
export async function inTurn<T>(
  queues: Map<string, Promise<unknown>>,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const settled = run.then(
    () => {},
    () => {},
  );
  queues.set(key, settled);
  try {
    return await run;
  } finally {
    if (queues.get(key) === settled) queues.delete(key);
  }
}
