import { OisError } from '../errors.js';
import { agentId } from '../registry/index.js';
import {
  type MemberOp,
  type MemberRecord,
  type MemberRole,
  type MemberStatus,
  RECORD_VERSION,
  recordHash,
  verifyNewKeySig,
  verifyRecordSig,
} from './records.js';

/** A member as the records make it. */
export interface Member {
  name: string;
  id: string;
  publicKey: string;
  role: MemberRole;
  status: MemberStatus;
  /** A rotation the member asked for and no admin approved yet. */
  pendingKey: string | null;
  /** The record that last changed it. */
  seq: number;
  at: string;
  by: string;
  reason: string | null;
}

/** The team's membership after some records: who is in it, and the chain's head for the next record. */
export interface MembershipState {
  members: ReadonlyMap<string, Member>;
  /** The owner's id, null before the founding record. */
  owner: string | null;
  head: { seq: number; hash: string } | null;
}

export const EMPTY_STATE: MembershipState = { members: new Map(), owner: null, head: null };

/** Ops the subject makes itself, signed with its own key; every other op is an admin's (or the owner's). */
export const SELF_OPS: ReadonlySet<MemberOp> = new Set([
  'found',
  'request',
  'withdraw',
  'reapply',
  'leave',
  'rotate',
]);

/**
 * Each op, from which states it moves a member and to which (specs/membership.md keeps the same table; a
 * test holds the two equal). `none` is an agent without records; `any` is every state but `removed`.
 */
export const TRANSITIONS: Record<MemberOp, { from: readonly (MemberStatus | 'none')[]; to: MemberStatus }> = {
  found: { from: ['none'], to: 'active' },
  request: { from: ['none', 'left', 'removed'], to: 'pending' },
  withdraw: { from: ['pending'], to: 'left' },
  reapply: { from: ['rejected'], to: 'pending' },
  approve: { from: ['pending', 'none'], to: 'active' },
  reject: { from: ['pending'], to: 'rejected' },
  disable: { from: ['active'], to: 'disabled' },
  enable: { from: ['disabled'], to: 'active' },
  remove: { from: ['pending', 'active', 'disabled', 'rejected', 'left'], to: 'removed' },
  leave: { from: ['active'], to: 'left' },
  promote: { from: ['active'], to: 'active' },
  demote: { from: ['active'], to: 'active' },
  transfer: { from: ['active'], to: 'active' },
  rotate: { from: ['active'], to: 'active' },
  'approve-key': { from: ['active'], to: 'active' },
};

const isAdmin = (m: Member | undefined): m is Member =>
  m !== undefined && m.status === 'active' && (m.role === 'admin' || m.role === 'owner');

function refuse(code: ConstructorParameters<typeof OisError>[0], message: string, hint: string): never {
  throw new OisError(code, message, { hint });
}

/**
 * Applies one record to the state and returns the new state, or throws the OisError that says why the
 * record is not allowed: its place in the chain, its signature, who made it, and the transition table with
 * its guards. The commands build a record and pass it here before they write it; readers replay the chain
 * through it. One function, so what a command refuses is exactly what every reader ignores.
 */
