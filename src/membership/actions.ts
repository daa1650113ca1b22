import type { KeyObject } from 'node:crypto';
import { OisError } from '../errors.js';
import { agentId, editRegistry, parseRegistry, type Registry, upsertAgentText } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { appendRecord } from './chain.js';
import { formatPublicKey } from './keys.js';
import { type MemberOp, type MemberRecord, type MemberRole, RECORD_VERSION, signRecord } from './records.js';
import { type Member, type MembershipState, SELF_OPS } from './rules.js';

export interface Actor {
  name: string;
  privateKey: KeyObject;
}

export interface MembershipChange {
  op: MemberOp;
  /** The agent it is about (for found, request, withdraw, reapply, leave, rotate: the actor itself). */
  subject: string;
  reason?: string;
  /** found, request: the subject's key; approve of an agent without records: the key in its AGENTS.md entry. */
  publicKey?: string;
  /** approve of an agent without records: its role (member, the default, or admin). */
  role?: MemberRole;
  /** rotate: the new key. */
  newKey?: KeyObject;
}

export interface ChangeResult {
  record: MemberRecord;
  before: MembershipState;
  state: MembershipState;
  /** The subject after the change. */
  member: Member;
  /** The registry after its entries were brought in line with the records. */
  registry: Registry;
}

/**
 * Makes one membership change: the record, signed by the actor, appended under the records' lock after the
 * rules accept it (specs/membership.md), then AGENTS.md brought in line with it. A refused change writes
 * nothing.
 */
export async function changeMembership(
  store: TeamStore,
  actor: Actor,
  change: MembershipChange,
  now: Date = new Date(),
): Promise<ChangeResult> {
  if (SELF_OPS.has(change.op) && agentId(change.subject) !== agentId(actor.name)) {
    throw new OisError(
      'OIS_ERR_MEMBER_FORBIDDEN',
      `${actor.name} cannot ${change.op} for ${change.subject}`,
      {
        hint: `${change.subject} does it on its own instance`,
      },
    );
  }
  const { record, before, state } = await appendRecord(store, (current) => {
    const subject = subjectAfter(current, change);
    const unsigned = {
      v: RECORD_VERSION,
      seq: current.head ? current.head.seq + 1 : 0,
      prev: current.head?.hash ?? null,
      at: now.toISOString(),
      op: change.op,
      by: actor.name,
      subject,
      ...(change.reason ? { reason: change.reason } : {}),
      ...(change.newKey ? { newKey: formatPublicKey(change.newKey) } : {}),
    } as const;
    return signRecord(unsigned, actor.privateKey, change.newKey);
  });
  const ids = [agentId(change.subject)];
  if (change.op === 'transfer' && before.owner) ids.push(before.owner);
  const registry = await syncFace(store, state, ids);
  return { record, before, state, member: state.members.get(agentId(change.subject))!, registry };
}

/** What the record says the subject becomes; the rules check that it is what they give. */
function subjectAfter(state: MembershipState, change: MembershipChange): MemberRecord['subject'] {
  const current = state.members.get(agentId(change.subject));
  const name = current?.name ?? change.subject;
  const fresh = change.op === 'found' || change.op === 'request' || (change.op === 'approve' && !current);
  if (fresh) {
    if (!change.publicKey) {
      throw new OisError('OIS_ERR_MEMBER_UNKNOWN', `${change.subject} has no public key in AGENTS.md`, {
        hint: `${change.subject} runs ois init and ois join on its machine`,
      });
    }
    const role: MemberRole =
      change.op === 'found' ? 'owner' : change.op === 'request' ? 'member' : (change.role ?? 'member');
    return { name, publicKey: change.publicKey, role };
  }
  if (!current) {
    throw new OisError('OIS_ERR_MEMBER_UNKNOWN', `${change.subject} is not a member of the team`, {
      hint: 'ois members ls shows who is',
    });
  }
  const role: MemberRole =
    change.op === 'promote'
      ? 'admin'
      : change.op === 'demote'
        ? 'member'
        : change.op === 'transfer'
          ? 'owner'
          : current.role;
  const publicKey =
    change.op === 'approve-key' && current.pendingKey ? current.pendingKey : current.publicKey;
  return { name, publicKey, role };
}

/**
 * Brings the AGENTS.md entries of `ids` in line with the records: status, role and published key. Only
 * canonical entries (a hand-written bullet entry has no key to fix); everything else in the file stays.
 */
export async function syncFace(store: TeamStore, state: MembershipState, ids: string[]): Promise<Registry> {
  return editRegistry(store, (text, current) => {
    let next = text;
    let registry = current;
    for (const id of ids) {
      const member = state.members.get(id);
      const entry = registry.agents.find((a) => a.id === id);
      if (!member || entry?.form !== 'canonical') continue;
      const federation = (entry.extra.federation as Record<string, unknown> | undefined) ?? {};
      if (
        entry.status === member.status &&
        entry.role === member.role &&
        federation.publicKey === member.publicKey
      ) {
        continue;
      }
      next = upsertAgentText(next, registry, {
        name: entry.name,
        role: member.role,
        status: member.status,
        description: entry.description,
        capabilities: entry.capabilities,
        gateway: entry.gateway,
        joined: entry.joined,
        extra: { ...entry.extra, federation: { ...federation, publicKey: member.publicKey } },
      });
      registry = parseRegistry(next, registry.file);
    }
    return next;
  });
}
