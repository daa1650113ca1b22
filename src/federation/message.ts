import { randomBytes } from 'node:crypto';
import { OisError } from '../errors.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID: 48 bits of milliseconds and 80 random bits in Crockford base32, 26 characters. Ids sort by time,
 * which keeps chat logs and (later) outboxes in order without a counter shared between machines.
 */
export function newMessageId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i]! % 32];
  return time + rand;
}

/** The milliseconds a ULID encodes (the inverse of the first ten characters of newMessageId); null if none. */
export function messageIdTime(id: string): number | null {
  if (!MESSAGE_ID_PATTERN.test(id)) return null;
  let t = 0;
  for (const c of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(c);
  return t;
}

export const MESSAGE_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export interface MessageHeader {
  from: string;
  to: string;
  id: string;
  /** UTC, whole seconds. */
  at: Date;
}

/**
 * The line that starts every delivered text, so the receiving assistant knows who wrote, which message this
 * is, and how to answer: `[OIS alpha → beta · 01JD… · 2026-11-21T10:32:05Z · reply: ois send alpha "…"]`.
 * The gateway itself records only "Forwarded from <agent>", which names no remote sender.
 */
export function formatHeader(h: MessageHeader): string {
  const at = `${h.at.toISOString().slice(0, 19)}Z`;
  return `[OIS ${h.from} → ${h.to} · ${h.id} · ${at} · reply: ois send ${h.from} "…"]`;
}

const HEADER_PATTERN =
  /^\[OIS (\S+) → (\S+) · ([0-9A-HJKMNP-TV-Z]{26}) · (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)(?: · [^\]\n]*)?\]$/;

/** Reads a header line back; null when the text does not start with one. */
export function parseHeader(text: string): (MessageHeader & { body: string }) | null {
  const newline = text.indexOf('\n');
  const first = newline < 0 ? text : text.slice(0, newline);
  const m = HEADER_PATTERN.exec(first);
  if (!m) return null;
  return {
    from: m[1]!,
    to: m[2]!,
    id: m[3]!,
    at: new Date(m[4]!),
    body: newline < 0 ? '' : text.slice(newline + 1),
  };
}

/** The text that goes into the peer's session: the header line, then the body. */
export function deliveredText(h: MessageHeader, body: string): string {
  return `${formatHeader(h)}\n${body}`;
}

/** Checks a message body: not empty, no NUL, no lone surrogates. Returns it unchanged. */
export function checkBody(body: string): string {
  if (body.trim() === '') {
    throw new OisError('OIS_ERR_MESSAGE_EMPTY', 'the message is empty', {
      hint: 'give the text as an argument, or `-` to read it from standard input',
    });
  }
  if (!body.isWellFormed() || body.includes('\u0000')) {
    throw new OisError('OIS_ERR_MESSAGE_INVALID_UTF8', 'the message is not valid UTF-8 text', {
      hint: 'send text in UTF-8, without NUL characters',
    });
  }
  return body;
}
