import type { TeamStore } from './store.js';

/** What a copy did. */
export interface CopyReport {
  /** Files written (new or changed), by path. */
  written: string[];
  /** Files the target already held with the same content. */
  same: number;
  /** Folders made (empty ones included, so the layout is kept). */
  folders: number;
  bytes: number;
}

/**
 * Copies every file of one team store into another, folder by folder (`ois export`, `ois import`): each file
 * with `writeAtomic`, so a reader of the target never sees half a file, and one the target already holds
 * with the same content is left alone (a copy run again writes nothing). Temp and lock files are not
 * listed by a store, so they are never copied. What `writeAtomic` means for the target's chat day files is
 * the target's: a folder writes the file, NATS appends the entries it does not hold yet.
 */
export async function copyTeam(from: TeamStore, to: TeamStore, rel = ''): Promise<CopyReport> {
  const report: CopyReport = { written: [], same: 0, folders: 0, bytes: 0 };
  await copyInto(from, to, rel, report);
  return report;
}

async function copyInto(from: TeamStore, to: TeamStore, dir: string, report: CopyReport): Promise<void> {
  const names = await from.list(dir);
  // The chat log last: a day the target cannot take as it is must not keep the membership records, shared
  // files and the rest from being copied.
  if (dir === '' && names.includes('chat')) names.push(...names.splice(names.indexOf('chat'), 1));
  for (const name of names) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    const info = await from.stat(rel);
    if (info?.kind === 'dir') {
      await to.ensureDir(rel);
      report.folders++;
      await copyInto(from, to, rel, report);
    } else if (info?.kind === 'file') {
      const data = await from.readFile(rel);
      if (data === null) continue; // removed meanwhile
      const there = await to.read(rel);
      if (there?.equals(data)) {
        report.same++;
        continue;
      }
      await to.writeAtomic(rel, data);
      report.written.push(rel);
      report.bytes += data.length;
    }
    // Anything else (a symlink planted in a folder) is not part of the team and is not copied.
  }
}
