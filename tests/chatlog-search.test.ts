import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatEntry,
  dayHeader,
  formatEntry,
  listDays,
  metadataLine,
  type ParsedChatEntry,
  parseChatLog,
  queryChat,
  readDay,
} from '../src/chatlog/index.js';
import { ASCII_FROM_NON_ASCII, DayScanner, grepPrefilter } from '../src/chatlog/search.js';
import { FsTeamStore } from '../src/team/index.js';

// Bodies whose stored bytes differ from what the user sees (escaping, line ends), or whose lowercase differs
// from the lowercase of their bytes (non-ASCII case folding): a byte pre-filter that misses any of these
// loses search results.
const BODIES = [
  '# Plan\n## 10:00 - mallory\n---\n\\---\n<!-- ois {"v":1} -->\n```never closed',
  'intro\n  # indented heading\n   - - -\n=== underline\n   <pre> and <!-- comment',
  '```\n## 10:00 in a fence\n# comment\n---\n```\nafter the fence',
  '\u212Aelvin scale, 300 \u212A',
  '\u0130stanbul and \u0130zmir',
  'ÉCOLE Straße ΟΔΟΣ Σίσυφος ǅemal',
  '小龙 → 🦊 fox · done',
  'tab\there and  two  spaces *stars* _under_ ~~~ tilde',
  'line one\r\nline two\rline three',
  'x\\# not a heading\n\\\\# two\n\\```',
  '',
  'Next run: 02:00 UTC. → beta · delivered',
  '[ACTION REQUIRED] (x) costs $5 ^ a|b? c+ {1} .* /path/',
];

function entry(n: number, date: string, body: string, over: Partial<ChatEntry> = {}): ChatEntry {
  return {
    id: `01SEARCH${String(n).padStart(4, '0')}`,
    at: `${date}T${String(n % 24).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00.000Z`,
    from: n % 2 ? 'alpha' : 'Beta',
    to: n % 3 ? ['beta'] : ['gamma', 'ALPHA'],
    kind: 'message',
    body,
    deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.21 }],
    ...over,
  };
}

/** One day file: our entries, an OIS-era entry, a summary that does not match, stray text, a torn end. */
function dayText(date: string): string {
  const ours = BODIES.map((body, n) => formatEntry(entry(n, date, body)));
  const mismatched = entry(90, date, 'body after a wrong summary');
  return [
    dayHeader(date),
    'stray text before the first entry\n\n',
    ...ours.slice(0, 6),
    '## 09:15 - Nova\n\n[PENDING] backup at noon\n\\# kept as written\n---\nan OIS body may hold a separator\n\n---\n\n',
    'text between entries\n\n',
    `## 10:40 - alpha\n${metadataLine(mismatched)}\n→ somebody else\n\nbody after a wrong summary\n\n---\n\n`,
    '## 99:99 - not a heading\n',
    ...ours.slice(6),
    `## 23:59 - gamma\n${metadataLine(entry(91, date, ''))}\n→ beta\n\nHalf of this mess`,
  ].join('');
}

const matches = (grep: string) => (e: ParsedChatEntry) => e.body.toLowerCase().includes(grep.toLowerCase());

/** What the search must answer: every entry parsed, the old exact filter. */
function reference(text: string, date: string, grep: string): ParsedChatEntry[] {
  return parseChatLog(text, date).entries.filter(matches(grep));
}

/** The pre-filtered search on a reused buffer: the file's bytes, then stale bytes that must be ignored. */
function scanned(data: Buffer, date: string, grep: string): ParsedChatEntry[] {
  const stale = Buffer.from(`\n## 12:00 - stale\n\n${grep}\n\n---\n\n`);
  return new DayScanner(grep)
    .candidates(Buffer.concat([data, stale]), data.length, date)
    .filter(matches(grep));
}

/** Search texts: pieces of what the user sees (in three cases) and of the raw file across line ends. */
function needles(text: string, date: string, lengths = [1, 2, 3, 4, 6, 9, 14, 25], stride = 3): string[] {
  const out = new Set<string>();
  const add = (s: string) => {
    if (s === '') return;
    out.add(s);
    out.add(s.toUpperCase());
    out.add(s.toLowerCase());
  };
  const seen = parseChatLog(text, date).entries.map((e) => e.body);
  for (const body of seen) {
    const chars = [...body];
    for (let i = 0; i < chars.length; i++) {
      for (const len of lengths) add(chars.slice(i, i + len).join(''));
    }
    add(body);
  }
  const raw = [...text];
  for (let i = 0; i < raw.length; i += stride)
    for (const len of [4, 11, 30]) add(raw.slice(i, i + len).join(''));
  for (const s of [
    'i̇stanbul',
    'kelvin',
    'k',
    'i',
    'οδος',
    'ς',
    'ǆ',
    'straße',
    'ss',
    '\uFFFD',
    ' #',
    '\n',
    ' ',
  ]) {
    add(s);
  }
  return [...out];
}

