import { type ParsedChatEntry, parseChatLog } from './format.js';

/**
 * Chat search that looks at the bytes before it parses (issue 9.5): a day file is scanned for the search
 * text, case-insensitively, and only the entries around a hit are parsed and checked exactly. Parsing every
 * entry of 90 days took seconds; the scan takes about as long as reading the files.
 *
 * The scan must never miss an entry the exact check would accept: an entry's body is the file's text less
 * what the format adds and folds, so the byte needle is a piece of the search text that survives all of it:
 * - escaping puts one backslash after a line's indentation (`# x` is stored `\# x`), so a piece never spans
 *   a space followed by punctuation, nor a line end (a file may also hold CRLF where the body has LF);
 * - `toLowerCase` maps some characters onto others (`É` to `é`, `Σ` to `ς` at a word's end, `İ` to `i` and
 *   U+0307, the Kelvin sign to `k`), so a piece holds no non-ASCII character that another one lowercases to,
 *   and a file holding `İ` or the Kelvin sign is read in full when the piece has an `i` or a `k`;
 * - invalid UTF-8 reads as U+FFFD, which is not in the file's bytes, so U+FFFD is never part of a piece.
 * When no piece is left (a search for a line end), or a file has a CR, the day is parsed in full as before.
 */

/** Non-ASCII characters whose lowercase holds an ASCII letter: U+0130 (`İ` → `i̇`), U+212A (Kelvin → `k`). */
export const ASCII_FROM_NON_ASCII: Readonly<Record<string, string>> = { i: '\u0130', k: '\u212A' };

// Characters some other character lowercases to, or that take part in context-dependent lowercasing. Only
// Cased and Case_Ignorable characters can be produced by lowercasing a different character (a test checks
// every code point).
const FOLDS_ONTO = /[\p{Cased}\p{Case_Ignorable}\uFFFD]|\p{Cs}/u;
// The characters an escaped line can start with after its backslash (see `unescapeBody`), and more.
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;

/** What the scan looks for: the needle (ASCII lowercased) and the byte sequences that disable it in a file. */
export interface BytePrefilter {
  needle: Uint8Array;
  /** A file holding one of these is parsed in full (it may hold a character that lowercases into the needle). */
  exotic: Buffer[];
}

/**
 * The longest piece of the (lowercased) search text that an entry's bytes must hold, case aside, when its
 * body holds the text; null when there is none.
 * @example grepPrefilter('Next run: 02:00')?.needle // the bytes of 'next run: 02:00'
 */
export function grepPrefilter(grep: string): BytePrefilter | null {
  const text = grep.toLowerCase();
  const pieces: string[] = [];
  let piece = '';
  let previous = '';
  for (const char of text) {
    const cut =
      char === '\n' ||
      char === '\r' ||
      (char.charCodeAt(0) >= 0x80 && FOLDS_ONTO.test(char)) ||
      (previous === ' ' && ASCII_PUNCTUATION.test(char));
    if (cut) {
      pieces.push(piece);
      // A cut character that is itself safe to keep (punctuation after a space) starts the next piece.
      piece = char === '\n' || char === '\r' || char.charCodeAt(0) >= 0x80 ? '' : char;
    } else piece += char;
    previous = char;
  }
  pieces.push(piece);
  let best = '';
  for (const p of pieces) if (Buffer.byteLength(p) > Buffer.byteLength(best)) best = p;
  if (best === '') return null;
  const exotic = Object.entries(ASCII_FROM_NON_ASCII)
    .filter(([ascii]) => best.includes(ascii))
    .map(([, char]) => Buffer.from(char));
  return { needle: new Uint8Array(Buffer.from(best)), exotic };
}

// Bytes are searched in slices of this size, read as Latin-1 (one character a byte). A string of the whole
// file (1 MB) lands in fresh memory each time and costs more than the search; small ones are recycled.
const SLICE = 16_384;

/**
 * Finds `needle` (ASCII lowercased) in `data[from, end)`, ASCII case folded, and returns the offset of the
 * first hit or -1. Buffer.indexOf has no case-insensitive mode; a RegExp with `i` has, on a Latin-1 view of
 * the bytes. In that view `i` also folds some non-ASCII bytes onto others (0xC9 and 0xE9): hits only ever
 * get more, never fewer, and each one is checked exactly afterwards.
 */
