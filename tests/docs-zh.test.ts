import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/spec-blocks.js';

// Every English user guide has a Chinese counterpart: README.md ↔ README.zh-CN.md, docs/X.md ↔ docs/zh/X.md.
const guides = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .sort();
const translated = readdirSync(join(ROOT, 'docs/zh'))
  .filter((f) => f.endsWith('.md'))
  .sort();
const pairs = [
  { en: 'README.md', zh: 'README.zh-CN.md' },
  ...guides.map((f) => ({ en: `docs/${f}`, zh: `docs/zh/${f}` })),
];

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const firstLine = (text: string): string => text.split('\n', 1)[0]!;
const link = (from: string, to: string): string => posix.relative(posix.dirname(from), to);

/** Fenced code blocks, info string included, in document order. */
function fencedBlocks(text: string): string[] {
  return [...text.matchAll(/^(`{3,}|~{3,})([^\n]*)\n([\s\S]*?)^\1[ \t]*$/gm)].map((m) => `${m[2]}\n${m[3]}`);
}

/** Targets of Markdown links and images outside code, without those to other sites or anchors. */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'))
    .map((t) => decodeURIComponent(t.split('#', 1)[0]!));
}

describe('docs-zh - Chinese docs', () => {
  it('docs-zh - every English user guide in docs/ has a Chinese counterpart in docs/zh/, and no other', () => {
    expect(guides.length).toBeGreaterThan(0);
    expect(translated).toEqual(guides);
  });

  it.each(pairs)('docs-zh - $en and $zh link to each other on their first line', ({ en, zh }) => {
    const target = (line: string, label: string) =>
      new RegExp(`^${label}: \\[[^\\]]+\\]\\(([^)]+)\\)$`).exec(line)?.[1];
    expect(target(firstLine(read(en)), '中文')).toBe(link(en, zh));
    expect(target(firstLine(read(zh)), 'English')).toBe(link(zh, en));
  });

  it.each(pairs)('docs-zh - $zh has the code blocks of $en, identical and in order', ({ en, zh }) => {
    // Commands, config snippets and the README's quick start (which tests/readme.test.ts runs) cannot drift.
    expect(fencedBlocks(read(zh))).toEqual(fencedBlocks(read(en)));
  });

  it.each(pairs)('docs-zh - $zh names every error code $en names', ({ en, zh }) => {
    const codes = (text: string) => new Set(text.match(/OIS_ERR_[A-Z0-9_]+/g) ?? []);
    const missing = [...codes(read(en))].filter((c) => !codes(read(zh)).has(c));
    expect(missing).toEqual([]);
  });

  it.each(pairs)('docs-zh - every relative link in $zh resolves to a file', ({ zh }) => {
    const broken = relativeLinks(read(zh)).filter((t) => !existsSync(join(ROOT, dirname(zh), t)));
    expect(broken).toEqual([]);
  });
});

describe('docs-zh - the checks themselves', () => {
  it('docs-zh - fencedBlocks tells a changed command from an unchanged one', () => {
    const en = 'Run:\n\n```bash\nois send beta hi\n```\n';
    expect(fencedBlocks('运行：\n\n```bash\nois send beta hi\n```\n')).toEqual(fencedBlocks(en));
    expect(fencedBlocks('运行：\n\n```bash\nois send beta hello\n```\n')).not.toEqual(fencedBlocks(en));
    expect(fencedBlocks('运行：\n\n```sh\nois send beta hi\n```\n')).not.toEqual(fencedBlocks(en));
  });

  it('docs-zh - relativeLinks finds links and images, not URLs, anchors or code', () => {
    const text = [
      '见 [配置](config.md#secrets)、![图](../viewer.png)、[站点](https://example.com)、[本节](#api)。',
      '`[x](inline.md)`',
      '```md\n[y](fenced.md)\n```',
    ].join('\n');
    expect(relativeLinks(text)).toEqual(['config.md', '../viewer.png']);
  });
});