/** The search texts on which the scan and the full parse disagree; `quick` for files parsed in full anyway. */
function mismatches(data: Buffer, date: string, quick = false): string[] {
  const text = data.toString('utf8');
  const wrong: string[] = [];
  for (const grep of quick ? needles(text, date, [2, 7], 17) : needles(text, date)) {
    const want = reference(text, date, grep);
    const got = scanned(data, date, grep);
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(grep);
  }
  return wrong;
}

describe('chatlog - search pre-filter', () => {
  it('chatlog - the byte scan finds every entry a full parse finds: escaped, folded, legacy, torn', () => {
    const date = '2026-11-21';
    const text = dayText(date);
    // The fixture really holds what the pre-filter must see through.
    expect(text).toContain('\\# Plan');
    expect(text).toContain('  \\# indented heading');
    expect(text).toContain('line one\nline two\nline three');
    expect(parseChatLog(text, date).entries.some((e) => e.legacy)).toBe(true);
    expect(parseChatLog(text, date).entries.at(-1)?.torn).toBe(true);
    expect(mismatches(Buffer.from(text), date)).toEqual([]);
  }, 120_000);

  it('chatlog - files the scan cannot read byte for byte are parsed in full: CRLF, lone CR, invalid UTF-8', () => {
    const date = '2026-11-22';
    const text = dayText(date);
    expect(mismatches(Buffer.from(text.replace(/\n/g, '\r\n')), date, true)).toEqual([]);
    // A lone CR ends a line for the parser, here the one before a heading.
    const loneCr = text.replace('\n\n## 09:15', '\n\r## 09:15').replace(/\n\n---/g, '\r\n---');
    expect(parseChatLog(loneCr, date).entries.some((e) => e.from === 'Nova')).toBe(true);
    expect(mismatches(Buffer.from(loneCr), date, true)).toEqual([]);
    const bad = Buffer.from(text.replace('fox', 'f\u0000x'));
    bad[bad.indexOf(0)] = 0xff;
    expect(reference(bad.toString('utf8'), date, 'f\uFFFDx')).toHaveLength(1);
    expect(mismatches(bad, date, true)).toEqual([]);
  }, 120_000);

  it('chatlog - a hit across the edge of a scanned slice is found', () => {
    const date = '2026-11-21';
    const text = (pad: number) =>
      dayHeader(date) + formatEntry(entry(1, date, `${'a'.repeat(pad)} CrossIng the edge`));
    // Slices are 16 KB: put the hit at every place across that edge.
    const base = text(0).indexOf('CrossIng');
    for (let pad = 16_384 - base - 12; pad <= 16_384 - base + 2; pad++) {
      expect(scanned(Buffer.from(text(pad)), date, 'crossing')).toHaveLength(1);
    }
  });

  it('chatlog - text only in the metadata, the heading or the summary finds nothing', () => {
    const date = '2026-11-21';
    const data = Buffer.from(dayText(date));
    for (const grep of [
      '01SEARCH0003',
      'delivered · 0.21 s',
      '"outcome"',
      'ois {"v":1,',
      '## 10:40',
      '→ beta',
    ]) {
      expect(scanned(data, date, grep)).toEqual(reference(data.toString('utf8'), date, grep));
    }
    expect(scanned(data, date, '01SEARCH0003')).toEqual([]);
    // A word split across the metadata line and the body is not in the body.
    expect(scanned(data, date, '0.21}]} -->\n→ beta')).toEqual([]);
    expect(scanned(data, date, 'delivered\n\nnext run')).toEqual([]);
    expect(scanned(data, date, 'next run').map((e) => e.id)).toEqual(['01SEARCH0011']);
  });

  it('chatlog - the needle is a piece no escaping, line end or case folding can break', () => {
    const needle = (grep: string) => {
      const filter = grepPrefilter(grep);
      return filter && Buffer.from(filter.needle).toString('utf8');
    };
    expect(needle('Next run: 02:00')).toBe('next run: 02:00');
    expect(needle('intro\n  # Indented')).toBe('# indented');
    expect(needle('a  -')).toBe('a  ');
    expect(needle(' #')).toBe(' ');
    expect(needle('\n')).toBeNull();
    expect(needle('ÉCOLE')).toBe('cole');
    expect(needle('小龙 said')).toBe('小龙 said');
    expect(needle('ΣΣ')).toBeNull();
    expect(grepPrefilter('kit')?.exotic.map(String)).toEqual(['\u0130', '\u212A']);
    expect(grepPrefilter('abc')?.exotic).toEqual([]);
  });

  it('chatlog - no code point lowercases into a needle character except the two the scan checks for', () => {
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const char = String.fromCodePoint(cp);
      const lower = char.toLowerCase();
      if (lower === char) continue;
      for (const x of lower) {
        if (x.charCodeAt(0) < 0x80) expect([cp, ASCII_FROM_NON_ASCII[x]]).toEqual([cp, char]);
        else expect([cp, grepPrefilter(x)]).toEqual([cp, null]);
      }
    }
    // Lowercasing in context: a final sigma.
    expect('ΟΔΟΣ'.toLowerCase()).toBe('οδος');
    expect(grepPrefilter('ς')).toBeNull();
  }, 120_000);
});

