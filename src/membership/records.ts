import { createHash, type KeyObject } from 'node:crypto';
import { signBytes, verifyBytes } from './keys.js';

/** The membership roles: exactly one `owner` (the founder, until ownership is transferred). */
export const MEMBER_ROLES = ['owner', 'admin', 'member'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const MEMBER_STATUSES = ['pending', 'active', 'disabled', 'rejected', 'left', 'removed'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** What a record does (specs/membership.md, "Transitions"). */
export const MEMBER_OPS = [
  'found',
  'request',
  'withdraw',
  'reapply',
  'approve',
  'reject',
  'disable',
  'enable',
  'remove',
  'leave',
  'promote',
  'demote',
  'transfer',
  'rotate',
  'approve-key',
] as const;
export type MemberOp = (typeof MEMBER_OPS)[number];

export const RECORD_VERSION = 1;
const DOMAIN = 'ois-membership-v1\n';

/** The agent a record is about, as the record fixes it. */
export interface RecordSubject {
  name: string;
  publicKey: string;
  role: MemberRole;
}

/** One signed membership change: a line of `members/records.jsonl`. */
export interface MemberRecord {
  v: 1;
  /** 0 for the founding record, then one more per record. */
  seq: number;
  /** The hash of the record before (`recordHash`), null for the founding record. */
  prev: string | null;
  at: string;
  op: MemberOp;
  /** Who made the change: the admin, or the subject itself (found, request, withdraw, reapply, leave, rotate). */
  by: string;
  subject: RecordSubject;
  /** Why (reject, remove, disable), as the admin wrote it. */
  reason?: string;
  /** `rotate`: the key the subject moves to, and that key's signature of the record (proof it holds it). */
  newKey?: string;
  newKeySig?: string;
  /** Signature by the key of `by` (for found and request: the subject's own key in the record). */
  sig: string;
}

export type UnsignedRecord = Omit<MemberRecord, 'sig' | 'newKeySig'>;

/** The bytes a record's signatures cover: a domain tag, then a JSON array in a fixed order. */
export function recordBytes(r: UnsignedRecord): Buffer {
  return Buffer.from(
    DOMAIN +
      JSON.stringify([
        r.v,
        r.seq,
        r.prev,
        r.at,
        r.op,
        r.by,
        r.subject.name,
        r.subject.publicKey,
        r.subject.role,
        r.reason ?? null,
        r.newKey ?? null,
      ]),
    'utf8',
  );
}

/** The hash the next record's `prev` names: sha256 of the signed bytes and the signature, base64url. */
export function recordHash(r: MemberRecord): string {
  return createHash('sha256')
    .update(recordBytes(r))
    .update(`\n${r.sig}\n${r.newKeySig ?? ''}`)
    .digest('base64url');
}

/** Signs a record with the actor's key (and, for a rotation, the new key as well). */
export function signRecord(r: UnsignedRecord, key: KeyObject, newKey?: KeyObject): MemberRecord {
  const bytes = recordBytes(r);
  return {
    ...r,
    ...(newKey ? { newKeySig: signBytes(bytes, newKey) } : {}),
    sig: signBytes(bytes, key),
  };
}

export function verifyRecordSig(r: MemberRecord, publicKey: string): boolean {
  return verifyBytes(recordBytes(r), r.sig, publicKey);
}

export function verifyNewKeySig(r: MemberRecord): boolean {
  return (
    typeof r.newKey === 'string' &&
    typeof r.newKeySig === 'string' &&
    verifyBytes(recordBytes(r), r.newKeySig, r.newKey)
  );
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The record a line holds, or a reason it is not one (shape only: signatures are the chain's job). */
export function parseRecord(line: string): MemberRecord | string {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const r = data as Partial<MemberRecord>;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not a JSON object';
  if (r.v !== RECORD_VERSION) return `unknown version ${JSON.stringify(r.v)}`;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return '`seq` is not a count';
  if (r.prev !== null && typeof r.prev !== 'string') return '`prev` is not a hash';
  if (typeof r.at !== 'string' || !TIME.test(r.at)) return '`at` is not a UTC time';
  if (!MEMBER_OPS.includes(r.op as MemberOp)) return `unknown op ${JSON.stringify(r.op)}`;
  if (typeof r.by !== 'string' || !NAME.test(r.by)) return '`by` is not an agent name';
  const s = r.subject as Partial<RecordSubject> | undefined;
  if (typeof s !== 'object' || s === null) return '`subject` is missing';
  if (typeof s.name !== 'string' || !NAME.test(s.name)) return '`subject.name` is not an agent name';
  if (typeof s.publicKey !== 'string') return '`subject.publicKey` is missing';
  if (!MEMBER_ROLES.includes(s.role as MemberRole)) return '`subject.role` is not a role';
  if (r.reason !== undefined && typeof r.reason !== 'string') return '`reason` is not text';
  if (r.newKey !== undefined && typeof r.newKey !== 'string') return '`newKey` is not a key';
  if (r.newKeySig !== undefined && typeof r.newKeySig !== 'string') return '`newKeySig` is not a signature';
  if (typeof r.sig !== 'string') return '`sig` is missing';
  return r as MemberRecord;
}

/** One line of `members/records.jsonl`, keys in a fixed order for people reading the file. */
export function renderRecord(r: MemberRecord): string {
  const out: Record<string, unknown> = {
    v: r.v,
    seq: r.seq,
    prev: r.prev,
    at: r.at,
    op: r.op,
    by: r.by,
    subject: { name: r.subject.name, publicKey: r.subject.publicKey, role: r.subject.role },
  };
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.newKey !== undefined) out.newKey = r.newKey;
  if (r.newKeySig !== undefined) out.newKeySig = r.newKeySig;
  out.sig = r.sig;
  return JSON.stringify(out);
}
