import { basename, resolve } from 'node:path';
import {
  formatNatsLocation,
  isNatsLocation,
  type NatsLocation,
  parseNatsLocation,
} from '../../config/index.js';
import { OisError } from '../../errors.js';
import { loadTeamView } from '../../membership/index.js';
import { type NatsConfigFiles, type NatsUserFile, writeNatsConfigFiles } from '../../nats/index.js';
import type { Command, CommandContext } from '../command.js';
import { table } from '../io.js';

const USAGE =
  'usage: ois nats config --out DIR [--team-name TEAM] [--agent NAME]... [--cluster HOST,HOST,HOST] [--force]';

/** Who gets a NATS user by default: members the team still counts (a removed one loses its user). */
const WITH_USER = new Set(['active', 'pending']);

export const command: Command = {
  spec: {
    name: 'nats',
    summary: 'The team on NATS: a server config with one user per agent, who may publish only as itself',
    usage: [
      'nats config --out DIR [--team-name TEAM] [--agent NAME]... [--cluster HOST,HOST,HOST] [--force]',
    ],
    options: {
      out: {
        type: 'string',
        value: 'DIR',
        description: 'Where to write nats-server.conf and the seed files (<agent>.nk, admin.nk; mode 0600)',
      },
      'team-name': {
        type: 'string',
        value: 'TEAM',
        description: "The team's name on NATS (default: the TEAM of a configured nats://HOST:4222/TEAM team)",
      },
      agent: {
        type: 'string',
        value: 'NAME',
        multiple: true,
        description:
          'An agent to make a user for; repeat it (default: every active or pending agent of the team)',
      },
      cluster: {
        type: 'string',
        value: 'HOSTS',
        description:
          'Three (or more) hosts, comma-separated: one config per node (nats-server-N.conf), routed to each other',
      },
      force: {
        type: 'boolean',
        description: 'Make new keys where seed files exist (each agent then needs its new file)',
      },
    },
    args: { min: 1, max: 1 },
    examples: [
      'ois nats config --team-name home-lab --out ./nats',
      'ois nats config --team-name home-lab --agent alpha --agent beta --out ./nats',
      'ois nats config --team-name home-lab --cluster 10.147.17.1,10.147.17.2,10.147.17.3 --out ./nats',
    ],
    notes: [
      'Seeds are written to their files only, never printed: hand each agent its own <agent>.nk privately.',
      'Run it again after a member joins or leaves: seed files already in DIR keep their keys, so only the newcomer needs a file; then reload the server (nats-server --signal reload).',
      'Each agent may publish only its own chat entries and envelopes, and read the chat, the files and its own inbox (specs/nats.md, Permissions).',
    ],
  },
  async run(ctx) {
    const [sub] = ctx.args.positionals;
    if (sub !== 'config') {
      throw new OisError('OIS_ERR_USAGE', `unknown subcommand "nats ${sub}"`, { hint: USAGE });
    }
    const out = ctx.args.values.out;
    if (typeof out !== 'string' || out === '')
      throw new OisError('OIS_ERR_USAGE', 'missing --out DIR', { hint: USAGE });
    const configured = configuredTeam(ctx);
    const team =
      typeof ctx.args.values['team-name'] === 'string' ? ctx.args.values['team-name'] : configured?.team;
    if (team === undefined) {
      throw new OisError('OIS_ERR_USAGE', 'which team? no team on NATS is configured', {
        hint: 'pass --team-name TEAM (the TEAM of nats://HOST:4222/TEAM)',
      });
    }
    const agents = await agentsOf(ctx);
    const cluster =
      typeof ctx.args.values.cluster === 'string' ? hostsOf(ctx.args.values.cluster) : undefined;
    const files = await writeNatsConfigFiles({
      out: resolve(ctx.io.cwd, out),
      team,
      agents,
      ...(cluster ? { cluster } : {}),
      force: ctx.args.values.force === true,
    });
    // Where the agents reach the servers: as this instance does, else the first cluster node.
    const url =
      configured?.team === files.team
        ? formatNatsLocation(configured)
        : `nats://${files.servers[0]?.host ?? 'HOST'}:4222/${files.team}`;
    const init = (a: NatsUserFile) =>
      `ois init --name ${shellWord(a.name)} --team ${url} --nkey ${basename(a.file)}`;
    if (ctx.json) {
      ctx.printJson({
        team: files.team,
        out: files.out,
        servers: files.servers,
        admin: files.admin,
        agents: files.agents.map((a) => ({ ...a, init: init(a) })),
      });
      return undefined;
    }
    print(ctx, files, init);
    return undefined;
  },
};

function print(ctx: CommandContext, files: NatsConfigFiles, init: (a: NatsUserFile) => string): void {
  for (const s of files.servers) {
    ctx.print(
      s.node === null
        ? `server config: ${s.file} (start it with nats-server -c ${s.file})`
        : `server config of node ${s.node} (${s.host}): ${s.file} (on ${s.host}: nats-server -c ${basename(s.file)})`,
    );
  }
  const made = (u: { created: boolean }) => (u.created ? 'new key' : 'kept');
  ctx.print(
    `admin: ${files.admin.file} (${made(files.admin)}; for set-up, import and export: keep it with the admin)`,
  );
  ctx.print('');
  ctx.print(
    "Hand each agent its own file, privately (it is that agent's NATS password), and on its machine run:",
  );
  ctx.print(
    table(
      ['agent', 'file', 'key', 'then'],
      files.agents.map((a) => [a.name, a.file, made(a), init(a)]),
    ),
  );
}

/** This instance's team when it is on NATS (`nats://HOST:4222/TEAM`), else null. */
function configuredTeam(ctx: CommandContext): NatsLocation | null {
  const team = ctx.config().team;
  return team !== null && isNatsLocation(team) ? parseNatsLocation(team) : null;
}

/**
 * `--agent NAME`s, else the team's members with their statuses as the signed membership records back them:
 * an entry someone wrote into AGENTS.md without an approval gets no NATS user.
 */
async function agentsOf(ctx: CommandContext): Promise<string[]> {
  const given = ctx.args.values.agent;
  if (Array.isArray(given) && given.length > 0) return given;
  const { registry } = await loadTeamView(ctx.team(), ctx.config().home);
  for (const a of registry.agents.filter((a) => a.status === 'unverified')) {
    ctx.warn(
      `${a.name} is not backed by the team's membership records: no NATS user for it`,
      'ois members ls says why',
    );
  }
  const agents = registry.agents.filter((a) => WITH_USER.has(a.status)).map((a) => a.name);
  if (agents.length === 0) {
    throw new OisError('OIS_ERR_USAGE', `no active or pending agent in ${registry.file}`, {
      hint: 'name them: --agent NAME (once per agent)',
    });
  }
  return agents;
}

/** A name as one word of a shell command line. */
function shellWord(name: string): string {
  return /^[A-Za-z0-9._-]+$/.test(name) ? name : JSON.stringify(name);
}

function hostsOf(value: string): string[] {
  return value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
}
