import { OisError } from '../errors.js';

/**
 * The chat-log format (specs/chat-log.md, v1): rendering and parsing, no I/O.
 *
 * One entry keeps the shape OIS's readers split on (`## HH:MM - <user>` ... `---`) and adds one HTML comment
 * with the machine-readable metadata, invisible when the Markdown is rendered. Bodies are escaped so that no
 * message can forge a heading, a separator or a metadata line, neither for our line-based parser nor for a
 * CommonMark renderer.
 */

export const CHAT_FORMAT_VERSION = 1;

export const DELIVERY_OUTCOMES = [
  'delivered',
  'replied',
  'no_reply',
  'timeout',
  'queued',
  'unknown',
  'failed',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/**
 * `message`: what was sent, with every outcome. `reply`: a peer's answer to a waited send. `receipt`: a
 * queued message was delivered later (its `replyTo` is the message id). `notice`: a team event (a join
 * request, an approval, …: specs/membership.md), its type and subject in `notice`. `task`: a delegated task
 * (specs/tasks.md), `task_update`: a change of its status; both with `task: {id, status}`.
 */
export const ENTRY_KINDS = ['message', 'reply', 'receipt', 'notice', 'task', 'task_update'] as const;
export type ChatEntryKind = (typeof ENTRY_KINDS)[number];

export interface ChatDelivery {
  to: string;
  outcome: DeliveryOutcome;
  /** An OIS error code (e.g. `OIS_ERR_PEER_AUTH`) for `failed` and `unknown`. */
  code?: string;
  /** How long the delivery took. */
  seconds?: number;
}

export interface ChatEntry {
  id: string;
  /** ISO-8601 UTC with milliseconds, e.g. `2026-11-21T10:32:05.123Z`; decides the day file and the heading. */
  at: string;
  from: string;
  to: string[];
  kind: ChatEntryKind;
  /** The id of the message this one answers (kind `reply`). */
  replyTo?: string;
  /** Kind `notice`: what happened, and to whom. */
  notice?: NoticeRef;
  /** Kinds `task` and `task_update`: the task and its status after this entry. */
  task?: { id: string; status: string };
  body: string;
  deliveries: ChatDelivery[];
}

/** A notice's type (`join_request`, `approved`, …) and the agent it is about. */
export interface NoticeRef {
  type: string;
  subject: string;
}

export interface ParsedChatEntry extends ChatEntry {
  /** An entry without our metadata (written by OIS, or with a metadata line we could not read). */
  legacy?: boolean;
  /** Cut short by a crashed writer: never closed, or closed later with the torn marker. */
  torn?: boolean;
  /** 1-based line of its heading. */
  line: number;
}

export interface ChatProblem {
  line: number;
  message: string;
}

export interface ParsedChatLog {
  entries: ParsedChatEntry[];
  problems: ChatProblem[];
}

/** The line that closes every entry. */
export const SEPARATOR = '---';
/**
 * What a writer puts before the separator when it closes an entry a crashed writer left open (see
 * `closeTornTail`), so that readers keep flagging that entry as torn.
 */
export const TORN_MARKER = '<!-- ois torn -->';

const ISO_UTC = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):\d{2}(?:\.\d{1,9})?Z$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
// OIS wrote `## HH:MM - Name`; agents writing by hand were not always exact about the spacing or the hour.
const HEADING = /^## +(\d{1,2}):(\d{2}) +- +(.*?)[ \t]*$/;
const DAY_HEADER = /^# .*chat log[ \t]*$/i;
const METADATA = /^<!-- ois (\{.*\}) -->$/;

