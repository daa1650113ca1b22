import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const REGISTRY_FILE = 'AGENTS.md';

/** Walks up from `start` to the first folder holding AGENTS.md, as git finds `.git`. Null when none. */
export function findTeamFolder(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, REGISTRY_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