export function applyRecord(state: MembershipState, r: MemberRecord): MembershipState {
  const expectedSeq = state.head ? state.head.seq + 1 : 0;
  if (r.v !== RECORD_VERSION || r.seq !== expectedSeq || r.prev !== (state.head?.hash ?? null)) {
    refuse(
      'OIS_ERR_MEMBERSHIP_INVALID',
      `record ${r.seq} does not follow record ${expectedSeq - 1} (seq or prev hash)`,
      'someone edited members/records.jsonl; ois doctor shows where',
    );
  }
  const sid = agentId(r.subject.name);
  const subject = state.members.get(sid);
  const actor = state.members.get(agentId(r.by));
  const selfOp = SELF_OPS.has(r.op);
  const label = r.subject.name;

  if (r.op === 'found' && r.seq !== 0) {
    refuse('OIS_ERR_MEMBER_TRANSITION', 'the team has an owner already', 'ask an admin to approve you');
  }
  if (r.op !== 'found' && r.seq === 0) {
    refuse('OIS_ERR_MEMBERSHIP_INVALID', 'the first record must found the team', 'ois doctor shows more');
  }

  // Who made it, and whether the signature is theirs.
  let signer: string;
  if (selfOp) {
    if (agentId(r.by) !== sid) {
      refuse('OIS_ERR_MEMBER_FORBIDDEN', `${r.by} cannot ${r.op} for ${label}`, `${label} does it itself`);
    }
    signer = r.op === 'found' || r.op === 'request' ? r.subject.publicKey : (subject?.publicKey ?? '');
  } else {
    const allowed =
      r.op === 'transfer' ? actor?.role === 'owner' && actor.status === 'active' : isAdmin(actor);
    if (!allowed || !actor) {
      refuse(
        'OIS_ERR_MEMBER_FORBIDDEN',
        `${r.by} is ${actor ? `${actor.status} ${actor.role}` : 'not a member'}: only ${r.op === 'transfer' ? 'the owner' : 'an active admin'} can ${r.op === 'approve-key' ? 'approve a key' : r.op}`,
        r.op === 'transfer'
          ? 'the owner runs ois members transfer-ownership'
          : 'ask an admin (ois members ls shows them)',
      );
    }
    signer = actor.publicKey;
  }
  if (!verifyRecordSig(r, signer)) {
    refuse(
      'OIS_ERR_MEMBERSHIP_INVALID',
      `record ${r.seq} (${r.op} ${label} by ${r.by}) is not signed by ${r.by}'s key`,
      'a forged record: move members/records.jsonl aside from this line on, and tell the owner',
    );
  }

  // The transition table.
  const from: MemberStatus | 'none' = subject?.status ?? 'none';
  const rule = TRANSITIONS[r.op];
  if (!rule.from.includes(from)) {
    refuse(
      'OIS_ERR_MEMBER_TRANSITION',
      from === 'none'
        ? `${label} is not a member of the team`
        : `${label} is ${from}: ${r.op} is for ${rule.from.filter((s) => s !== 'none').join(' or ')} members`,
      transitionHint(r.op, from, label),
    );
  }

  // The guards.
  const self = actor !== undefined && actor.id === sid;
  if (!selfOp && self && ['disable', 'remove', 'demote', 'transfer', 'reject'].includes(r.op)) {
    refuse('OIS_ERR_MEMBER_SELF', `nobody can ${r.op} themselves`, 'ask another admin');
  }
  if (subject?.role === 'owner' && ['disable', 'remove', 'demote', 'leave'].includes(r.op)) {
    refuse(
      'OIS_ERR_MEMBER_OWNER',
      `${label} is the owner: the owner cannot be ${r.op === 'leave' ? 'leaving' : `${r.op}d`}`,
      'the owner moves ownership first: ois members transfer-ownership NAME',
    );
  }
  if (r.op === 'promote' && subject?.role !== 'member') {
    refuse('OIS_ERR_MEMBER_TRANSITION', `${label} is ${subject?.role} already`, 'nothing to do');
  }
  if (r.op === 'demote' && subject?.role !== 'admin') {
    refuse('OIS_ERR_MEMBER_TRANSITION', `${label} is not an admin`, 'nothing to do');
  }
  if (r.op === 'rotate' && (!verifyNewKeySig(r) || r.newKey === subject?.publicKey)) {
    refuse(
      'OIS_ERR_MEMBERSHIP_INVALID',
      `record ${r.seq} rotates ${label}'s key without proof of the new key`,
      'run ois keys rotate again',
    );
  }
  if (r.op === 'approve-key' && !subject?.pendingKey) {
    refuse('OIS_ERR_MEMBER_TRANSITION', `${label} has no key rotation to approve`, 'nothing to do');
  }

  // What the record must say the subject becomes.
  const role: MemberRole =
    r.op === 'found' || r.op === 'transfer'
      ? 'owner'
      : r.op === 'request'
        ? 'member'
        : r.op === 'promote'
          ? 'admin'
          : r.op === 'demote'
            ? 'member'
            : r.op === 'approve' && !subject
              ? r.subject.role
              : subject!.role;
  const publicKey =
    r.op === 'found' || r.op === 'request' || (r.op === 'approve' && !subject)
      ? r.subject.publicKey
      : r.op === 'approve-key'
        ? subject!.pendingKey!
        : subject!.publicKey;
  if (
    r.subject.role !== role ||
    r.subject.publicKey !== publicKey ||
    (role === 'owner' && r.op === 'approve')
  ) {
    refuse(
      'OIS_ERR_MEMBERSHIP_INVALID',
      `record ${r.seq} says ${label} becomes ${r.subject.role} with another key than the rules give`,
      'ois doctor shows the record',
    );
  }

  const members = new Map(state.members);
  members.set(sid, {
    name: r.subject.name,
    id: sid,
    publicKey,
    role,
    status: rule.to,
    pendingKey: r.op === 'rotate' ? r.newKey! : r.op === 'approve-key' ? null : (subject?.pendingKey ?? null),
    seq: r.seq,
    at: r.at,
    by: r.by,
    reason: r.reason ?? null,
  });
  let owner = state.owner;
  if (r.op === 'found') owner = sid;
  if (r.op === 'transfer' && actor) {
    members.set(actor.id, { ...actor, role: 'admin', seq: r.seq, at: r.at, by: r.by, reason: null });
    owner = sid;
  }
  return { members, owner, head: { seq: r.seq, hash: recordHash(r) } };
}

function transitionHint(op: MemberOp, from: MemberStatus | 'none', name: string): string {
  if (from === 'none') return op === 'found' ? 'nothing to do' : `${name} runs ois join first`;
  if (op === 'request' && from === 'rejected') return `${name} runs ois join --reapply`;
  if (op === 'request' && from === 'pending') return 'the request waits for an admin: ois members pending';
  if (from === 'active' && op === 'approve') return `${name} is a member already: nothing to do`;
  if (from === 'removed') return `${name} joins again with ois join`;
  return 'ois members ls shows each member and its state';
}
