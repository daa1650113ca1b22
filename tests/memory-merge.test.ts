import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatPublicKey } from '../src/membership/index.js';
import { newEncryptionKey } from '../src/memory/entry.js';
import {
  decryptAs,
  encryptFor,
  type MemoryLine,
  mergeKey,
  nextHlc,
  signLine,
  verifyLine,
} from '../src/memory/index.js';

/** The merge rules of specs/memory.md as pure functions: any interleaving gives every reader the same view. */

const keys = Object.fromEntries(
  ['alpha', 'beta', 'gamma'].map((n) => [n, generateKeyPairSync('ed25519').privateKey]),
);
let clock = 1_780_000_000_000;
function line(author: string, op: 'put' | 'forget', key: string, value?: string, at?: number): MemoryLine {
  clock += 1000;
  const hlc = nextHlc(null, at ?? clock);
  return signLine(
    { v: 1, op, key, scope: 'team', tags: [], ...(value === undefined ? {} : { value }), author, hlc },
    keys[author]!,
  );
}

// Deterministic PRNG, so a failing order can be replayed from its seed.
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const isAdmin = (a: string) => a === 'gamma';

describe('memory - merge', () => {
  it('property: 200 random interleavings of the same signed lines give the same view', () => {
    const tie = clock + 100_000;
    const lines = [
      line('alpha', 'put', 'k', 'v1'),
      line('beta', 'put', 'k', 'beta tries'),
      line('alpha', 'put', 'k', 'v2'),
      line('alpha', 'forget', 'k'),
      line('gamma', 'put', 'k', 'admin fix'),
      line('beta', 'forget', 'k'),
      // Same clock value from two authors: the author breaks the tie.
      line('alpha', 'put', 'k', 'tie a', tie),
      line('gamma', 'put', 'k', 'tie g', tie),
    ];
    const expected = mergeKey(lines, isAdmin);
    expect(expected?.owner).toBe('alpha');
    expect(lines.at(-1)!.hlc).toBe(lines.at(-2)!.hlc);
    expect(expected?.current?.value).toBe('tie g');
    const rnd = random(42);
    for (let i = 0; i < 200; i++) {
      const view = mergeKey(shuffle(lines, rnd), isAdmin);
      expect(view).toEqual(expected);
    }
  });

  it('the owner is who created the key; another member’s lines are ignored, an admin’s count', () => {
    const a = line('alpha', 'put', 'k', 'mine');
    const b = line('beta', 'put', 'k', 'not yours');
    const bf = line('beta', 'forget', 'k');
    const v = mergeKey([a, b, bf], isAdmin)!;
    expect(v.current?.value).toBe('mine');
    expect(v.ignored.map((l) => l.author)).toEqual(['beta', 'beta']);
    const g = line('gamma', 'forget', 'k');
    expect(mergeKey([a, b, g], isAdmin)!.current).toBeNull();
  });

  it('a forget is a tombstone that a later put revives; a forget before the key existed forgets nothing', () => {
    const early = line('alpha', 'forget', 'k');
    const put = line('alpha', 'put', 'k', 'one');
    const forget = line('alpha', 'forget', 'k');
    expect(mergeKey([early, put], isAdmin)!.current?.value).toBe('one');
    expect(mergeKey([put, forget], isAdmin)!.current).toBeNull();
    const again = line('alpha', 'put', 'k', 'two');
    expect(mergeKey([put, forget, again], isAdmin)!.current?.value).toBe('two');
  });

  it('every field of a line is signed', () => {
    const l = line('alpha', 'put', 'k', 'v');
    const key = formatPublicKey(keys.alpha!);
    expect(verifyLine(l, key)).toBe(true);
    for (const change of [
      { value: 'w' },
      { key: 'j' },
      { scope: 'private' as const },
      { tags: ['x'] },
      { hlc: nextHlc(l.hlc, 0) },
      { author: 'beta' },
    ]) {
      expect(verifyLine({ ...l, ...change }, key), JSON.stringify(change)).toBe(false);
    }
  });

  it('agent:NAME is encrypted: NAME and the author read it, a third member cannot', () => {
    const b = newEncryptionKey();
    const a = newEncryptionKey();
    const g = newEncryptionKey();
    const enc = encryptFor('the root password is in the safe', { beta: b.publicKey, alpha: a.publicKey });
    expect(JSON.stringify(enc)).not.toContain('root password');
    expect(decryptAs(enc, 'beta', b.pem)).toBe('the root password is in the safe');
    expect(decryptAs(enc, 'alpha', a.pem)).toBe('the root password is in the safe');
    expect(decryptAs(enc, 'gamma', g.pem)).toBeNull();
    // gamma's key under beta's name does not open it either.
    expect(decryptAs(enc, 'beta', g.pem)).toBeNull();
  });
});

describe('memory - the index', () => {
  it('a line is accepted from its author’s own file, named by agent id, and refused from another’s', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { MemoryIndex } = await import('../src/memory/index.js');
    const home = await mkdtemp(join(tmpdir(), 'ois-memindex-'));
    const key = generateKeyPairSync('ed25519').privateKey;
    const l = signLine(
      {
        v: 1,
        op: 'put',
        key: 'k',
        scope: 'team',
        tags: [],
        value: 'from data_bot.',
        author: 'data_bot.',
        hlc: nextHlc(null, 1_780_000_000_000),
      },
      key,
    );
    const bytes = Buffer.from(`${JSON.stringify(l)}\n`);
    const source = (name: string) => ({
      name,
      size: async () => bytes.length,
      readFrom: async (o: number) => bytes.subarray(o),
    });
    const reader = {
      self: 'alpha',
      keyOf: () => formatPublicKey(key),
      isAdmin: () => false,
      encryptionKey: null,
    };
    const index = MemoryIndex.open(home);
    try {
      await index.refresh([source('team:memory/data-bot.jsonl'), source('team:memory/alpha.jsonl')], reader);
      expect(index.get('k')?.value).toBe('from data_bot.');
      expect(index.rejected().map((r) => `${r.source}: ${r.reason}`)).toEqual([
        "team:memory/alpha.jsonl: data_bot.'s line in another agent's file",
      ]);
    } finally {
      index.close();
    }
  });
});
