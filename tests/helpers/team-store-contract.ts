import { describe, expect, it } from 'vitest';
import { TEMP_PREFIX, type TeamStore } from '../../src/team/index.js';

/**
 * The contract every TeamStore keeps, as one suite run against each backend (unstorage's driver-suite
 * pattern): the file system and memory here, NATS when that backend comes.
 */
export function teamStoreContract(name: string, make: () => Promise<TeamStore>): void {
  describe(`team store - ${name}`, () => {
    it(`team store - ${name}: missing things are null or empty, never errors`, async () => {
      const s = await make();
      expect(await s.read('AGENTS.md')).toBeNull();
      expect(await s.readFile('AGENTS.md')).toBeNull();
      expect(await s.readFrom('chat/2026-11-21.md', 10)).toBeNull();
      expect(await s.size('AGENTS.md')).toBeNull();
      expect(await s.stat('AGENTS.md')).toBeNull();
      expect(await s.list('shared')).toEqual([]);
      expect(await s.remove('shared/x')).toBe(false);
    });

    it(`team store - ${name}: atomic writes replace the whole content; stat's version follows it`, async () => {
      const s = await make();
      await s.writeAtomic('notes/2026-11-21.md', 'first');
      const v1 = await s.stat('notes/2026-11-21.md');
      expect(v1).toMatchObject({ kind: 'file', size: 5 });
      await new Promise((r) => setTimeout(r, 5));
      await s.writeAtomic('notes/2026-11-21.md', new TextEncoder().encode('second, longer'));
      expect((await s.read('notes/2026-11-21.md'))?.toString()).toBe('second, longer');
      expect((await s.readFile('notes/2026-11-21.md'))?.toString()).toBe('second, longer');
      expect((await s.readFrom('notes/2026-11-21.md', 8))?.toString()).toBe('longer');
      expect((await s.readFrom('notes/2026-11-21.md', 99))?.length).toBe(0);
      expect(await s.size('notes/2026-11-21.md')).toBe(14);
      expect((await s.stat('notes/2026-11-21.md'))?.version).not.toBe(v1?.version);
      expect(await s.stat('notes')).toMatchObject({ kind: 'dir' });
    });

    it(`team store - ${name}: appends see the tail and never interleave`, async () => {
      const s = await make();
      const tails: string[] = [];
      await s.append('logs/d.md', (tail) => {
        tails.push(tail);
        return 'a\n';
      });
      await Promise.all(
        Array.from({ length: 20 }, (_, n) => s.append('logs/d.md', () => `${'x'.repeat(50)} ${n}\n`)),
      );
      expect(tails).toEqual(['']);
      const lines = (await s.read('logs/d.md'))!.toString().split('\n').filter(Boolean);
      expect(lines).toHaveLength(21);
      expect(lines.slice(1).every((l) => /^x{50} \d+$/.test(l))).toBe(true);
      let last = '';
      await s.append('logs/d.md', (tail) => {
        last = tail;
        return '';
      });
      expect(last.endsWith(`${'x'.repeat(50)} 19\n`) || /x{50} \d+\n$/.test(last)).toBe(true);
    });

    it(`team store - ${name}: withLock runs one holder at a time per name`, async () => {
      const s = await make();
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 5 }, () =>
          s.withLock('AGENTS.md', async () => {
            inside++;
            most = Math.max(most, inside);
            await new Promise((r) => setTimeout(r, 5));
            inside--;
          }),
        ),
      );
      expect(most).toBe(1);
      await expect(s.withLock('AGENTS.md', async () => 42)).resolves.toBe(42);
      await expect(
        s.withLock('AGENTS.md', async () => {
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      await expect(s.withLock('AGENTS.md', async () => 'still usable')).resolves.toBe('still usable');
    });

    it(`team store - ${name}: listings are sorted and hide temp files and locks`, async () => {
      const s = await make();
      await s.ensureDir('shared/.ois-meta');
      await s.writeAtomic('shared/b.txt', 'b');
      await s.writeAtomic('shared/a.txt', 'a');
      await s.writeAtomic(`shared/${TEMP_PREFIX}half`, 'x');
      await s.withLock('shared/.ois-meta/a.txt', async () => {
        expect(await s.list('shared/.ois-meta')).toEqual([]);
      });
      expect(await s.list('shared')).toEqual(['.ois-meta', 'a.txt', 'b.txt']);
    });

    it(`team store - ${name}: remove frees the name at once`, async () => {
      const s = await make();
      await s.writeAtomic('shared/x', 'x');
      expect(await s.remove('shared/x')).toBe(true);
      expect(await s.read('shared/x')).toBeNull();
      expect(await s.remove('shared/x')).toBe(false);
      expect(await s.list('shared')).toEqual([]);
    });
  });
}
