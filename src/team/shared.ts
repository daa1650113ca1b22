import { createHash } from 'node:crypto';
import { type ErrorCode, OisError } from '../errors.js';
import type { EntryInfo, TeamStore } from './store.js';

/**
 * Shared files: the flat `shared/` folder of the team folder. Every instance (and the viewer) writes here
 * concurrently, possibly from several machines over NFS or SMB, so:
 * - data goes to a temp file in `shared/` and is renamed into place (readers never see half a file);
 * - each name is edited under its own lock, so "refuse an existing name" and the metadata that goes with
 *   the data cannot interleave with another writer of the same name (other names never wait);
 * - metadata lives in one JSON sidecar per file (`shared/.ois-meta/<name>.json`), written atomically:
 *   there is no shared index for concurrent writers to lose each other's updates in.
 */

export const SHARED_DIR = 'shared';
/** Sidecars and per-name locks; hidden from listings like every dot name. */
export const SHARED_META_DIR = '.ois-meta';
export const DEFAULT_SHARED_MAX_BYTES = 25 * 1024 * 1024;
/** Bytes of UTF-8, the limit of most file systems for one path component. */
const MAX_NAME_BYTES = 200;

export interface SharedFile {
  name: string;
  size: number;
  /** ISO-8601 UTC. */
  uploadedAt: string;
  /** The instance that wrote it; null for a file put into shared/ by hand. */
  uploader: string | null;
  /** Hex; null for a file put into shared/ by hand (its sidecar is missing or describes older content). */
  sha256: string | null;
}

export interface PutSharedOptions {
  uploader: string;
  /** Replace an existing file of that name; without it an existing name is refused. */
  overwrite?: boolean;
  /** Default `DEFAULT_SHARED_MAX_BYTES`. */
  maxBytes?: number;
  now?: () => Date;
}

/** Why a request about a shared file was refused. */
export type SharedRefusal = 'bad-name' | 'exists' | 'too-large' | 'not-a-file';

/** Each refusal has its own code, and the code its HTTP status (src/errors.ts): the edges need nothing else. */
const REFUSAL_CODES = {
  'bad-name': 'OIS_ERR_SHARED_NAME_INVALID',
  exists: 'OIS_ERR_SHARED_EXISTS',
  'too-large': 'OIS_ERR_SHARED_TOO_LARGE',
  'not-a-file': 'OIS_ERR_SHARED_NOT_A_FILE',
} as const satisfies Record<SharedRefusal, ErrorCode>;

function refuse(reason: SharedRefusal, message: string, hint: string): OisError {
  // `reason` stays in the details for `--json` output, as it was before the refusals had codes of their own.
  return new OisError(REFUSAL_CODES[reason], message, { hint, details: { reason } });
}

/** The refusal an error from this module stands for, if any (read from its code). */
export function sharedRefusal(err: unknown): SharedRefusal | null {
  if (!(err instanceof OisError)) return null;
  const found = Object.entries(REFUSAL_CODES).find(([, code]) => code === err.code);
  return found ? (found[0] as SharedRefusal) : null;
}

// Percent-encoded `/`, `\`, `.` and NUL: a name that still holds them was encoded twice, which is only ever
// an attempt to smuggle a separator past one layer of decoding.
const ENCODED = /%(?:2f|5c|2e|00)/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a shared file name and returns it (NFC). A name is one path component: no separators (also not
 * percent-encoded), no NUL or control characters, not starting with a dot (`.`, `..`, our sidecars and temp
 * files), not ending in `.lock` (lock directories), no trailing dot or space (SMB drops them). Throws
 * `OIS_ERR_SHARED_NAME_INVALID` otherwise.
 * @example sharedName('plan v2.md') // 'plan v2.md'
 */
export function sharedName(name: string): string {
  const n = name.normalize('NFC');
  const bad = (why: string) =>
    refuse(
      'bad-name',
      `not a shared file name: ${JSON.stringify(name)} (${why})`,
      'use a plain file name such as plan.md: no folders, no leading dot',
    );
  if (n.length === 0) throw bad('empty');
  if (Buffer.byteLength(n) > MAX_NAME_BYTES) throw bad(`over ${MAX_NAME_BYTES} bytes`);
  if (n.includes('/') || n.includes('\\')) throw bad('it holds a path separator');
  if (CONTROL.test(n)) throw bad('it holds a NUL or control character');
  if (ENCODED.test(n)) throw bad('it holds an encoded separator');
  if (n.startsWith('.')) throw bad('it starts with a dot');
  if (n.endsWith('.lock')) throw bad('.lock names are reserved for locks');
  if (/[. ]$/.test(n)) throw bad('it ends with a dot or a space');
  return n;
}

/** Where a shared file, its sidecar and its lock live, relative to the team folder. */
function pathsOf(name: string) {
  const metaDir = `${SHARED_DIR}/${SHARED_META_DIR}`;
  return {
    file: `${SHARED_DIR}/${name}`,
    metaDir,
    meta: `${metaDir}/${name}.json`,
    /** What the store locks: inside the hidden folder, so listings never show locks. */
    lock: `${metaDir}/${name}`,
  };
}