describe('chatlog - queryChat with grep, on files', () => {
  let root: string;
  let store: FsTeamStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ois-chatlog-search-'));
    store = new FsTeamStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('chatlog - the same entries as parsing every day, across days of different sizes and filters', async () => {
    await mkdir(join(root, 'chat'));
    // A day over the read buffer's first size, then smaller ones: the reused buffers hold stale bytes.
    const dates = [
      '2026-11-14',
      '2026-11-15',
      '2026-11-16',
      '2026-11-17',
      '2026-11-18',
      '2026-11-19',
      '2026-11-20',
    ];
    const big = Array.from({ length: 4200 }, (_, n) =>
      formatEntry(entry(n, dates[0]!, `filler ${n} text`)),
    ).join('');
    await writeFile(
      join(root, 'chat', `${dates[0]}.md`),
      `${dayHeader(dates[0]!)}${big}${formatEntry(entry(1, dates[0]!, 'last Needle'))}`,
    );
    for (const [i, date] of dates.slice(1).entries()) {
      const text = i % 2 ? dayText(date).replace(/\n/g, '\r\n') : dayText(date);
      await writeFile(join(root, 'chat', `${date}.md`), text.slice(0, text.length - i * 40));
    }
    expect(big.length).toBeGreaterThan(1 << 20);

    // Every day parsed in full once: what the search must answer, with the old filters applied in memory.
    const everything: ParsedChatEntry[] = [];
    for (const day of await listDays(store)) everything.push(...(await readDay(store, day)).entries);
    const all = (filter: { with?: string; since?: Date }, grep: string) =>
      everything.filter((e) => {
        if (filter.since && Date.parse(e.at) < filter.since.getTime()) return false;
        const who = filter.with?.toLowerCase();
        if (who && e.from.toLowerCase() !== who && !e.to.some((t) => t.toLowerCase() === who)) return false;
        return matches(grep)(e);
      });
    const since = new Date('2026-11-16T12:00:00.000Z');
    for (const grep of [
      'needle',
      'kelvin',
      'i̇stanbul',
      '# PLAN',
      'fox',
      'half of',
      'e',
      '  # indented',
      '---',
    ]) {
      for (const filter of [{}, { with: 'GAMMA' }, { since }, { since, with: 'alpha' }]) {
        const got = await queryChat(store, { ...filter, grep, ...(filter.since ? {} : { allDays: true }) });
        expect({ grep, filter, got: got.map((e) => `${e.id}@${e.line}`) }).toEqual({
          grep,
          filter,
          got: all(filter, grep).map((e) => `${e.id}@${e.line}`),
        });
        expect(got).toEqual(all(filter, grep));
      }
    }
    expect((await queryChat(store, { grep: 'needle', allDays: true })).map((e) => e.body)).toEqual([
      'last Needle',
    ]);
    expect(await queryChat(store, { grep: 'kelvin', date: '2026-11-16' })).toHaveLength(1);
  }, 120_000);
});