function makeFinder(needle: Uint8Array): (data: Buffer, from: number, end: number) => number {
  const text = Buffer.from(needle).toString('latin1');
  const pattern = new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'i');
  const size = Math.max(SLICE, 4 * needle.length);
  return (data, from, end) => {
    for (let at = from; at < end; ) {
      const stop = Math.min(end, at + size);
      const hit = pattern.exec(data.toString('latin1', at, stop));
      if (hit) return at + hit.index;
      if (stop === end) break;
      // The next slice starts early enough to hold a hit that crosses this one's end.
      at = stop - needle.length + 1;
    }
    return -1;
  };
}

const HEADING_START = Buffer.from('\n## ');
const HASHES = Buffer.from('## ');
const NEWLINE = 10;
const CR = 13;

function lineEnd(data: Buffer, from: number, end: number): number {
  const nl = data.indexOf(NEWLINE, from);
  return nl < 0 || nl >= end ? end : nl;
}

/** The offsets of `## ` line starts the parser takes for entry headings: it decides, not a copy of its rules. */
function isHeading(data: Buffer, start: number, end: number): boolean {
  const text = data.toString('utf8', start, lineEnd(data, start, end));
  return parseChatLog(text, '2000-01-01').entries.length === 1;
}

/** Start of the last heading line that starts at or before `pos`, or -1. */
function headingAtOrBefore(data: Buffer, pos: number, end: number): number {
  for (let at = pos - 1; at >= 0; at--) {
    const nl = data.lastIndexOf(HEADING_START, at);
    if (nl < 0) break;
    if (isHeading(data, nl + 1, end)) return nl + 1;
    at = nl;
  }
  return data.subarray(0, HASHES.length).equals(HASHES) && isHeading(data, 0, end) ? 0 : -1;
}

/** Start of the first heading line that starts after `pos`, or `end`. */
function headingAfter(data: Buffer, pos: number, end: number): number {
  for (let at = pos; at < end; ) {
    const nl = data.indexOf(HEADING_START, at);
    if (nl < 0 || nl >= end) break;
    if (isHeading(data, nl + 1, end)) return nl + 1;
    at = nl + 1;
  }
  return end;
}

function countNewlines(data: Buffer, from: number, to: number): number {
  // A plain loop: indexOf per line costs a native call for each of the file's lines.
  let count = 0;
  for (let i = from; i < to; i++) if (data[i] === NEWLINE) count++;
  return count;
}

/** A reusable scan for one search text: one finder, applied to day file after day file. */
export class DayScanner {
  readonly #filter: BytePrefilter | null;
  readonly #find: ((data: Buffer, from: number, end: number) => number) | null;

  constructor(grep: string) {
    this.#filter = grepPrefilter(grep);
    this.#find = this.#filter ? makeFinder(this.#filter.needle) : null;
  }

  /**
   * The entries of one day file (`data[0, length)`) that may hold the search text, in file order, parsed
   * exactly as `parseChatLog` parses the whole file (same bodies, same line numbers, same torn flags). A
   * superset: the caller still applies the exact match.
   */
  candidates(data: Buffer, length: number, date: string): ParsedChatEntry[] {
    const find = this.#find;
    const filter = this.#filter;
    const full = () => parseChatLog(data.toString('utf8', 0, length), date).entries;
    if (!find || !filter) return full();
    const cr = data.indexOf(CR);
    if (cr >= 0 && cr < length) return full();
    for (const seq of filter.exotic) {
      const at = data.indexOf(seq);
      if (at >= 0 && at < length) return full();
    }
    const out: ParsedChatEntry[] = [];
    let lines = 0;
    let counted = 0;
    for (let hit = find(data, 0, length); hit >= 0; ) {
      const start = headingAtOrBefore(data, hit, length);
      if (start < 0) {
        // Text before the first entry (the day header): no entry holds it.
        hit = find(data, hit + 1, length);
        continue;
      }
      const next = headingAfter(data, hit, length);
      // The next heading line goes with it, so that the entry is not the file's last (which decides `torn`).
      const stop = next < length ? Math.min(length, lineEnd(data, next, length) + 1) : length;
      lines += countNewlines(data, counted, start);
      counted = start;
      const entry = parseChatLog(data.toString('utf8', start, stop), date, { firstLine: lines + 1 })
        .entries[0];
      if (entry) out.push(entry);
      hit = next < length ? find(data, next, length) : -1;
    }
    return out;
  }
}