/** `# YYYY-MM-DD Chat Log` and a blank line: how every day file starts. */
export function dayHeader(date: string): string {
  return `# ${date} Chat Log\n\n`;
}

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isChatDate(date: string): boolean {
  if (!DATE.test(date)) return false;
  const parsed = new Date(`${date}T00:00:00.000Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
}

/** The UTC day (`YYYY-MM-DD`) of an instant: the day file it belongs to. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * Bodies use LF only. CRLF and a lone CR both become LF: CommonMark treats each of them as a line end, so a
 * lone CR left in place would let `text\r## 10:00 - mallory` render as a heading.
 */
export function normalizeBody(body: string): string {
  return body.replace(/\r\n?/g, '\n');
}

// --- escaping ---------------------------------------------------------------------------------------------

const ATX_HEADING = /^#{1,6}(?:[ \t]|$)/;
const THEMATIC_BREAK = /^(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const SETEXT_UNDERLINE = /^(?:=+|-+)[ \t]*$/;
// HTML blocks of kinds 1 to 5 run past blank lines until an end marker, so an unclosed one in a body would
// swallow (or hide, for `<!--`) every entry after it when the file is rendered. `<!-- ois` is among them.
const HTML_BLOCK_START = /^<(?:!|\?|(?:script|pre|style|textarea)(?:[ \t>]|$))/i;
const FENCE = /^(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^(`{3,}|~{3,})[ \t]*$/;
// Inside fenced code a renderer shows lines as they are, but line-based readers (ours, OIS's) do not know
// about fences: there we escape only what those readers could take for a heading, a separator or metadata,
// so that `# comment` in a code sample stays unchanged.
// Each of these is also a form `unescapeBody` recognises, which keeps the escaping reversible.
const LINE_READER_HAZARD = /^(?:#{1,6}[ \t]+\d|(?:-[ \t]*){3,}$|-+[ \t]*$|<!--)/;

interface Fence {
  char: string;
  length: number;
}

function splitIndent(line: string): [indent: string, rest: string] {
  const match = /^ {0,3}/.exec(line);
  const indent = match ? match[0] : '';
  return [indent, line.slice(indent.length)];
}

function isBlockStart(rest: string): boolean {
  return (
    ATX_HEADING.test(rest) ||
    THEMATIC_BREAK.test(rest) ||
    SETEXT_UNDERLINE.test(rest) ||
    HTML_BLOCK_START.test(rest)
  );
}

function fenceOpener(rest: string): Fence | null {
  const match = FENCE.exec(rest);
  if (!match) return null;
  const marker = match[1]!;
  if (marker[0] === '`' && match[2]!.includes('`')) return null;
  return { char: marker[0]!, length: marker.length };
}

function closesFence(rest: string, fence: Fence): boolean {
  const match = FENCE_CLOSE.exec(rest);
  return match !== null && match[1]![0] === fence.char && match[1]!.length >= fence.length;
}

/**
 * Which lines open a fence that is never closed (those get escaped, or the fence would swallow the rest of
 * the file when rendered), and which lines sit inside a properly closed fence.
 */
function fenceLayout(lines: string[]): { unclosed: Set<number>; inside: Set<number> } {
  const unclosed = new Set<number>();
  for (;;) {
    const inside = new Set<number>();
    let open: (Fence & { index: number }) | null = null;
    for (let index = 0; index < lines.length; index++) {
      if (unclosed.has(index)) continue;
      const rest = splitIndent(lines[index]!)[1];
      if (open) {
        if (closesFence(rest, open)) open = null;
        else inside.add(index);
        continue;
      }
      const fence = fenceOpener(rest);
      if (fence) open = { ...fence, index };
    }
    if (!open) return { unclosed, inside };
    // Escaping that opener changes how the lines after it read, so look again.
    unclosed.add(open.index);
  }
}

/**
 * Escapes a (normalised) body line by line, reversibly: a line that could start a heading, a separator, a
 * setext underline, an HTML block or an unclosed fence gets one backslash after its indentation; a line that
 * already is such a line behind backslashes always gets one more, so `unescapeBody` can remove exactly one.
 */
export function escapeBody(body: string): string {
  const lines = normalizeBody(body).split('\n');
  const { unclosed, inside } = fenceLayout(lines);
  return lines
    .map((line, index) => {
      const [indent, rest] = splitIndent(line);
      const core = rest.replace(/^\\+/, '');
      const alreadyEscaped = core !== rest && (isBlockStart(core) || fenceOpener(core) !== null);
      const needs =
        alreadyEscaped ||
        unclosed.has(index) ||
        (inside.has(index) ? LINE_READER_HAZARD.test(rest) : isBlockStart(rest));
      return needs ? `${indent}\\${rest}` : line;
    })
    .join('\n');
}

/** Removes exactly the one backslash `escapeBody` added. */
export function unescapeBody(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const [indent, rest] = splitIndent(line);
      if (!rest.startsWith('\\')) return line;
      const core = rest.replace(/^\\+/, '');
      return isBlockStart(core) || fenceOpener(core) !== null ? indent + rest.slice(1) : line;
    })
    .join('\n');
}

// --- rendering --------------------------------------------------------------------------------------------

// Names end up in the heading and the summary, both single lines: no control or line-separator characters.
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ');
}

function formatSeconds(seconds: number): string {
  return String(Math.round(seconds * 100) / 100);
}

/** The visible one-line summary under the metadata, e.g. `→ beta · delivered · 0.21 s`. */
export function summaryLine(entry: Pick<ChatEntry, 'to' | 'kind' | 'replyTo' | 'deliveries'>): string {
  const parts = entry.deliveries.map((d) =>
    [
      oneLine(d.to),
      d.outcome,
      ...(d.code === undefined ? [] : [oneLine(d.code)]),
      ...(d.seconds === undefined ? [] : [`${formatSeconds(d.seconds)} s`]),
    ].join(' · '),
  );
  const reported = new Set(entry.deliveries.map((d) => d.to));
  for (const name of entry.to) if (!reported.has(name)) parts.push(oneLine(name));
  const targets = `→ ${parts.length > 0 ? parts.join('; ') : '(nobody)'}`;
  if (entry.kind === 'reply') return `↩ reply to ${oneLine(entry.replyTo ?? '?')} ${targets}`;
  if (entry.kind === 'receipt') return `✓ receipt for ${oneLine(entry.replyTo ?? '?')} ${targets}`;
  if (entry.kind === 'notice') return `ⓘ notice ${targets}`;
  if (entry.kind === 'task') return `☐ task ${targets}`;
  if (entry.kind === 'task_update') return `☐ task update to ${oneLine(entry.replyTo ?? '?')} ${targets}`;
  return targets;
}

function invalidEntry(message: string, entry: ChatEntry): OisError {
  return new OisError('OIS_ERR_INTERNAL', `invalid chat entry: ${message}`, {
    hint: 'this is a bug in the caller of formatEntry; please report it',
    details: { id: entry.id },
  });
}

function checkEntry(entry: ChatEntry): void {
  if (typeof entry.id !== 'string' || entry.id === '') throw invalidEntry('empty id', entry);
  const at = ISO_UTC.exec(entry.at);
  if (!at || Number.isNaN(Date.parse(entry.at)) || !isChatDate(at[1]!)) {
    throw invalidEntry(`"at" must be ISO-8601 UTC like 2026-11-21T10:32:05.123Z, got ${entry.at}`, entry);
  }
  if (typeof entry.from !== 'string' || entry.from.trim() === '') throw invalidEntry('empty "from"', entry);
  if (!ENTRY_KINDS.includes(entry.kind)) throw invalidEntry(`unknown kind ${entry.kind}`, entry);
  if ((entry.kind === 'notice') !== (entry.notice !== undefined)) {
    throw invalidEntry('a notice entry, and only one, has a "notice"', entry);
  }
  if ((entry.kind === 'task' || entry.kind === 'task_update') !== (entry.task !== undefined)) {
    throw invalidEntry('a task entry, and only one, has a "task"', entry);
  }
  for (const d of entry.deliveries) {
    if (!DELIVERY_OUTCOMES.includes(d.outcome)) throw invalidEntry(`unknown outcome ${d.outcome}`, entry);
    if (d.seconds !== undefined && !(Number.isFinite(d.seconds) && d.seconds >= 0)) {
      throw invalidEntry(`delivery seconds must be a finite number >= 0, got ${d.seconds}`, entry);
    }
  }
}

/** The metadata object, with a fixed key order so the bytes are reproducible. */
function metadataOf(entry: ChatEntry): Record<string, unknown> {
  return {
    v: CHAT_FORMAT_VERSION,
    id: entry.id,
    at: entry.at,
    from: entry.from,
    to: [...entry.to],
    kind: entry.kind,
    ...(entry.replyTo === undefined ? {} : { replyTo: entry.replyTo }),
    ...(entry.notice === undefined
      ? {}
      : { notice: { type: entry.notice.type, subject: entry.notice.subject } }),
    ...(entry.task === undefined ? {} : { task: { id: entry.task.id, status: entry.task.status } }),
    deliveries: entry.deliveries.map((d) => ({
      to: d.to,
      outcome: d.outcome,
      ...(d.code === undefined ? {} : { code: d.code }),
      ...(d.seconds === undefined ? {} : { seconds: d.seconds }),
    })),
  };
}

/** The metadata line. `<` and `>` are written as \u escapes so no value can end the comment early. */
export function metadataLine(entry: ChatEntry): string {
  const json = JSON.stringify(metadataOf(entry)).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
  return `<!-- ois ${json} -->`;
}

/**
 * Renders one entry (specs/chat-log.md):
 * ```
 * ## 10:32 - alpha
 * <!-- ois {"v":1,...} -->
 * → beta · delivered · 0.21 s
 *
 * Hello beta.
 *
 * ---
 *
 * ```
 * Throws `OIS_ERR_INTERNAL` for an entry no caller should build (bad `at`, empty id or sender).
 */
export function formatEntry(entry: ChatEntry): string {
  checkEntry(entry);
  const hhmm = entry.at.slice(11, 16);
  return [
    `## ${hhmm} - ${oneLine(entry.from)}`,
    metadataLine(entry),
    summaryLine(entry),
    '',
    escapeBody(entry.body),
    '',
    SEPARATOR,
    '',
    '',
  ].join('\n');
}

/**
 * What to write before a new entry, given the file's last bytes, so that the previous entry is closed and
 * separated by one blank line. A file that is empty (or blank) gets the day header instead. An entry a crashed
 * writer left open is closed with the torn marker and a separator: it stays readable, flagged `torn`, and can
 * never swallow the entry written after it.
 */
export function closeTornTail(tail: string, date: string): string {
  const text = tail.replace(/\r\n?/g, '\n');
  if (text.trim() === '') return dayHeader(date);
  const trimmed = text.replace(/\n+$/, '');
  const newlines = text.length - trimmed.length;
  const lastLine = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
  const blankLines = '\n'.repeat(Math.max(0, 2 - newlines));
  if (lastLine === SEPARATOR || DAY_HEADER.test(lastLine)) return blankLines;
  // Our writers write `---\n\n` in one go, and bodies never hold a `-` or `--` line (escaped), so a file
  // ending in one of those was cut inside the separator: the entry itself is complete.
  if (newlines === 0 && (lastLine === '-' || lastLine === '--')) {
    return `${SEPARATOR.slice(lastLine.length)}\n\n`;
  }
  return `${blankLines}${TORN_MARKER}\n\n${SEPARATOR}\n\n`;
}

// --- parsing ----------------------------------------------------------------------------------------------

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** Validates a decoded metadata object; the error text becomes a problem. */
function readMetadata(value: unknown): Omit<ChatEntry, 'body'> | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'metadata is not an object';
  const m = value as Record<string, unknown>;
  if (m.v !== CHAT_FORMAT_VERSION) return `unsupported metadata version ${JSON.stringify(m.v)}`;
  if (!isString(m.id) || m.id === '') return 'metadata "id" is missing';
  if (!isString(m.at) || !ISO_UTC.test(m.at) || Number.isNaN(Date.parse(m.at)))
    return 'metadata "at" is invalid';
  if (!isString(m.from) || m.from === '') return 'metadata "from" is missing';
  if (!Array.isArray(m.to) || !m.to.every(isString)) return 'metadata "to" is not a list of names';
  if (!ENTRY_KINDS.includes(m.kind as ChatEntryKind)) return 'metadata "kind" is invalid';
  if (m.replyTo !== undefined && !isString(m.replyTo)) return 'metadata "replyTo" is invalid';
  const n = m.notice as Record<string, unknown> | undefined;
  if (n !== undefined && (typeof n !== 'object' || n === null || !isString(n.type) || !isString(n.subject))) {
    return 'metadata "notice" is invalid';
  }
  if (m.kind === 'notice' && n === undefined) return 'metadata "notice" is missing';
  const t = m.task as Record<string, unknown> | undefined;
  if (t !== undefined && (typeof t !== 'object' || t === null || !isString(t.id) || !isString(t.status))) {
    return 'metadata "task" is invalid';
  }
  if ((m.kind === 'task' || m.kind === 'task_update') && t === undefined) return 'metadata "task" is missing';
  if (!Array.isArray(m.deliveries)) return 'metadata "deliveries" is not a list';
  const deliveries: ChatDelivery[] = [];
  for (const raw of m.deliveries as unknown[]) {
    if (typeof raw !== 'object' || raw === null) return 'a delivery is not an object';
    const d = raw as Record<string, unknown>;
    if (!isString(d.to)) return 'a delivery has no "to"';
    if (!DELIVERY_OUTCOMES.includes(d.outcome as DeliveryOutcome))
      return 'a delivery has an invalid "outcome"';
    if (d.code !== undefined && !isString(d.code)) return 'a delivery has an invalid "code"';
    if (d.seconds !== undefined && !(typeof d.seconds === 'number' && Number.isFinite(d.seconds))) {
      return 'a delivery has an invalid "seconds"';
    }
    deliveries.push({
      to: d.to,
      outcome: d.outcome as DeliveryOutcome,
      ...(d.code === undefined ? {} : { code: d.code as string }),
      ...(d.seconds === undefined ? {} : { seconds: d.seconds as number }),
    });
  }
  return {
    id: m.id,
    at: m.at,
    from: m.from,
    to: [...(m.to as string[])],
    kind: m.kind as ChatEntryKind,
    ...(m.replyTo === undefined ? {} : { replyTo: m.replyTo as string }),
    ...(n === undefined ? {} : { notice: { type: n.type as string, subject: n.subject as string } }),
    ...(t === undefined ? {} : { task: { id: t.id as string, status: t.status as string } }),
    deliveries,
  };
}

function isBlank(line: string | undefined): boolean {
  return line !== undefined && line.trim() === '';
}

function trimBlankLines(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && isBlank(lines[start])) start++;
  while (end > start && isBlank(lines[end - 1])) end--;
  return lines.slice(start, end);
}

export interface ParseOptions {
  /** Line number of the text's first line, for a follower that parses a file piece by piece. Default 1. */
  firstLine?: number;
}

/**
 * Reads a day file (ours, OIS's, or a mix). Never throws: what it cannot read becomes a problem, an OIS entry
 * becomes a `legacy` entry, and a last entry without its separator is returned with `torn: true`.
 */
export function parseChatLog(text: string, date: string, options: ParseOptions = {}): ParsedChatLog {
  const firstLine = options.firstLine ?? 1;
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const entries: ParsedChatEntry[] = [];
  const problems: ChatProblem[] = [];
  const problem = (index: number, message: string) => problems.push({ line: firstLine + index, message });

  const headings: number[] = [];
  lines.forEach((line, index) => {
    const match = HEADING.exec(line);
    if (match && Number(match[1]) < 24 && Number(match[2]) < 60) headings.push(index);
  });

  const beforeFirst = headings[0] ?? lines.length;
  for (let i = 0; i < beforeFirst; i++) {
    const line = lines[i]!;
    if (!isBlank(line) && !DAY_HEADER.test(line)) problem(i, 'text outside any entry is ignored');
  }

  headings.forEach((start, n) => {
    const end = headings[n + 1] ?? lines.length;
    const isLast = n === headings.length - 1;
    const heading = HEADING.exec(lines[start]!)!;
    const lineNumber = firstLine + start;
    const metaLine = lines[start + 1] ?? '';
    let meta: Omit<ChatEntry, 'body'> | null = null;
    let bodyFrom = start + 1;
    if (metaLine.startsWith('<!-- ois') && metaLine !== TORN_MARKER) {
      bodyFrom = start + 2;
      const match = METADATA.exec(metaLine);
      let decoded: Omit<ChatEntry, 'body'> | string = 'metadata comment is malformed';
      if (match) {
        try {
          decoded = readMetadata(JSON.parse(match[1]!));
        } catch {
          decoded = 'metadata is not valid JSON';
        }
      }
      if (typeof decoded === 'string') problem(start + 1, `${decoded}; read as a legacy entry`);
      else meta = decoded;
    }

    // Our bodies cannot hold a separator line (escaped), so ours end at the first one; OIS bodies may, so
    // theirs end at the last one in front of the next heading.
    let separator = -1;
    for (let i = bodyFrom; i < end; i++) {
      if (lines[i] !== SEPARATOR) continue;
      separator = i;
      if (meta) break;
    }
    if (separator >= 0) {
      for (let i = separator + 1; i < end; i++) {
        if (!isBlank(lines[i])) {
          problem(i, 'text between entries is ignored');
          break;
        }
      }
    }
    let region = lines.slice(bodyFrom, separator >= 0 ? separator : end);
    let torn = separator < 0 && (isLast || meta !== null);
    const lastText = trimBlankLines(region).at(-1);
    if (lastText === TORN_MARKER) {
      torn = true;
      region = region.slice(0, region.lastIndexOf(TORN_MARKER));
    }

    let entry: ParsedChatEntry;
    if (meta) {
      if (region.length > 0 && region[0] === summaryLine(meta)) region = region.slice(1);
      else if (region.length > 0 && !isBlank(region[0])) {
        problem(bodyFrom, 'summary line does not match the metadata; kept in the body');
      }
      // Exactly one blank line on each side belongs to the format, not the body.
      if (region[0] === '') region = region.slice(1);
      if ((separator >= 0 || lastText === TORN_MARKER) && region.at(-1) === '') region = region.slice(0, -1);
      entry = { ...meta, body: unescapeBody(region.join('\n')), line: lineNumber };
    } else {
      const hh = heading[1]!.padStart(2, '0');
      entry = {
        id: `legacy-${date}-${lineNumber}`,
        at: `${date}T${hh}:${heading[2]}:00.000Z`,
        from: heading[3]!,
        to: [],
        kind: 'message',
        body: trimBlankLines(region).join('\n'),
        deliveries: [],
        legacy: true,
        line: lineNumber,
      };
    }
    if (torn) {
      entry.torn = true;
      problem(start, 'entry was cut short by a crashed writer');
    }
    entries.push(entry);
  });
  return { entries, problems };
}
