import { OisError } from '../../errors.js';
import { adoptApprovedKey, ensureNextIdentity } from '../../membership/index.js';
import { agentId } from '../../registry/index.js';
import type { Command } from '../command.js';
import { actor, appliedJson, apply, printApplied, teamView } from './membership.js';

export const command: Command = {
  spec: {
    name: 'keys',
    summary: "This instance's signing key: show it, or rotate it (approved by an admin, like a join)",
    usage: ['keys [show]', 'keys rotate'],
    options: {},
    args: { min: 0, max: 1 },
    examples: ['ois keys', 'ois keys rotate'],
    notes: [
      'rotate makes a new key (identity.next.key) and asks the team to move to it; the old key signs until an admin runs ois members approve NAME.',
    ],
  },
  async run(ctx) {
    const [sub = 'show'] = ctx.args.positionals;
    if (sub !== 'show' && sub !== 'rotate') {
      throw new OisError('OIS_ERR_USAGE', `unknown subcommand "keys ${sub}"`, {
        hint: 'usage: ois keys [show] | ois keys rotate',
      });
    }
    const { config } = await actor(ctx);
    const view = await teamView(ctx);
    const member = view.state.members.get(agentId(config.name)) ?? null;
    const adopted = await adoptApprovedKey(config.home, member?.publicKey ?? null);
    const { identity } = await actor(ctx);
    if (sub === 'show') {
      const out = {
        publicKey: identity.publicKey,
        approved: member ? member.publicKey === identity.publicKey : null,
        pendingKey: member?.pendingKey ?? null,
        ...(adopted ? { adopted: true } : {}),
      };
      if (ctx.json) {
        ctx.printJson({ ok: true, ...out });
        return undefined;
      }
      ctx.print(`key ${identity.publicKey}${adopted ? ' (the approved new key, now in use)' : ''}`);
      if (out.approved === false)
        ctx.warn('the team records another key for this agent', 'ois doctor says more');
      if (out.pendingKey) ctx.print(`  waiting for approval: ${out.pendingKey}`);
      return undefined;
    }
    if (member?.pendingKey) {
      throw new OisError(
        'OIS_ERR_MEMBER_TRANSITION',
        `a new key of ${config.name} waits for approval already`,
        {
          hint: `an admin runs: ois members approve ${config.name}`,
        },
      );
    }
    const next = await ensureNextIdentity(config.home);
    const applied = await apply(ctx, { op: 'rotate', subject: config.name, newKey: next.privateKey });
    if (ctx.json) {
      ctx.printJson({ ...appliedJson(applied), newKey: next.publicKey });
      return undefined;
    }
    printApplied(
      ctx,
      `asked to move ${config.name} to ${next.publicKey}: the old key signs until an admin approves`,
      applied,
    );
    return undefined;
  },
};
