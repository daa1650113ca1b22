import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { storageError } from '../errors.js';

/** Temp files start with this, so listings can hide them. */
export const TEMP_PREFIX = '.ois-tmp-';

/**
 * Writes `data` to `path` so that readers see either the old or the new content, never a mix: the bytes go
 * to a temp file in the same directory (same file system, so `rename` is atomic, on NFS too), are flushed,
 * and the temp file is renamed over the target. A failure leaves the target as it was.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}.${uniqueSuffix()}`);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw storageError('write', path, err);
  }
}

/**
 * 12 hex characters for temp and graveyard names. Not node:crypto: loading it costs every \`ois\` run about
 * 5 ms, and these names need only be unlikely to collide (each is created exclusively, \`wx\`, or renamed onto).
 */
export function uniqueSuffix(): string {
  return Math.floor(Math.random() * 0x1000000000000)
    .toString(16)
    .padStart(12, '0');
}
