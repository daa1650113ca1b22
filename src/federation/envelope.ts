import type { KeyObject } from 'node:crypto';
import { signBytes, verifyBytes } from '../membership/index.js';

/** A signed federated message (specs/federation.md). */
export interface Envelope {
  v: 1;
  id: string;
  from: string;
  to: string;
  createdAt: string;
  body: string;
  /**
   * When this copy was signed and sent, when that is later than `createdAt` (a queued message re-sent after
   * an outage). The receiver's freshness window applies to it; `createdAt` stays the time the sender wrote
   * the message, shown to the recipient.
   */
  sentAt?: string;
  /**
   * Set when the envelope carries a team notice (specs/membership.md): its type and the agent it is about.
   * A member that is not active may receive, and send, only the notices about its own membership.
   */
  notice?: { type: string; subject: string };
  /** What the envelope carries (absent: a message, or a notice when `notice` is set). */
  type?: EnvelopeType;
  /** The thread: the id of the message that started it. */
  conversation?: string;
  /** For a reply, or a task update: the id of the message (or task) it answers. */
  replyTo?: string;
  /** How many automatic answers led here in this conversation (a reply's is its original's + 1). */
  hops?: number;
  /** Seconds the receiving daemon waits for its assistant's answer, which comes back signed in the answer. */
  wait?: number;
  /** A task or a task update (specs/tasks.md). */
  task?: TaskRef;
  sig: string;
}

export const ENVELOPE_TYPES = ['message', 'reply', 'task', 'task_update', 'notice'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

export const TASK_STATES = [
  'submitted',
  'working',
  'input_required',
  'completed',
  'failed',
  'canceled',
  'rejected',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskRef {
  id: string;
  status: TaskState;
  priority?: 'low' | 'normal' | 'high';
  /** ISO-8601 UTC. */
  due?: string;
}

/** The most automatic answers one conversation may go through (ois reply refuses the next). */
export const MAX_HOPS = 64;
export const MAX_WAIT_SECONDS = 600;

export type UnsignedEnvelope = Omit<Envelope, 'sig'>;

export const ENVELOPE_VERSION = 1;
export const MAX_ENVELOPE_BODY_BYTES = 1_900_000;
const DOMAIN = 'ois-envelope-v1\n';

/** The JSON Schema of an envelope, as specs/federation.md gives it (a test keeps the two equal). */
export const ENVELOPE_SCHEMA = {
  $id: 'https://openclaw-ois/specs/federation/envelope-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'id', 'from', 'to', 'createdAt', 'body', 'sig'],
  properties: {
    v: { const: 1 },
    id: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' },
    from: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    to: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    createdAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    body: { type: 'string', minLength: 1, maxLength: MAX_ENVELOPE_BODY_BYTES },
    sentAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    notice: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'subject'],
      properties: {
        type: { type: 'string', pattern: '^[a-z_]{1,40}$' },
        subject: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
      },
    },
    type: { enum: ['message', 'reply', 'task', 'task_update', 'notice'] },
    conversation: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' },
    replyTo: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' },
    hops: { type: 'integer', minimum: 0, maximum: 64 },
    wait: { type: 'integer', minimum: 1, maximum: 600 },
    task: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'status'],
      properties: {
        id: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' },
        status: {
          enum: ['submitted', 'working', 'input_required', 'completed', 'failed', 'canceled', 'rejected'],
        },
        priority: { enum: ['low', 'normal', 'high'] },
        due: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
      },
    },
    sig: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' },
  },
} as const;

/**
 * The bytes an envelope's signature covers: a domain tag, then a JSON array in a fixed order. An array has
 * no key order to agree on, and JSON.stringify of strings and integers is fully specified. `sentAt`, when
 * present, is a seventh element, so an envelope without it signs exactly the bytes it always did; a notice
 * adds its type and subject after it (with `null` for a missing `sentAt`).
 */
export function canonicalBytes(e: UnsignedEnvelope): Buffer {
  const fields: (string | number | null)[] = [e.v, e.id, e.from, e.to, e.createdAt, e.body];
  const ext = extension(e);
  if (e.sentAt !== undefined || e.notice !== undefined || ext !== null) fields.push(e.sentAt ?? null);
  if (e.notice !== undefined || ext !== null) fields.push(e.notice?.type ?? null, e.notice?.subject ?? null);
  if (ext !== null) fields.push(ext);
  return Buffer.from(DOMAIN + JSON.stringify(fields), 'utf8');
}

/**
 * The typed fields of an envelope as one signed element: a JSON array in a fixed order, or null when the
 * envelope has none (then it signs what it always signed).
 */
function extension(e: UnsignedEnvelope): string | null {
  if (
    e.type === undefined &&
    e.conversation === undefined &&
    e.replyTo === undefined &&
    e.hops === undefined &&
    e.wait === undefined &&
    e.task === undefined
  ) {
    return null;
  }
  const task = e.task ? [e.task.id, e.task.status, e.task.priority ?? null, e.task.due ?? null] : null;
  return JSON.stringify([
    e.type ?? null,
    e.conversation ?? null,
    e.replyTo ?? null,
    e.hops ?? null,
    e.wait ?? null,
    task,
  ]);
}

/** The time the envelope's freshness is judged by: when this copy was sent. */
export function sentTimeOf(e: Pick<Envelope, 'createdAt' | 'sentAt'>): string {
  return e.sentAt ?? e.createdAt;
}

export function signEnvelope(e: UnsignedEnvelope, privateKey: KeyObject): Envelope {
  return { ...e, sig: signBytes(canonicalBytes(e), privateKey) };
}

/** True when `sig` is the signature of the envelope by the key `publicKey` (`ed25519:<base64url>`). */
export function verifyEnvelope(e: Envelope, publicKey: string): boolean {
  const { sig, ...rest } = e;
  return verifyBytes(canonicalBytes(rest), sig, publicKey);
}
