import { compareLines, type MemoryLine } from './entry.js';

/** What every reader makes of the verified lines of one key. Pure: the same lines give the same view. */
export interface KeyView {
  key: string;
  /** The agent that created the key (its first put): only it, or an admin, changes it. */
  owner: string;
  /** The version in force, or null when the key was forgotten. */
  current: MemoryLine | null;
  /** Every version that counts, oldest first (puts and forgets by the owner or an admin). */
  versions: MemoryLine[];
  /** Lines by others than the owner and the admins: kept out of the view, reported by ois doctor. */
  ignored: MemoryLine[];
}

/**
 * Last writer wins by the hybrid logical clock, the author breaking ties, among the lines the key's owner
 * (the author of its first put) or an admin wrote; a forget is a tombstone that a later put revives. The
 * lines may come in any order: they are sorted first, so every interleaving gives the same view.
 */
export function mergeKey(lines: MemoryLine[], isAdmin: (author: string) => boolean): KeyView | null {
  const ordered = lines.filter((l) => l.op !== 'key').sort(compareLines);
  const first = ordered.find((l) => l.op === 'put');
  if (!first) return null;
  const owner = first.author;
  const versions: MemoryLine[] = [];
  const ignored: MemoryLine[] = [];
  let current: MemoryLine | null = null;
  for (const l of ordered) {
    if (compareLines(l, first) < 0) {
      // A forget before the key existed forgets nothing.
      ignored.push(l);
      continue;
    }
    if (l.author !== owner && !isAdmin(l.author)) {
      ignored.push(l);
      continue;
    }
    versions.push(l);
    current = l.op === 'put' ? l : null;
  }
  return { key: first.key!, owner, current, versions, ignored };
}
