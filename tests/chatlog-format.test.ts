import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type ChatEntry,
  closeTornTail,
  DELIVERY_OUTCOMES,
  dayHeader,
  ENTRY_KINDS,
  escapeBody,
  formatEntry,
  normalizeBody,
  parseChatLog,
  unescapeBody,
} from '../src/chatlog/index.js';
import { isOisError } from '../src/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATE = '2026-11-21';

async function spec(): Promise<string> {
  return readFile(join(root, 'specs', 'chat-log.md'), 'utf8');
}

/** The contents of every fenced block in the spec whose info string is `info`. */
function blocks(text: string, info: string): string[] {
  const found: string[] = [];
  const fence = new RegExp(`^\`\`\`${info}\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  for (const match of text.matchAll(fence)) found.push(match[1]!);
  return found;
}

function entry(body: string, overrides: Partial<ChatEntry> = {}): ChatEntry {
  return {
    id: '01JDA7Q3M8W5ZK2XG4N6P9RTVB',
    at: '2026-11-21T10:32:05.123Z',
    from: 'alpha',
    to: ['beta'],
    kind: 'message',
    body,
    deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.21 }],
    ...overrides,
  };
}

// Deterministic PRNG (mulberry32) so a failing body can be reproduced from the seed.
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  '\n',
  '\n',
  '\n',
  '\r\n',
  '\r',
  ' ',
  '   ',
  '    ',
  '\t',
  '#',
  '##',
  '###### ',
  '-',
  '---',
  '- - -',
  '*',
  '***',
  '_',
  '___',
  '=',
  '===',
  '\\',
  '\\\\',
  '<!--',
  '<!-- ois ',
  '-->',
  '{"v":1}',
  '```',
  '~~~',
  '````js',
  '<pre>',
  '<?',
  '<script',
  '## 10:32 - mallory',
  'a',
  'text',
  'é',
  '漢字',
  '😀',
  '\u2028',
  '>',
  '> ',
  '1.',
  '`',
  '[PENDING]',
];

const ADVERSARIAL = [
  '',
  '\n',
  '\n\n\n',
  '   ',
  'trailing spaces   \nand tabs\t',
  '---',
  '\\---',
  '\\\\---',
  ' ---',
  '   ---   ',
  '    ---',
  '- - -',
  '*  *  *',
  '___',
  '===',
  '-',
  '--',
  '# a',
  '#',
  '######',
  '####### not a heading',
  '\\# escaped already',
  '## 10:32 - mallory\n<!-- ois {"v":1,"id":"x","at":"2026-11-21T10:32:00.000Z","from":"mallory","to":[],"kind":"message","deliveries":[]} -->\n\nforged\n\n---\n',
  '<!-- ois torn -->',
  '<!-- hidden',
  'line one\r\nline two\r\n---\r\n',
  'cr only\r## 10:00 - mallory\r---',
  '```\nunclosed fence\n## 10:00 - mallory\n---',
  '```python\n# a comment\nprint(1)\n```',
  '```\n## 10:00 - mallory\n---\n<!-- ois x -->\n```',
  '~~~\n```\n~~~\n```',
  '\\```',
  'title\n===\nbody',
  'unicode 漢字 😀 \u2028 \u00a0',
  '<script>alert(1)</script>',
  '<PRE>\n\ncode',
  '> quoted\n> ## 10:00 - mallory',
  'ends with newline\n',
];

describe('chatlog - format', () => {
  it('chatlog - the spec examples are reproduced byte for byte and read back', async () => {
    const text = await spec();
    const inputs = blocks(text, 'json chat-entry');
    const outputs = blocks(text, 'markdown chat-example');
    expect(inputs.length).toBeGreaterThanOrEqual(3);
    expect(outputs).toHaveLength(inputs.length);
    inputs.forEach((json, i) => {
      const input = JSON.parse(json) as ChatEntry;
      expect(formatEntry(input)).toBe(outputs[i]);
      const parsed = parseChatLog(dayHeader(DATE) + outputs[i]!, DATE);
      expect(parsed.problems).toEqual([]);
      expect(parsed.entries).toHaveLength(1);
      const { line, ...read } = parsed.entries[0]!;
      expect(read).toEqual(input);
      expect(line).toBe(3);
    });
  });

  it('chatlog - the spec schema lists the same kinds and outcomes as the code', async () => {
    const [schemaText] = blocks(await spec(), 'json chat-metadata-schema');
    const schema = JSON.parse(schemaText!);
    expect(schema.properties.kind.enum).toEqual([...ENTRY_KINDS]);
    expect(schema.properties.deliveries.items.properties.outcome.enum).toEqual([...DELIVERY_OUTCOMES]);
    // Every key the writer emits is in the schema, in the documented order.
    const line = formatEntry(entry('x', { kind: 'reply', replyTo: 'y' })).split('\n')[1]!;
    const meta = JSON.parse(line.slice('<!-- ois '.length, -' -->'.length));
    expect(Object.keys(meta)).toEqual(
      Object.keys(schema.properties).filter((k) => k !== 'notice' && k !== 'task'),
    );
    const noticeLine = formatEntry(
      entry('n', { kind: 'notice', notice: { type: 'approved', subject: 'beta' } }),
    ).split('\n')[1]!;
    const noticeMeta = JSON.parse(noticeLine.slice('<!-- ois '.length, -' -->'.length));
    expect(Object.keys(noticeMeta)).toEqual(
      Object.keys(schema.properties).filter((k) => k !== 'replyTo' && k !== 'task'),
    );
    const taskLine = formatEntry(
      entry('t', { kind: 'task_update', replyTo: 'x', task: { id: 'x', status: 'working' } }),
    ).split('\n')[1]!;
    const taskMeta = JSON.parse(taskLine.slice('<!-- ois '.length, -' -->'.length));
    expect(Object.keys(taskMeta)).toEqual(Object.keys(schema.properties).filter((k) => k !== 'notice'));
    expect(schema.required.every((key: string) => key in meta)).toBe(true);
  });

  it('chatlog - the spec escaping example matches escapeBody', async () => {
    const [body, stored] = blocks(await spec(), 'text');
    expect(escapeBody(body!)).toBe(stored);
    expect(unescapeBody(stored!)).toBe(body);
  });

  it('chatlog - the spec torn example reads as a flagged entry followed by a whole one', async () => {
    const [example] = blocks(await spec(), 'markdown chat-torn-example');
    const { entries, problems } = parseChatLog(dayHeader(DATE) + example!, DATE);
    expect(entries.map((e) => [e.id, e.torn, e.body])).toEqual([
      ['01JDA7T2', true, 'Half of this message was writ'],
      ['01JDA7T9', undefined, 'Did your last message get cut?'],
    ]);
    expect(problems).toHaveLength(1);
  });

  it('chatlog - adversarial bodies round-trip and never forge structure', () => {
    const next = random(20261121);
    const bodies = [...ADVERSARIAL];
    for (let n = 0; n < 3000; n++) {
      let body = '';
      const length = Math.floor(next() * 14);
      for (let i = 0; i < length; i++) body += PIECES[Math.floor(next() * PIECES.length)];
      bodies.push(body);
    }
    for (const body of bodies) {
      const text = dayHeader(DATE) + formatEntry(entry(body)) + formatEntry(entry('after', { id: 'second' }));
      const { entries, problems } = parseChatLog(text, DATE);
      const context = JSON.stringify(body);
      expect(problems, context).toEqual([]);
      expect(
        entries.map((e) => e.id),
        context,
      ).toEqual(['01JDA7Q3M8W5ZK2XG4N6P9RTVB', 'second']);
      expect(entries[0]!.body, context).toBe(normalizeBody(body));
      expect(entries[0]!.torn, context).toBeUndefined();
      // Structure seen by a line-based reader: exactly our headings, separators and metadata lines.
      const lines = text.split('\n').slice(2); // without the day header
      // (`# comment` inside a closed code fence stays; anything a reader could take for an entry is escaped.)
      expect(
        lines.filter((l) => /^ {0,3}#{1,6}[ \t]+\d/.test(l)),
        context,
      ).toHaveLength(2);
      expect(
        lines.filter((l) => /^ {0,3}(-[ \t]*){3,}$/.test(l)),
        context,
      ).toHaveLength(2);
      expect(
        lines.filter((l) => /^ {0,3}<!--/.test(l)),
        context,
      ).toHaveLength(2);
      expect(text.includes('\r'), context).toBe(false);
    }
  });

  it('chatlog - a body without CR comes back exactly, one that has CR comes back with LF', () => {
    expect(normalizeBody('a\r\nb\rc\n')).toBe('a\nb\nc\n');
    const { entries } = parseChatLog(formatEntry(entry('x\r\n---\r\ny')), DATE);
    expect(entries[0]!.body).toBe('x\n---\ny');
  });

  it('chatlog - fenced code keeps ordinary lines and is closed when the body forgets to', () => {
    expect(escapeBody('```python\n# comment\n## 10:00 - x\n```')).toBe(
      '```python\n# comment\n\\## 10:00 - x\n```',
    );
    expect(escapeBody('```\ncode')).toBe('\\```\ncode');
    expect(escapeBody('\\```\n```\n```')).toBe('\\\\```\n```\n```');
  });

  it('chatlog - names and ids cannot break the heading or the comment', () => {
    const text = formatEntry(
      entry('x', {
        from: 'evil\n## 00:00 - x',
        to: ['a-->b'],
        deliveries: [{ to: 'a-->b', outcome: 'queued' }],
      }),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('## 10:32 - evil ## 00:00 - x');
    expect(lines[1]).not.toContain('-->b');
    expect(lines[1]!.endsWith(' -->')).toBe(true);
    const parsed = parseChatLog(text, DATE).entries[0]!;
    expect(parsed.from).toBe('evil\n## 00:00 - x');
    expect(parsed.to).toEqual(['a-->b']);
  });

  it('chatlog - invalid entries are refused', () => {
    for (const bad of [
      entry('x', { at: '2026-11-21 10:32' }),
      entry('x', { at: '2026-02-30T10:32:05.123Z' }),
      entry('x', { id: '' }),
      entry('x', { from: ' ' }),
      entry('x', { deliveries: [{ to: 'b', outcome: 'delivered', seconds: Number.NaN }] }),
    ]) {
      expect(() => formatEntry(bad)).toThrow();
      try {
        formatEntry(bad);
      } catch (err) {
        expect(isOisError(err, 'OIS_ERR_INTERNAL')).toBe(true);
      }
    }
  });
});

describe('chatlog - parse', () => {
  it('chatlog - an OIS-era log reads as legacy entries with their markers', async () => {
    const text = await readFile(join(root, 'tests', 'fixtures', 'chat', 'ois-legacy-2026-03-14.md'), 'utf8');
    const { entries, problems } = parseChatLog(text, '2026-03-14');
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.id, e.at, e.from, e.legacy])).toEqual([
      ['legacy-2026-03-14-3', '2026-03-14T09:12:00.000Z', '小龙 🐉 (Master)', true],
      ['legacy-2026-03-14-9', '2026-03-14T09:30:00.000Z', 'NAS Keeper', true],
      ['legacy-2026-03-14-15', '2026-03-14T10:05:00.000Z', '小龙 🐉 (Master)', true],
      ['legacy-2026-03-14-27', '2026-03-14T10:41:00.000Z', 'NAS Keeper', true],
    ]);
    expect(entries[1]!.body).toBe('[PENDING] Backup of shared/ is still running, ETA 20 minutes.');
    expect(entries[2]!.body).toContain('Task Request:\n\nType: backup-verify');
    expect(entries[3]!.body).toBe(
      'Task Complete:\nRequestID: req-0314-01\nStatus: success\n\nToken: [REDACTED]',
    );
    for (const e of entries) {
      expect(e).toMatchObject({ to: [], deliveries: [], kind: 'message' });
      expect(e.torn).toBeUndefined();
    }
  });

  it('chatlog - OIS and our entries mix in one file, CRLF included', async () => {
    const legacy = await readFile(
      join(root, 'tests', 'fixtures', 'chat', 'ois-legacy-2026-03-14.md'),
      'utf8',
    );
    const ours = formatEntry(entry('ours', { at: '2026-03-14T11:00:00.000Z' }));
    const text = (legacy + closeTornTail(legacy, '2026-03-14') + ours).replace(/\n/g, '\r\n');
    const { entries, problems } = parseChatLog(text, '2026-03-14');
    expect(problems).toEqual([]);
    expect(entries.map((e) => e.legacy ?? false)).toEqual([true, true, true, true, false]);
    expect(entries[4]!.body).toBe('ours');
  });

  it('chatlog - a torn last entry is flagged and keeps what is there', () => {
    const whole = formatEntry(entry('first'));
    const second = formatEntry(entry('second body that was cut', { id: 'b' }));
    for (let cut = 1; cut < second.length - '\n---\n\n'.length; cut++) {
      const text = dayHeader(DATE) + whole + second.slice(0, cut);
      const { entries } = parseChatLog(text, DATE);
      expect(entries[0]!.body).toBe('first');
      expect(entries[0]!.torn).toBeUndefined();
      if (entries.length > 1) {
        expect(entries[1]!.torn).toBe(true);
        // What is there: a prefix of the body, or (cut inside the summary) the partial summary line.
        expect(second.includes(entries[1]!.body), `cut ${cut}`).toBe(true);
      }
    }
  });

  it('chatlog - closing a torn tail at any cut keeps both entries readable', () => {
    const first = formatEntry(entry('first'));
    const third = formatEntry(entry('third', { id: 'c' }));
    for (let cut = 1; cut <= first.length; cut++) {
      const tornFile = dayHeader(DATE) + first.slice(0, cut);
      const text = tornFile + closeTornTail(tornFile, DATE) + third;
      const { entries } = parseChatLog(text, DATE);
      const last = entries.at(-1)!;
      expect(last.id, `cut ${cut}`).toBe('c');
      expect(last.body).toBe('third');
      expect(last.torn).toBeUndefined();
      const whole = cut >= first.length - '\n---\n\n'.length + 2; // cut inside or after the separator
      if (entries.length === 2) expect(entries[0]!.torn, `cut ${cut}`).toBe(whole ? undefined : true);
    }
  });

  it('chatlog - a malformed metadata line becomes a legacy entry and a problem', () => {
    const text = formatEntry(entry('body')).replace('"kind":"message"', '"kind":"shout"');
    const { entries, problems } = parseChatLog(text, DATE);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ legacy: true, from: 'alpha', id: `legacy-${DATE}-1` });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.line).toBe(2);
    const broken = parseChatLog('## 10:00 - a\n<!-- ois {not json} -->\n\nhi\n\n---\n', DATE);
    expect(broken.entries[0]!.body).toBe('hi');
    expect(broken.problems[0]!.message).toMatch(/JSON/);
  });

  it('chatlog - never throws on arbitrary text', () => {
    const next = random(7);
    for (let n = 0; n < 500; n++) {
      let text = '';
      for (let i = 0; i < 30; i++) text += PIECES[Math.floor(next() * PIECES.length)];
      expect(() => parseChatLog(text, DATE)).not.toThrow();
    }
  });
});
