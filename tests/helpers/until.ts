/**
 * Waits until `fn` returns something truthy (checking every `everyMs`) and returns it, or fails after `ms`
 * naming `what`: for tests that watch another process (a daemon, a session, a file) catch up.
 */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  ms = 15_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
