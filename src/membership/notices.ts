import { agentId } from '../registry/index.js';
import type { MemberRecord } from './records.js';
import type { MembershipState } from './rules.js';

/** Every notice type (specs/membership.md, "Notices"); the last three come from an instance's own daemon. */
export const NOTICE_TYPES = [
  'join_request',
  'approved',
  'rejected',
  'disabled',
  'enabled',
  'removed',
  'left',
  'role_changed',
  'ownership_transferred',
  'key_rotated',
  'peer_offline',
  'peer_online',
  'daemon_restarted',
] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];

export interface MembershipNotice {
  type: NoticeType;
  subject: string;
  /** The short line for the chat log and the sessions. */
  body: string;
  /** Whose sessions it goes to (never the actor itself). */
  to: string[];
}

/**
 * The notice a membership change makes: its type, its line, and who must be told. Null for the founding
 * record (nobody to tell yet).
 */
export function noticeOf(record: MemberRecord, state: MembershipState): MembershipNotice | null {
  const subject = record.subject.name;
  const actor = agentId(record.by);
  const active = [...state.members.values()].filter((m) => m.status === 'active' && m.id !== actor);
  const admins = active.filter((m) => m.role === 'admin' || m.role === 'owner').map((m) => m.name);
  const everyone = active.map((m) => m.name);
  const only = agentId(subject) === actor ? [] : [subject];
  const why = record.reason ? ` (${record.reason})` : '';
  const n = (type: NoticeType, body: string, to: string[]): MembershipNotice => ({
    type,
    subject,
    body,
    to: [...new Set(to)],
  });
  switch (record.op) {
    case 'found':
      return null;
    case 'request':
    case 'reapply':
      return n(
        'join_request',
        `${subject} asks to join the team. An admin approves with: ois members approve ${subject} (or: ois members reject ${subject} --reason "…")`,
        admins,
      );
    case 'withdraw':
      return n('left', `${subject} withdrew its request to join the team.`, admins);
    case 'leave':
      return n('left', `${subject} left the team.`, admins);
    case 'approve':
      return n('approved', `${record.by} approved ${subject}: ${subject} is now a member of the team.`, [
        ...only,
        ...everyone,
      ]);
    case 'reject':
      return n('rejected', `${record.by} rejected ${subject}'s request to join${why}.`, only);
    case 'disable':
      return n(
        'disabled',
        `${record.by} disabled ${subject}${why}: it sends and receives nothing until an admin enables it.`,
        only,
      );
    case 'enable':
      return n('enabled', `${record.by} enabled ${subject} again.`, only);
    case 'remove':
      return n('removed', `${record.by} removed ${subject} from the team${why}.`, only);
    case 'promote':
      return n('role_changed', `${record.by} made ${subject} an admin.`, only);
    case 'demote':
      return n('role_changed', `${record.by} made ${subject} a member (no longer an admin).`, only);
    case 'transfer':
      return n('ownership_transferred', `${record.by} handed ownership of the team to ${subject}.`, everyone);
    case 'rotate':
      return n(
        'key_rotated',
        `${subject} asks to move to a new key. An admin approves with: ois members approve ${subject}`,
        admins,
      );
    case 'approve-key':
      return n('key_rotated', `${record.by} approved ${subject}'s new key.`, only);
  }
}
