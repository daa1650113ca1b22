import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChatLog } from '../src/chatlog/index.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'append-worker.mjs');
const WRITERS = 8;
const PER_WRITER = 40;
const DATE = '2026-11-21';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ois-chatlog-conc-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function runWorker(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, root, name, String(PER_WRITER), DATE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${name} exited ${code}: ${stderr}`)),
    );
  });
}

function expectedBody(writer: string, n: number): string {
  const seq = String(n).padStart(4, '0');
  return `${writer} #${seq}\n---\n## 12:00 - forged\n<!-- ois {"v":1} -->\n${'x'.repeat(n * 13)}\n`;
}

describe('chatlog - concurrency', () => {
  it('chatlog - many processes appending at once lose, duplicate and tear nothing', async () => {
    const writers = Array.from({ length: WRITERS }, (_, i) => `writer-${i}`);
    await Promise.all(writers.map(runWorker));

    const text = await readFile(join(root, 'chat', `${DATE}.md`), 'utf8');
    expect(text.startsWith(`# ${DATE} Chat Log\n\n## `)).toBe(true);
    expect(text.match(/Chat Log/g)).toHaveLength(1);
    const { entries, problems } = parseChatLog(text, DATE);
    expect(problems).toEqual([]);
    expect(entries).toHaveLength(WRITERS * PER_WRITER);
    expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
    expect(entries.filter((e) => e.torn || e.legacy)).toEqual([]);
    // The writers really ran at the same time: their entries interleave (otherwise this tests nothing).
    const switches = entries.filter((e, i) => i > 0 && e.from !== entries[i - 1]!.from).length;
    expect(switches).toBeGreaterThan(WRITERS);
    for (const writer of writers) {
      const mine = entries.filter((e) => e.from === writer);
      // Each process's entries appear in the order it wrote them, each body intact.
      expect(mine.map((e) => e.id)).toEqual(
        Array.from({ length: PER_WRITER }, (_, n) => `${writer}-${String(n).padStart(4, '0')}`),
      );
      mine.forEach((e, n) => {
        expect(e.body).toBe(expectedBody(writer, n));
      });
    }
  }, 30_000);
});
