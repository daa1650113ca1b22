import type { Command } from '../command.js';
import { actor, appliedJson, apply, printApplied } from './membership.js';

export const command: Command = {
  spec: {
    name: 'leave',
    summary: 'Leave the team: this agent stops sending and receiving',
    usage: ['leave'],
    options: {},
    args: { min: 0, max: 0 },
    examples: ['ois leave'],
    notes: [
      'The owner cannot leave before handing the team on (ois members transfer-ownership NAME --yes).',
      'To come back later: ois join (an admin approves again).',
    ],
  },
  async run(ctx) {
    const { config } = await actor(ctx);
    const applied = await apply(ctx, { op: 'leave', subject: config.name });
    if (ctx.json) {
      ctx.printJson(appliedJson(applied));
      return undefined;
    }
    printApplied(ctx, `${config.name} left the team`, applied);
    return undefined;
  },
};