function notAFile(name: string): OisError {
  return refuse(
    'not-a-file',
    `shared/${name} is not a regular file (a symlink or a folder); OIS leaves it alone`,
    'only plain files in shared/ are shared files',
  );
}

async function readMeta(store: TeamStore, rel: string): Promise<SharedFile | null> {
  try {
    const bytes = await store.read(rel);
    const meta = bytes === null ? null : (JSON.parse(bytes.toString('utf8')) as Partial<SharedFile>);
    return typeof meta?.size === 'number' ? (meta as SharedFile) : null;
  } catch {
    // Missing or unreadable sidecar: the file is described from its own stat.
    return null;
  }
}

function describe(name: string, stats: EntryInfo, meta: SharedFile | null): SharedFile {
  // A sidecar whose size disagrees describes other content (the file was replaced by hand).
  if (meta && meta.size === stats.size) {
    return {
      name,
      size: stats.size,
      uploadedAt: meta.uploadedAt,
      uploader: meta.uploader ?? null,
      sha256: meta.sha256 ?? null,
    };
  }
  return {
    name,
    size: stats.size,
    uploadedAt: new Date(stats.mtimeMs).toISOString(),
    uploader: null,
    sha256: null,
  };
}

/**
 * Stores `data` as `shared/<name>`. Refuses an existing name unless `overwrite`, data over `maxBytes`,
 * and a name that is a symlink or a folder. Returns what it stored.
 * @example await putShared(store, 'plan.md', Buffer.from('# Plan'), { uploader: 'alpha' })
 */
export async function putShared(
  store: TeamStore,
  name: string,
  data: Uint8Array,
  options: PutSharedOptions,
): Promise<SharedFile> {
  const safe = sharedName(name);
  const max = options.maxBytes ?? DEFAULT_SHARED_MAX_BYTES;
  if (data.byteLength > max) {
    throw refuse(
      'too-large',
      `${safe} is ${data.byteLength} bytes, over the limit of ${max}`,
      'share a smaller file, or a link to where the big one lives',
    );
  }
  const p = pathsOf(safe);
  await store.ensureDir(p.metaDir);
  return store.withLock(p.lock, async () => {
    const existing = await store.stat(p.file);
    if (existing && existing.kind !== 'file') throw notAFile(safe);
    if (existing && !options.overwrite) {
      throw refuse(
        'exists',
        `shared/${safe} exists already`,
        'pick another name, or replace it on purpose (--force, ?overwrite=1)',
      );
    }
    // The data first, the sidecar second: a crash in between leaves a file described by its stat (uploader
    // unknown), never a sidecar for data that is not there.
    await store.writeAtomic(p.file, data);
    const info: SharedFile = {
      name: safe,
      size: data.byteLength,
      uploadedAt: (options.now?.() ?? new Date()).toISOString(),
      uploader: options.uploader,
      sha256: createHash('sha256').update(data).digest('hex'),
    };
    await store.writeAtomic(p.meta, `${JSON.stringify(info, null, 2)}\n`);
    return info;
  });
}

/** `shared/<name>` and its description, or null when there is no such file. Never follows a symlink. */
export async function getShared(
  store: TeamStore,
  name: string,
): Promise<{ info: SharedFile; data: Buffer } | null> {
  const safe = sharedName(name);
  const p = pathsOf(safe);
  const stats = await store.stat(p.file);
  if (stats === null) return null;
  if (stats.kind !== 'file') throw notAFile(safe);
  // readFile never follows a symlink, so one swapped in after the stat fails instead of being read.
  const data = await store.readFile(p.file);
  if (data === null) return null;
  return { info: describe(safe, { ...stats, size: data.length }, await readMeta(store, p.meta)), data };
}

/** The shared files, by name; symlinks, folders, dot names and temp files are not listed. */
export async function listShared(store: TeamStore): Promise<SharedFile[]> {
  const files: SharedFile[] = [];
  for (const name of await store.list(SHARED_DIR)) {
    if (name.startsWith('.')) continue;
    const p = pathsOf(name);
    const stats = await store.stat(p.file);
    if (stats?.kind !== 'file') continue;
    files.push(describe(name, stats, await readMeta(store, p.meta)));
  }
  return files;
}

/** Removes `shared/<name>` and its sidecar; false when there was no such file. */
export async function removeShared(store: TeamStore, name: string): Promise<boolean> {
  const safe = sharedName(name);
  const p = pathsOf(safe);
  const existing = await store.stat(p.file);
  if (!existing) return false;
  if (existing.kind !== 'file') throw notAFile(safe);
  await store.ensureDir(p.metaDir);
  return store.withLock(p.lock, async () => {
    const now = await store.stat(p.file);
    if (!now) return false;
    if (now.kind !== 'file') throw notAFile(safe);
    const removed = await store.remove(p.file);
    await store.remove(p.meta);
    return removed;
  });
}
