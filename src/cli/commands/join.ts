import { runningDaemon } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { publishSelf } from '../../federation/index.js';
import { loadRegistry, ROLES, type Role } from '../../registry/index.js';
import type { Command } from '../command.js';
import { utcDate } from '../io.js';
import { printRegistryWarnings } from './shared.js';

export const command: Command = {
  spec: {
    name: 'join',
    summary: 'Add or update this agent in AGENTS.md',
    usage: ['join [--role admin|member] [--description TEXT] [--capabilities a,b]'],
    options: {
      role: {
        type: 'string',
        value: 'ROLE',
        description: 'admin or member (default: the current role, else member)',
      },
      description: { type: 'string', value: 'TEXT', description: 'One line: what this agent does' },
      capabilities: {
        type: 'string',
        value: 'LIST',
        description: 'Comma-separated words, e.g. code,research',
      },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois join --role member --description "Coding assistant on the workstation" --capabilities code,review',
    ],
  },
  async run(ctx) {
    const config = ctx.initialisedConfig();
    const store = ctx.team();
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
    const capabilities =
      values.capabilities === undefined
        ? undefined
        : String(values.capabilities)
            .split(',')
            .map((c) => c.trim())
            .filter((c) => c !== '');

    const daemon = await runningDaemon(config.home);
    const { detectZerotier } = await import('../../zerotier/index.js');
    const networkId = (await loadRegistry(store)).team?.zerotier?.network ?? null;
    const zerotier = await detectZerotier({ env: ctx.io.env, networkId });
    const { registry, before, agent } = await publishSelf(
      store,
      config,
      {
        ...(role === undefined ? {} : { role: role as Role }),
        ...(description === undefined ? {} : { description }),
        ...(capabilities === undefined ? {} : { capabilities }),
        ...(daemon ? { federationUrl: daemon.url } : {}),
        ...(zerotier ? { zerotier } : {}),
      },
      utcDate(),
    );
    printRegistryWarnings(ctx, registry);
    const action = before === null ? 'joined' : 'updated';
    if (ctx.json) {
      ctx.printJson({ ok: true, action, file: registry.file, agent });
      return;
    }
    ctx.print(`${action} ${registry.file} as ${agent.name} (${agent.role}, ${agent.status})`);
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
