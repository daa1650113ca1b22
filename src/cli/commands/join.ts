import { runningDaemon } from '../../config/index.js';
import { isOisError, OisError } from '../../errors.js';
import { publishSelf } from '../../federation/index.js';
import type { ChangeResult, Member, MembershipChange } from '../../membership/index.js';
import { agentId, loadRegistry, ROLES, type Role } from '../../registry/index.js';
import type { Command, CommandContext } from '../command.js';
import { utcDate } from '../io.js';
import { type Applied, actor, appliedJson, apply, printApplied, teamView } from './membership.js';
import { printRegistryWarnings } from './shared.js';

export const command: Command = {
  spec: {
    name: 'join',
    summary: 'Ask to join the team (or found it), or update this agent in AGENTS.md',
    usage: ['join [--description TEXT] [--capabilities a,b]', 'join --reapply', 'join --withdraw'],
    options: {
      role: {
        type: 'string',
        value: 'ROLE',
        description:
          'Only in a team without membership records: admin or member (roles are given with ois members promote)',
      },
      description: { type: 'string', value: 'TEXT', description: 'One line: what this agent does' },
      capabilities: {
        type: 'string',
        value: 'LIST',
        description: 'Comma-separated words, e.g. code,research',
      },
      reapply: { type: 'boolean', description: 'Ask again after a request was rejected' },
      withdraw: { type: 'boolean', description: 'Take back a request that waits for approval' },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois join --description "Coding assistant on the workstation" --capabilities code,review',
      'ois join --reapply',
    ],
    notes: [
      'In a folder without membership records, the first ois join founds the team: that agent is its owner.',
      'Everyone after asks to join: the entry is pending until an admin runs ois members approve NAME.',
    ],
  },
  async run(ctx) {
    const { values } = ctx.args;
    const role = values.role as string | undefined;
    if (role !== undefined && !ROLES.includes(role as Role)) {
      throw new OisError('OIS_ERR_USAGE', `unknown role "${role}"`, {
        hint: `use --role ${ROLES.join(' or --role ')}`,
      });
    }
    const description = values.description as string | undefined;
    if (description !== undefined && /[\r\n]/.test(description)) {
      throw new OisError('OIS_ERR_USAGE', '--description must be one line', {
        hint: 'put longer prose under your heading in AGENTS.md',
      });
    }
    if (values.reapply === true && values.withdraw === true) {
      throw new OisError('OIS_ERR_USAGE', '--reapply and --withdraw do opposite things', {
        hint: 'give one of them',
      });
    }
    const capabilities =
      values.capabilities === undefined
        ? undefined
        : String(values.capabilities)
            .split(',')
            .map((c) => c.trim())
            .filter((c) => c !== '');

    const { config, identity } = await actor(ctx);
    const view = await teamView(ctx);
    if (view.problems.some((p) => p.code !== 'record-invalid')) {
      const p = view.problems.find((x) => x.code !== 'record-invalid')!;
      throw new OisError('OIS_ERR_MEMBERSHIP_INVALID', p.message, { hint: p.hint });
    }
    const me = view.state.members.get(agentId(config.name));
    if (me && me.publicKey !== identity.publicKey && me.pendingKey !== identity.publicKey) {
      if (!['left', 'removed'].includes(me.status)) {
        throw new OisError(
          'OIS_ERR_MEMBER_TRANSITION',
          `the team knows ${me.name} by another key than this instance's`,
          {
            hint: 'this home lost its key (or is another instance of the same name): an admin removes the old one (ois members remove NAME), then ois join again',
          },
        );
      }
    }
    const change = changeFor(ctx, view.governed, me?.status, config.name, identity.publicKey);
    if (role !== undefined && view.governed) {
      throw new OisError('OIS_ERR_USAGE', 'roles are given by admins in a team with an owner', {
        hint: `ask an admin: ois members promote ${config.name}`,
      });
    }

    const store = ctx.team();
    const daemon = await runningDaemon(config.home);
    const { detectZerotier } = await import('../../zerotier/index.js');
    const networkId = (await loadRegistry(store)).team?.zerotier?.network ?? null;
    const zerotier = await detectZerotier({ env: ctx.io.env, networkId });
    const publish = (member: Member | null | undefined) =>
      publishSelf(
        store,
        config,
        {
          ...(member ? { role: member.role, status: member.status } : role ? { role: role as Role } : {}),
          ...(description === undefined ? {} : { description }),
          ...(capabilities === undefined ? {} : { capabilities }),
          ...(daemon ? { federationUrl: daemon.url } : {}),
          ...(zerotier ? { zerotier } : {}),
        },
        utcDate(),
      );
    let published: Awaited<ReturnType<typeof publish>> | null = null;
    // The entry is written once the record is: peers that get the notice find the sender in AGENTS.md.
    const after = async (r: ChangeResult) => {
      published = await publish(r.member);
    };
    let applied: Applied | null = null;
    if (change) {
      try {
        applied = await apply(ctx, change, after);
      } catch (err) {
        // Someone founded the team between our read and the lock: ask to join it instead.
        if (!(change.op === 'found' && isOisError(err, 'OIS_ERR_MEMBER_TRANSITION'))) throw err;
        const request = { op: 'request', subject: config.name, publicKey: identity.publicKey } as const;
        applied = await apply(ctx, request, after);
      }
    }
    const { registry, before, agent } = published ?? (await publish(me));
    const status = (applied?.result.member ?? me)?.status;
    printRegistryWarnings(ctx, registry);
    const done = applied as Applied | null;
    const ACTIONS: Record<string, string> = {
      found: 'founded',
      request: 'requested',
      reapply: 'requested',
      withdraw: 'withdrew',
    };
    const action: string = done
      ? (ACTIONS[done.result.record.op] ?? 'updated')
      : before === null
        ? 'joined'
        : 'updated';
    if (ctx.json) {
      ctx.printJson({
        ok: true,
        action,
        file: registry.file,
        agent,
        ...(done ? { membership: appliedJson(done) } : {}),
      });
      return;
    }
    const line =
      action === 'founded'
        ? `founded the team in ${store.root}: ${agent.name} is its owner`
        : action === 'requested'
          ? `asked to join the team as ${agent.name}: pending until an admin approves (ois members approve ${agent.name})`
          : action === 'withdrew'
            ? `withdrew the request of ${agent.name}`
            : `${action} ${registry.file} as ${agent.name} (${agent.role}, ${agent.status})`;
    if (done) printApplied(ctx, line, done);
    else ctx.print(line);
    if (status === 'pending' && !done) ctx.print('  the request waits for an admin: ois members ls shows it');
    ctx.print(`  gateway ${agent.gateway?.url} session ${agent.gateway?.sessionKey}`);
    const host = agent.gateway ? new URL(agent.gateway.url).hostname : '';
    if (host === '127.0.0.1' || host === 'localhost' || host === '[::1]') {
      ctx.warn(
        `your gateway URL ${agent.gateway?.url} is a loopback address: only agents on this machine can reach it`,
        'for peers on other machines: ois init --gateway http://<your ZeroTier IP>:18789, then ois join again',
      );
    }
  },
};

