import { expect, it } from 'vitest';
import { type ChatEntry, type ChatLog, formatEntry, type ParsedChatEntry } from '../../src/chatlog/index.js';
import { chatEntries } from './chat-entries.js';
import { until } from './until.js';

/**
 * The contract every ChatLog backend keeps, one set of cases run against each (unstorage's driver-suite
 * pattern): the folder's day files and the NATS stream. `make` gives a fresh, empty log.
 */
export function chatLogContract(name: string, make: () => Promise<ChatLog>): void {
  const entry = chatEntries();
  const strip = ({ line: _line, ...rest }: ParsedChatEntry) => rest;
  /** Where each entry's heading is in a day file holding exactly these entries. */
  const headingLines = (entries: ChatEntry[]) => {
    let line = 3; // `# <date> Chat Log`, a blank line, then the first heading
    return entries.map((e) => {
      const at = line;
      line += formatEntry(e).split('\n').length - 1;
      return at;
    });
  };

  it(`chat log - ${name}: an empty log has no days and empty days`, async () => {
    const log = await make();
    expect(await log.days()).toEqual([]);
    expect(await log.readDay('2026-11-21')).toEqual({ entries: [], problems: [] });
  });

  it(`chat log - ${name}: entries read back by day, in order, as written, with their lines`, async () => {
    const log = await make();
    const written = [
      entry({ body: 'plain' }),
      entry({ body: 'two\r\nlines with\ra lone CR' }),
      entry({ body: '## 10:00 - mallory\n---\n<!-- ois {"id":"x"} -->', from: 'beta', to: ['alpha'] }),
      entry({ kind: 'notice', notice: { type: 'approved', subject: 'gamma' }, to: [], deliveries: [] }),
    ];
    for (const e of written) expect(await log.append(e)).toEqual({ duplicate: false });
    const day = await log.readDay('2026-11-21');
    expect(day.problems).toEqual([]);
    expect(day.entries.map(strip)).toEqual(
      written.map((e) => ({ ...e, body: e.body.replace(/\r\n?/g, '\n') })),
    );
    expect(day.entries.map((e) => e.line)).toEqual(headingLines(written));
  });

  it(`chat log - ${name}: each entry goes to the UTC day of its time; days are listed oldest first`, async () => {
    const log = await make();
    const late = entry({ at: '2026-11-21T23:59:59.999Z' });
    const early = entry({ at: '2026-11-22T00:00:00.000Z' });
    const before = entry({ at: '2026-02-28T12:00:00.000Z' });
    for (const e of [late, early, before]) await log.append(e);
    expect(await log.days()).toEqual(['2026-02-28', '2026-11-21', '2026-11-22']);
    expect((await log.readDay('2026-11-21')).entries.map((e) => e.id)).toEqual([late.id]);
    expect((await log.readDay('2026-11-22')).entries.map((e) => e.id)).toEqual([early.id]);
    await expect(log.readDay('2026-02-30')).rejects.toMatchObject({ code: 'OIS_ERR_USAGE' });
  });

  it(`chat log - ${name}: a bad entry throws and stores nothing`, async () => {
    const log = await make();
    await expect(log.append(entry({ at: 'yesterday' }))).rejects.toMatchObject({ code: 'OIS_ERR_INTERNAL' });
    await expect(log.append(entry({ from: '' }))).rejects.toMatchObject({ code: 'OIS_ERR_INTERNAL' });
    expect(await log.days()).toEqual([]);
  });

  it(`chat log - ${name}: an entry appended again is stored once exactly when the backend dedupes`, async () => {
    const log = await make();
    const e = entry();
    expect(await log.append(e)).toEqual({ duplicate: false });
    expect(await log.append(e)).toEqual({ duplicate: log.dedupes });
    const ids = (await log.readDay('2026-11-21')).entries.map((x) => x.id);
    expect(ids).toEqual(log.dedupes ? [e.id] : [e.id, e.id]);
  });

  it(`chat log - ${name}: 8 concurrent writers, nothing lost or doubled, each writer's order kept`, async () => {
    const log = await make();
    const senders = Array.from({ length: 8 }, (_, i) => `agent${i}`);
    await Promise.all(
      senders.map(async (from) => {
        for (let k = 0; k < 15; k++) await log.append(entry({ from, body: `${from} #${k}` }));
      }),
    );
    const entries = (await log.readDay('2026-11-21')).entries;
    expect(entries).toHaveLength(8 * 15);
    expect(new Set(entries.map((e) => e.id)).size).toBe(8 * 15);
    for (const from of senders) {
      expect(entries.filter((e) => e.from === from).map((e) => e.body)).toEqual(
        Array.from({ length: 15 }, (_, k) => `${from} #${k}`),
      );
    }
  });

  it(`chat log - ${name}: follow from the end sees only new entries, filtered, until aborted`, async () => {
    const log = await make();
    const now = () => new Date().toISOString();
    const old = entry({ at: now(), body: 'before the follower' });
    await log.append(old);
    const seen: ParsedChatEntry[] = [];
    const controller = new AbortController();
    let ready = false;
    const following = log.follow(
      { signal: controller.signal, with: 'gamma', intervalMs: 20, onReady: () => (ready = true) },
      (e) => seen.push(e),
    );
    await until('the follower to start', () => ready);
    const mine = entry({ at: now(), to: ['gamma'], body: 'to gamma' });
    await log.append(entry({ at: now(), body: 'to beta' }));
    await log.append(mine);
    await until('the follower to see the new entry', () => seen.length >= 1);
    controller.abort();
    await following;
    expect(seen.map(strip)).toEqual([mine]);
    // Its line is the one readDay gives it.
    const day = await log.readDay(mine.at.slice(0, 10));
    expect(seen[0]!.line).toBe(day.entries.find((e) => e.id === mine.id)!.line);
  });

  it(`chat log - ${name}: follow from the start gives today's entries first, then new ones`, async () => {
    const log = await make();
    const now = () => new Date().toISOString();
    const first = entry({ at: now(), body: 'first' });
    await log.append(first);
    const seen: string[] = [];
    const controller = new AbortController();
    let ready = false;
    const following = log.follow(
      { signal: controller.signal, from: 'start', intervalMs: 20, onReady: () => (ready = true) },
      (e) => seen.push(e.body),
    );
    await until('the follower to start', () => ready);
    await log.append(entry({ at: now(), body: 'second' }));
    await until('the follower to see both entries', () => seen.length >= 2);
    controller.abort();
    await following;
    expect(seen).toEqual(['first', 'second']);
  });
}
