import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/spec-blocks.js';

/**
 * The rooms of src/ and the one direction imports flow in (ARCHITECTURE.md: cli → server → domain → io):
 * a room may import only rooms of a lower rank. Files at the top of src/ (errors.ts, logger.ts) are for all.
 */
const RANK: Record<string, number> = {
  team: 0,
  transport: 0,
  simulator: 0,
  config: 1,
  registry: 2,
  chatlog: 2,
  zerotier: 3,
  membership: 3,
  notices: 3,
  federation: 4,
  memory: 4,
  skills: 4,
  tasks: 5,
  // The NATS backend implements the seams of chatlog/ and federation/ (and carries their envelopes).
  nats: 5,
  // The doctor checks every backend of the team, NATS included.
  doctor: 6,
  server: 6,
  cli: 7,
  plugin: 8,
};

/**
 * Files another room may import directly instead of the folder's index.ts, each with its reason. Keep
 * this short: every entry is a place where the public face of a room is bypassed.
 */
const LIGHT_ENTRIES: Record<string, string> = {
  'federation/outbox.js':
    '`ois outbox` opens the outbox without loading undici and the registry (start-up time)',
};

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  file: string;
  from: string;
  to: string;
  target: string;
}

/** Every relative import of a source file, static (`from '…'`), dynamic (`import('…')`) and `export … from`. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const rel = relative(SRC, file).split('/');
  const from = rel.length > 1 ? rel[0]! : '';
  const out: Import[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(SRC, join(file, '..', m[1]!)).split('/');
    if (target[0] === '..') continue;
    out.push({
      file: relative(ROOT, file),
      from,
      to: target.length > 1 ? target[0]! : '',
      target: target.join('/'),
    });
  }
  return out;
}

const all = sources(SRC).flatMap(importsOf);

describe('layering - the rooms of src/', () => {
  it('layering - every room has a rank, and the test sees real imports', () => {
    const rooms = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
    expect(rooms.sort()).toEqual(Object.keys(RANK).sort());
    expect(all.filter((i) => i.from !== i.to && i.to !== '').length).toBeGreaterThan(50);
  });

  it('layering - imports flow one way: a room imports only rooms below it', () => {
    const upward = all
      .filter((i) => i.from !== '' && i.to !== '' && i.from !== i.to && RANK[i.to]! >= RANK[i.from]!)
      .map((i) => `${i.file} imports ${i.target} (${i.from} ${RANK[i.from]} → ${i.to} ${RANK[i.to]})`);
    expect(upward).toEqual([]);
  });

  it('layering - another room is used through its index.ts, not its files', () => {
    const sideways = all
      .filter(
        (i) =>
          i.to !== '' && i.from !== i.to && !i.target.endsWith('/index.js') && !(i.target in LIGHT_ENTRIES),
      )
      .map((i) => `${i.file} imports ${i.target}`);
    expect(sideways).toEqual([]);
  });

  it('layering - the top-level modules import no room', () => {
    const top = all.filter((i) => i.from === '' && i.to !== '').map((i) => `${i.file} imports ${i.target}`);
    expect(top).toEqual([]);
  });
});