/** The membership record `ois join` makes, if any: found, request, reapply or withdraw. */
function changeFor(
  ctx: CommandContext,
  governed: boolean,
  status: string | undefined,
  name: string,
  publicKey: string,
): MembershipChange | null {
  const { reapply, withdraw } = ctx.args.values;
  if (withdraw === true) {
    if (status !== 'pending') {
      throw new OisError(
        'OIS_ERR_MEMBER_TRANSITION',
        `${name} has no request waiting (it is ${status ?? 'not a member'})`,
        {
          hint: 'nothing to withdraw; to leave the team: ois leave',
        },
      );
    }
    return { op: 'withdraw', subject: name };
  }
  if (status === 'rejected') {
    if (reapply !== true) {
      throw new OisError('OIS_ERR_MEMBER_TRANSITION', `the request of ${name} was rejected`, {
        hint: 'ask again with: ois join --reapply',
      });
    }
    return { op: 'reapply', subject: name };
  }
  if (reapply === true) {
    throw new OisError(
      'OIS_ERR_MEMBER_TRANSITION',
      `${name} has no rejected request (it is ${status ?? 'not a member'})`,
      {
        hint: 'ois join asks to join; --reapply is for after a rejection',
      },
    );
  }
  if (!governed) return { op: 'found', subject: name, publicKey };
  if (status === undefined || status === 'left' || status === 'removed') {
    return { op: 'request', subject: name, publicKey };
  }
  return null;
}
