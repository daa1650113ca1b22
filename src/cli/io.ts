import type { Readable } from 'node:stream';
import { OisError } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Reads all of stdin as UTF-8 text; invalid UTF-8 is an OIS_ERR_MESSAGE_INVALID_UTF8. */
export async function readStdinText(stdin: Readable, what = 'standard input'): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  try {
    return decoder.decode(Buffer.concat(chunks));
  } catch {
    throw new OisError('OIS_ERR_MESSAGE_INVALID_UTF8', `${what} is not valid UTF-8`, {
      hint: 'send text in UTF-8 (for a file: iconv -t UTF-8 FILE | ois send NAME -)',
    });
  }
}

/** Today's date in UTC, YYYY-MM-DD. */
export function utcDate(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/** Formats rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
