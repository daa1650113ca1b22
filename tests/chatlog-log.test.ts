import { appendFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appendEntry,
  type ChatEntry,
  dayHeader,
  followChat,
  formatEntry,
  listDays,
  type ParsedChatEntry,
  parseDuration,
  queryChat,
  readDay,
  TORN_MARKER,
  validateDate,
} from '../src/chatlog/index.js';
import { isOisError } from '../src/errors.js';
import { FsTeamStore } from '../src/team/index.js';

let root: string;
let store: FsTeamStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ois-chatlog-'));
  store = new FsTeamStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function entry(id: string, at: string, overrides: Partial<ChatEntry> = {}): ChatEntry {
  return {
    id,
    at,
    from: 'alpha',
    to: ['beta'],
    kind: 'message',
    body: `body of ${id}`,
    deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.1 }],
    ...overrides,
  };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function expectUsageError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isOisError(err, 'OIS_ERR_USAGE')).toBe(true);
    expect((err as { hint?: string }).hint).toBeTruthy();
    return;
  }
  throw new Error('expected OIS_ERR_USAGE');
}

describe('chatlog - log', () => {
  it('chatlog - appending creates the day file with its header, in the UTC day of the entry', async () => {
    const first = await appendEntry(store, entry('a', '2026-11-21T23:59:59.999Z'));
    await appendEntry(store, entry('b', '2026-11-21T23:59:59.999Z'));
    const next = await appendEntry(store, entry('c', '2026-11-22T00:00:00.000Z'));
    expect(first.path).toBe('chat/2026-11-21.md');
    expect(next.path).toBe('chat/2026-11-22.md');
    const text = await readFile(join(root, 'chat', '2026-11-21.md'), 'utf8');
    expect(text).toBe(
      dayHeader('2026-11-21') +
        formatEntry(entry('a', '2026-11-21T23:59:59.999Z')) +
        formatEntry(entry('b', '2026-11-21T23:59:59.999Z')),
    );
    const day = await readDay(store, '2026-11-21');
    expect(day.problems).toEqual([]);
    expect(day.entries.map((e) => e.id)).toEqual(['a', 'b']);
    expect((await readDay(store, '2026-11-22')).entries.map((e) => e.id)).toEqual(['c']);
  });

  it('chatlog - a day without a file reads as empty; a bad date is a usage error', async () => {
    expect(await readDay(store, '2026-11-20')).toEqual({ entries: [], problems: [] });
    await expect(readDay(store, '2026-13-01')).rejects.toMatchObject({ code: 'OIS_ERR_USAGE' });
  });

  it('chatlog - listDays lists only well-formed day files, sorted', async () => {
    await mkdir(join(root, 'chat', '2026-11-21.md.lock'), { recursive: true });
    for (const name of [
      '2026-11-21.md',
      '2025-01-02.md',
      '2026-02-30.md',
      'notes.md',
      '2026-11-21.txt',
      'x.md',
    ]) {
      await writeFile(join(root, 'chat', name), '');
    }
    expect(await listDays(store)).toEqual(['2025-01-02', '2026-11-21']);
    expect(await listDays(new FsTeamStore(join(root, 'missing')))).toEqual([]);
  });

  it('chatlog - a torn last entry is closed, flagged and does not swallow the next one', async () => {
    await mkdir(join(root, 'chat'));
    const half = formatEntry(entry('torn', '2026-11-21T10:00:00.000Z', { body: 'a long message' }));
    await writeFile(
      join(root, 'chat', '2026-11-21.md'),
      dayHeader('2026-11-21') + half.slice(0, half.indexOf('long')),
    );
    await appendEntry(store, entry('next', '2026-11-21T10:01:00.000Z'));
    const text = await readFile(join(root, 'chat', '2026-11-21.md'), 'utf8');
    expect(text).toContain(`a \n\n${TORN_MARKER}\n\n---\n\n## 10:01 - alpha`);
    const { entries, problems } = await readDay(store, '2026-11-21');
    expect(entries.map((e) => [e.id, e.torn, e.body])).toEqual([
      ['torn', true, 'a '],
      ['next', undefined, 'body of next'],
    ]);
    expect(problems).toHaveLength(1);
    // Appending again leaves everything that is already closed alone.
    await appendEntry(store, entry('third', '2026-11-21T10:02:00.000Z'));
    const again = await readDay(store, '2026-11-21');
    expect(again.entries.map((e) => [e.id, e.torn])).toEqual([
      ['torn', true],
      ['next', undefined],
      ['third', undefined],
    ]);
  });

  it('chatlog - an OIS file without a final newline gets a proper separation', async () => {
    await mkdir(join(root, 'chat'));
    await writeFile(
      join(root, 'chat', '2026-11-21.md'),
      '# 2026-11-21 Chat Log\n\n## 09:00 - Old\n\nhi\n\n---',
    );
    await appendEntry(store, entry('new', '2026-11-21T10:00:00.000Z'));
    const { entries, problems } = await readDay(store, '2026-11-21');
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.from, e.body, e.legacy, e.torn])).toEqual([
      ['Old', 'hi', true, undefined],
      ['alpha', 'body of new', undefined, undefined],
    ]);
  });

  it('chatlog - a stale lock left by a crashed writer is recovered', async () => {
    const lock = join(root, 'chat', '2026-11-21.md.lock');
    await mkdir(lock, { recursive: true });
    await writeFile(
      join(lock, 'owner'),
      JSON.stringify({ pid: 999999, host: 'gone', since: '2026-11-21T09:00:00Z' }),
    );
    const old = new Date(Date.now() - 60 * 60_000);
    await utimes(lock, old, old);
    const started = Date.now();
    await appendEntry(store, entry('after-crash', '2026-11-21T10:00:00.000Z'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await readDay(store, '2026-11-21')).entries.map((e) => e.id)).toEqual(['after-crash']);
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('chatlog - a fresh lock held by someone else makes the writer wait, then time out', async () => {
    const lock = join(root, 'chat', '2026-11-21.md.lock');
    await mkdir(lock, { recursive: true });
    const impatient = new FsTeamStore(root, { timeoutMs: 200 });
    await expect(appendEntry(impatient, entry('x', '2026-11-21T10:00:00.000Z'))).rejects.toMatchObject({
      code: 'OIS_ERR_LOCK_TIMEOUT',
    });
  });

  it('chatlog - queryChat filters by day, since, with and grep', async () => {
    await appendEntry(store, entry('d1', '2026-11-19T08:00:00.000Z', { body: 'Backup started' }));
    await appendEntry(store, entry('d2', '2026-11-20T08:00:00.000Z', { from: 'Gamma', to: ['alpha'] }));
    await appendEntry(store, entry('d3', '2026-11-21T08:00:00.000Z', { body: 'backup DONE' }));
    await appendEntry(store, entry('d4', '2026-11-21T09:00:00.000Z', { to: ['gamma', 'beta'] }));
    const ids = (list: ParsedChatEntry[]) => list.map((e) => e.id);
    const now = new Date('2026-11-21T12:00:00.000Z');
    expect(ids(await queryChat(store, { now }))).toEqual(['d3', 'd4']);
    expect(ids(await queryChat(store, { date: '2026-11-20' }))).toEqual(['d2']);
    expect(ids(await queryChat(store, { since: new Date('2026-11-19T09:00:00.000Z') }))).toEqual([
      'd2',
      'd3',
      'd4',
    ]);
    expect(ids(await queryChat(store, { since: new Date(0), with: 'GAMMA' }))).toEqual(['d2', 'd4']);
    expect(ids(await queryChat(store, { since: new Date(0), grep: 'backup' }))).toEqual(['d1', 'd3']);
    expect(ids(await queryChat(store, { date: '2026-11-21', grep: 'done', with: 'beta' }))).toEqual(['d3']);
    expect(await queryChat(store, { now: new Date('2026-11-23T00:00:00.000Z') })).toEqual([]);
    await expect(queryChat(store, { date: '21.11.2026' })).rejects.toMatchObject({ code: 'OIS_ERR_USAGE' });
  });

  it('chatlog - parseDuration and validateDate accept what users type and explain the rest', () => {
    expect(parseDuration('30m')).toBe(30 * 60_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('3d')).toBe(3 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    for (const bad of ['', '3', 'd', '0d', '-1d', '1.5h', '3 days', '3y', '10s'])
      expectUsageError(() => parseDuration(bad));
    expect(validateDate('2024-02-29')).toBe('2024-02-29');
    for (const bad of ['2026-02-29', '2026-1-01', '2026-00-10', '20261121', '2026-11-21T00:00']) {
      expectUsageError(() => validateDate(bad));
    }
  });
});

describe('chatlog - follow', () => {
  it('chatlog - follow emits entries another writer appends and waits for a half-written tail', async () => {
    const date = new Date().toISOString().slice(0, 10);
    const at = (n: number) => `${date}T${String(n).padStart(2, '0')}:00:00.000Z`;
    await appendEntry(store, entry('before', at(0)));
    const seen: ParsedChatEntry[] = [];
    const controller = new AbortController();
    const following = followChat(store, { signal: controller.signal, intervalMs: 20 }, (e) => seen.push(e));
    await sleep(60);
    const other = new FsTeamStore(root);
    await appendEntry(other, entry('one', at(1)));
    await until(() => seen.length === 1);
    // A writer that has written half an entry so far (the way a slow NFS write shows up).
    const file = join(root, 'chat', `${date}.md`);
    const two = formatEntry(entry('two', at(2), { body: 'two\n---\nstill two' }));
    await appendFile(file, two.slice(0, two.length - 4));
    await sleep(150);
    expect(seen.map((e) => e.id)).toEqual(['one']);
    await appendFile(file, two.slice(two.length - 4));
    await appendEntry(other, entry('three', at(3), { from: 'beta', to: ['alpha'] }));
    await until(() => seen.length === 3);
    expect(seen.map((e) => [e.id, e.body, e.torn])).toEqual([
      ['one', 'body of one', undefined],
      ['two', 'two\n---\nstill two', undefined],
      ['three', 'body of three', undefined],
    ]);
    // Line numbers are those of the whole file.
    const { entries } = await readDay(store, date);
    expect(seen.map((e) => e.line)).toEqual(entries.slice(1).map((e) => e.line));
    controller.abort();
    await following;
  });

  it('chatlog - follow from the start filters, and resolves once aborted', async () => {
    const date = new Date().toISOString().slice(0, 10);
    await appendEntry(store, entry('a', `${date}T00:00:00.000Z`, { body: 'alpha to beta' }));
    await appendEntry(store, entry('b', `${date}T00:00:01.000Z`, { from: 'gamma', to: ['delta'] }));
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followChat(
      store,
      { signal: controller.signal, intervalMs: 20, from: 'start', with: 'Gamma' },
      (e) => seen.push(e.id),
    );
    await until(() => seen.length === 1);
    expect(seen).toEqual(['b']);
    controller.abort();
    await following;
    const aborted = new AbortController();
    aborted.abort();
    await followChat(store, { signal: aborted.signal }, () => {
      throw new Error('must not be called');
    });
  });

  it('chatlog - follow rolls over to the next day at UTC midnight', async () => {
    let clock = new Date('2026-11-21T23:59:59.000Z');
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followChat(
      store,
      { signal: controller.signal, intervalMs: 20, now: () => clock },
      (e) => seen.push(e.id),
    );
    await appendEntry(store, entry('late', '2026-11-21T23:59:59.500Z'));
    await until(() => seen.length === 1);
    clock = new Date('2026-11-22T00:00:01.000Z');
    await appendEntry(store, entry('early', '2026-11-22T00:00:00.500Z'));
    // A writer whose clock lags still appends to yesterday's file: read during the grace period.
    await appendEntry(store, entry('lagging', '2026-11-21T23:59:59.900Z'));
    await until(() => seen.length === 3);
    expect([...seen].sort()).toEqual(['early', 'lagging', 'late']);
    controller.abort();
    await following;
  });

  it('chatlog - follow reports storage errors to onError and goes on', async () => {
    const date = new Date().toISOString().slice(0, 10);
    await mkdir(join(root, 'chat', `${date}.md`), { recursive: true }); // a folder where the file should be
    const errors: unknown[] = [];
    const controller = new AbortController();
    const following = followChat(
      store,
      { signal: controller.signal, intervalMs: 20, onError: (err) => errors.push(err) },
      () => {},
    );
    await until(() => errors.length >= 2);
    expect(isOisError(errors[0])).toBe(true);
    controller.abort();
    await following;
  });
});
