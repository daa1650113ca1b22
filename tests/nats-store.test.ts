import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendEntry, followChat, listDays, type ParsedChatEntry, readDay } from '../src/chatlog/index.js';
import { connectNatsTeam, INLINE_MAX_BYTES, type NatsTeam, NatsTeamStore } from '../src/nats/index.js';
import { FsTeamStore } from '../src/team/index.js';
import { chatEntries } from './helpers/chat-entries.js';
import { tempDir } from './helpers/cli.js';
import { describeNats, type NatsServers, startNats, uniqueTeam } from './helpers/nats.js';
import { teamStoreContract } from './helpers/team-store-contract.js';
import { until } from './helpers/until.js';

let servers: NatsServers;
const teams: NatsTeam[] = [];
const connect = async (team = uniqueTeam()) => {
  const t = await connectNatsTeam({ servers: servers.servers, team });
  teams.push(t);
  return t;
};

const entry = chatEntries();
const strip = ({ line: _line, ...rest }: ParsedChatEntry) => rest;

describeNats('team store - NATS (one real nats-server)', () => {
  beforeAll(async () => {
    servers = await startNats();
  });
  afterAll(async () => {
    for (const team of teams.splice(0)) await team.close();
    await servers?.stop();
  });

  teamStoreContract('nats', async () => NatsTeamStore.onTeam(await connect()));

  it('team store - nats: a file over the inline limit goes to the object store and reads back whole', async () => {
    const store = NatsTeamStore.onTeam(await connect());
    const big = Buffer.alloc(INLINE_MAX_BYTES * 3 + 17, 7);
    big.write('start', 0);
    await store.writeAtomic('shared/big.bin', big);
    expect((await store.read('shared/big.bin'))?.equals(big)).toBe(true);
    expect(await store.size('shared/big.bin')).toBe(big.length);
    expect(await store.list('shared')).toEqual(['big.bin']);
    // Replaced by a small one, then removed: the object goes with it.
    await store.writeAtomic('shared/big.bin', 'small now');
    expect((await store.read('shared/big.bin'))?.toString()).toBe('small now');
    const { objects } = await store.parts();
    const left: string[] = [];
    for (const info of await objects.list()) left.push(info.name);
    expect(left).toEqual([]);
  });

  it('team store - nats: names with any characters round-trip, folders nest', async () => {
    const store = NatsTeamStore.onTeam(await connect());
    const names = ['Report (final).md', 'ünïcødé 数据.txt', 'a.b.c', '=41', '.hidden'];
    for (const name of names) await store.writeAtomic(`shared/deep/${name}`, name);
    expect(await store.list('shared/deep')).toEqual([...names].sort());
    for (const name of names) expect((await store.read(`shared/deep/${name}`))?.toString()).toBe(name);
    expect(await store.list('shared')).toEqual(['deep']);
    expect(await store.stat('shared/deep')).toMatchObject({ kind: 'dir' });
    expect(await store.list('')).toEqual(['shared']);
  });

  it('team store - nats: one lock holder across two connections; a lock whose holder died is broken', async () => {
    const name = uniqueTeam();
    const a = NatsTeamStore.onTeam(await connect(name), { staleMs: 1_500, timeoutMs: 10_000 });
    const b = NatsTeamStore.onTeam(await connect(name), { staleMs: 1_500, timeoutMs: 10_000 });
    let inside = 0;
    let most = 0;
    const hold = (s: NatsTeamStore) =>
      s.withLock('members/records.jsonl', async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 20));
        inside--;
      });
    await Promise.all([hold(a), hold(b), hold(a), hold(b), hold(a), hold(b)]);
    expect(most).toBe(1);

    // A holder that died leaves its key; another instance breaks it after staleMs, not before.
    const { kv } = await a.parts();
    await kv.create('l.members.records=2Ejsonl', JSON.stringify({ pid: 1, host: 'gone', since: 'then' }));
    const started = Date.now();
    await b.withLock('members/records.jsonl', async () => {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);

    // A lock whose holder is alive (it refreshes its key) is never broken: the waiter times out, naming it.
    const holder = NatsTeamStore.onTeam(await connect(name), { staleMs: 1_500 });
    const waiter = NatsTeamStore.onTeam(await connect(name), { staleMs: 1_500, timeoutMs: 300 });
    let release!: () => void;
    const held = holder.withLock('AGENTS.md', () => new Promise<void>((r) => (release = r)));
    await until('the holder to hold it', async () => (await kv.get('l.AGENTS=2Emd'))?.operation === 'PUT');
    const waited = Date.now();
    await expect(waiter.withLock('AGENTS.md', async () => {})).rejects.toMatchObject({
      code: 'OIS_ERR_LOCK_TIMEOUT',
      hint: expect.stringContaining(`pid ${process.pid}`),
    });
    // It waited longer than the stale time, so a dead key would have been broken (the defaults: a 15 s
    // timeout and a 20 s stale time must still break one).
    expect(Date.now() - waited).toBeGreaterThanOrEqual(1_500);
    release();
    await held;
    const dead = NatsTeamStore.onTeam(await connect(name), { staleMs: 1_500, timeoutMs: 300 });
    await kv.create('l.AGENTS=2Emd', JSON.stringify({ pid: 42, host: 'gone', since: 'then' }));
    await expect(dead.withLock('AGENTS.md', async () => 'broken')).resolves.toBe('broken');
  });

  it('team store - nats: appends from two instances never lose one', async () => {
    const name = uniqueTeam();
    const a = NatsTeamStore.onTeam(await connect(name));
    const b = NatsTeamStore.onTeam(await connect(name));
    await Promise.all(
      Array.from({ length: 10 }, (_, k) => (k % 2 ? a : b).append('members/records.jsonl', () => `r${k}\n`)),
    );
    const lines = (await a.read('members/records.jsonl'))!.toString().trim().split('\n');
    expect(lines.sort()).toEqual(Array.from({ length: 10 }, (_, k) => `r${k}`).sort());
  });

  it('team store - nats: the chat day files hold exactly what the folder would, through the same functions', async () => {
    const folder = new FsTeamStore(await tempDir('ois-nats-store-'));
    const nats = NatsTeamStore.onTeam(await connect());
    const entries = [
      entry({ body: 'first' }),
      entry({ from: 'beta', to: ['alpha'], body: 'second\n\n---\nwith a separator-looking line' }),
      entry({ at: '2026-11-22T08:00:00.000Z', body: 'next day' }),
    ];
    for (const e of entries) {
      await appendEntry(folder, e);
      await appendEntry(nats, e);
    }
    expect(await listDays(nats)).toEqual(['2026-11-21', '2026-11-22']);
    expect(await nats.list('chat')).toEqual(['2026-11-21.md', '2026-11-22.md']);
    expect(await nats.list('')).toEqual(['chat']);
    for (const date of ['2026-11-21', '2026-11-22']) {
      expect((await nats.read(`chat/${date}.md`))?.toString()).toBe(
        (await folder.read(`chat/${date}.md`))?.toString(),
      );
      expect(await readDay(nats, date)).toEqual(await readDay(folder, date));
    }
    // An append repeated (its answer was lost) is stored once.
    await appendEntry(nats, entries[0]!);
    expect((await readDay(nats, '2026-11-21')).entries.map((e) => e.body)).toEqual([
      'first',
      entries[1]!.body,
    ]);
    // stat's version follows the day; readFrom gives what a follower has not read.
    const before = await nats.stat('chat/2026-11-21.md');
    const size = before!.size;
    await appendEntry(nats, entry({ body: 'third' }));
    expect((await nats.stat('chat/2026-11-21.md'))?.version).not.toBe(before?.version);
    expect((await nats.readFrom('chat/2026-11-21.md', size))?.toString()).toContain('third');
    await expect(nats.remove('chat/2026-11-21.md')).rejects.toMatchObject({ code: 'OIS_ERR_STORAGE' });
  });

  it('team store - nats: writing a day file appends what is new, once, and keeps the bytes', async () => {
    const folder = new FsTeamStore(await tempDir('ois-nats-store-'));
    const at = new Date().toISOString();
    for (const body of ['one', 'two']) await appendEntry(folder, entry({ at, body }));
    const legacy = `${(await folder.read(`chat/${at.slice(0, 10)}.md`))!.toString()}## 23:59 - Old Bot\n\nwritten by hand, no id\n\n---\n\n`;
    const nats = NatsTeamStore.onTeam(await connect());
    const path = `chat/${at.slice(0, 10)}.md`;
    await nats.writeAtomic(path, legacy);
    await nats.writeAtomic(path, legacy); // again: nothing doubles, the legacy entry included
    expect((await nats.read(path))?.toString()).toBe(legacy);
    expect((await readDay(nats, at.slice(0, 10))).entries.map(strip)).toEqual(
      (await readDay(folder, at.slice(0, 10))).entries
        .map(strip)
        .concat((await readDay(nats, at.slice(0, 10))).entries.slice(2).map(strip)),
    );
    // A text that lacks entries the day holds removes nothing: the log is append-only.
    await nats.writeAtomic(path, `# ${at.slice(0, 10)} Chat Log\n\n`);
    expect((await nats.read(path))?.toString()).toBe(legacy);

    // A follower through the store sees a new entry.
    const seen: string[] = [];
    const stop = new AbortController();
    let ready = false;
    const following = followChat(
      nats,
      { signal: stop.signal, intervalMs: 50, onReady: () => (ready = true) },
      (e) => seen.push(e.body),
    );
    await until('the follower to start', () => ready);
    await appendEntry(nats, entry({ at: new Date().toISOString(), body: 'live' }));
    await until('the follower to see it', () => seen.includes('live'));
    stop.abort();
    await following;
  });
});
