import { OisError } from '../../errors.js';
import type { MemberOp, MembershipChange, TeamView } from '../../membership/index.js';
import { agentId, findAgent } from '../../registry/index.js';
import type { Command, CommandContext } from '../command.js';
import { table } from '../io.js';
import { appliedJson, apply, printApplied, teamView } from './membership.js';

const USAGE =
  'usage: ois members [ls | pending] | approve|reject NAME [--reason TEXT] | disable|enable|remove NAME | promote|demote NAME | transfer-ownership NAME --yes';

/** Subcommands that change a member, and the op each one records. */
const CHANGES: Record<string, MemberOp> = {
  approve: 'approve',
  reject: 'reject',
  disable: 'disable',
  enable: 'enable',
  remove: 'remove',
  promote: 'promote',
  demote: 'demote',
  'transfer-ownership': 'transfer',
};

export const command: Command = {
  spec: {
    name: 'members',
    summary: 'The team’s members: list, approve or reject join requests, disable, remove, promote',
    usage: [
      'members [ls|pending] [--json]',
      'members approve|reject NAME [--reason TEXT]',
      'members disable|enable|remove NAME [--reason TEXT]',
      'members promote|demote NAME',
      'members transfer-ownership NAME --yes',
    ],
    options: {
      reason: {
        type: 'string',
        value: 'TEXT',
        description: 'Why (reject, disable, remove): the member sees it',
      },
      admin: {
        type: 'boolean',
        description: 'With approve of an entry without records: approve it as an admin',
      },
      yes: { type: 'boolean', description: 'Confirm transfer-ownership (the owner hands the team over)' },
    },
    args: { min: 0, max: 2 },
    examples: [
      'ois members pending',
      'ois members approve beta',
      'ois members reject mallory --reason "not ours"',
    ],
    notes: [
      'Every change is a record signed with your key in members/records.jsonl (specs/membership.md), and a notice to those it concerns.',
    ],
  },
  async run(ctx) {
    const [sub = 'ls', name] = ctx.args.positionals;
    if (sub === 'ls' || sub === 'pending') {
      if (name !== undefined)
        throw new OisError('OIS_ERR_USAGE', `members ${sub} takes no NAME`, { hint: USAGE });
      return list(ctx, await teamView(ctx), sub === 'pending');
    }
    const op = CHANGES[sub];
    if (!op) throw new OisError('OIS_ERR_USAGE', `unknown subcommand "members ${sub}"`, { hint: USAGE });
    if (name === undefined) throw new OisError('OIS_ERR_USAGE', 'missing NAME', { hint: USAGE });
    const reason = ctx.args.values.reason as string | undefined;
    if (reason !== undefined && /[\r\n]/.test(reason)) {
      throw new OisError('OIS_ERR_USAGE', '--reason must be one line', { hint: 'keep it short' });
    }
    if (op === 'transfer' && ctx.args.values.yes !== true) {
      throw new OisError('OIS_ERR_CONFIRM_REQUIRED', `handing the team to ${name} needs --yes`, {
        hint: `you stay an admin; only ${name} can hand it on again: ois members transfer-ownership ${name} --yes`,
      });
    }
    const view = await teamView(ctx);
    const change = changeFor(view, op, name, reason, ctx.args.values.admin === true);
    const applied = await apply(ctx, change);
    if (ctx.json) {
      ctx.printJson(appliedJson(applied));
      return undefined;
    }
    const m = applied.result.member;
    printApplied(ctx, `${PAST[op]} ${m.name}: now ${m.status} ${m.role}`, applied);
    return undefined;
  },
};

const PAST: Record<MemberOp, string> = {
  found: 'founded',
  request: 'requested',
  withdraw: 'withdrew',
  reapply: 'reapplied',
  approve: 'approved',
  reject: 'rejected',
  disable: 'disabled',
  enable: 'enabled',
  remove: 'removed',
  leave: 'left',
  promote: 'promoted',
  demote: 'demoted',
  transfer: 'handed ownership to',
  rotate: 'asked for a new key for',
  'approve-key': 'approved the new key of',
};

/**
 * The change a subcommand makes. `approve` of a member with a key rotation waiting approves the key;
 * `approve` of an entry the records do not know adopts the key its AGENTS.md entry publishes.
 */
function changeFor(
  view: TeamView,
  op: MemberOp,
  name: string,
  reason: string | undefined,
  admin: boolean,
): MembershipChange {
  const member = view.state.members.get(agentId(name));
  const base = { subject: member?.name ?? name, ...(reason ? { reason } : {}) };
  if (op !== 'approve') return { op, ...base };
  if (member?.status === 'active' && member.pendingKey) return { op: 'approve-key', ...base };
  if (member) return { op, ...base };
  const entry = findAgent(view.written, name);
  const key = (entry?.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  if (!entry || typeof key !== 'string') {
    throw new OisError(
      'OIS_ERR_MEMBER_UNKNOWN',
      entry ? `${entry.name} publishes no key in AGENTS.md` : `${name} has not asked to join`,
      { hint: `${name} runs ois init and ois join on its own machine first` },
    );
  }
  return { op, ...base, subject: entry.name, publicKey: key, role: admin ? 'admin' : 'member' };
}

function list(ctx: CommandContext, view: TeamView, pendingOnly: boolean): number | undefined {
  const self = ctx.config().name;
  const rows = [...view.state.members.values()]
    .filter((m) => !pendingOnly || m.status === 'pending' || m.pendingKey)
    .map((m) => {
      const entry = findAgent(view.written, m.name);
      const trust = entry ? view.trustOf(entry) : null;
      return {
        name: m.name,
        role: m.role,
        status: m.status,
        since: m.at,
        by: m.by,
        reason: m.reason,
        pendingKey: m.pendingKey,
        publicKey: m.publicKey,
        trust: trust?.trust ?? 'no entry',
        trustReason: trust?.reason ?? null,
        self: self !== null && agentId(self) === m.id,
      };
    });
  // Entries AGENTS.md has that no record backs: shown, never delivered to.
  const unverified = pendingOnly
    ? []
    : view.written.agents
        .filter((a) => !view.state.members.has(a.id) && view.governed)
        .map((a) => ({ name: a.name, reason: view.trustOf(a).reason }));
  if (ctx.json) {
    ctx.printJson({
      governed: view.governed,
      owner: view.state.owner ? view.state.members.get(view.state.owner)?.name : null,
      members: rows,
      unverified,
      problems: view.problems,
    });
    return undefined;
  }
  for (const p of view.problems) ctx.warn(p.message, p.hint);
  if (!view.governed) {
    ctx.print(
      'this team has no membership records yet: the first ois join founds it (the founder is its owner)',
    );
    return undefined;
  }
  if (rows.length === 0) {
    ctx.print(pendingOnly ? 'no join requests waiting' : 'no members');
  } else {
    ctx.print(
      table(
        ['NAME', 'ROLE', 'STATUS', 'TRUST', 'SINCE', 'BY', 'NOTE'],
        rows.map((r) => [
          `${r.self ? '*' : ' '}${r.name}`,
          r.role,
          r.status,
          r.trust,
          r.since.slice(0, 16).replace('T', ' '),
          r.by,
          r.pendingKey ? 'asks for a new key' : (r.trustReason ?? r.reason ?? ''),
        ]),
      ),
    );
  }
  for (const u of unverified)
    ctx.warn(
      `${u.name} is in AGENTS.md but unverified: ${u.reason}`,
      `an admin who knows it is genuine: ois members approve ${u.name}`,
    );
  return undefined;
}
