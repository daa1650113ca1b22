import { resolveToken } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { federationOf, type PeerPresence, readPresence } from '../../federation/index.js';
import { loadTeamView } from '../../membership/index.js';
import { type Agent, agentId, requireAgent } from '../../registry/index.js';
import type { Command } from '../command.js';
import { table } from '../io.js';
import { printRegistryWarnings } from './shared.js';

export const command: Command = {
  spec: {
    name: 'agents',
    summary: 'List the team, or show one agent',
    usage: ['agents [--json]', 'agents show NAME [--json]'],
    options: {},
    args: { min: 0, max: 2 },
    examples: ['ois agents', 'ois agents show beta --json'],
  },
  async run(ctx) {
    const [sub, name] = ctx.args.positionals;
    if (sub !== undefined && sub !== 'show') {
      throw new OisError('OIS_ERR_USAGE', `unknown subcommand "agents ${sub}"`, {
        hint: 'usage: ois agents | ois agents show NAME',
      });
    }
    if (sub === 'show' && name === undefined) {
      throw new OisError('OIS_ERR_USAGE', 'missing NAME', { hint: 'usage: ois agents show NAME' });
    }
    const config = ctx.config();
    const view = await loadTeamView(ctx.team(), config.home);
    // Statuses as the membership records back them: an entry they do not back shows as unverified.
    const { registry } = view;
    printRegistryWarnings(ctx, registry);
    for (const p of view.problems) ctx.warn(p.message, p.hint);
    const trustOf = (a: Agent) => {
      const t = view.trustOf(view.written.agents.find((w) => w.id === a.id) ?? a);
      return { trust: t.trust, ...(t.reason ? { trustReason: t.reason } : {}) };
    };
    const self = config.name === null ? null : agentId(config.name);
    const tokenOf = async (a: Agent) => {
      if (a.id === self) return 'self';
      try {
        return (await resolveToken(config.home, ctx.io.env, a.name))?.source ?? 'missing';
      } catch {
        return 'unreadable';
      }
    };

    if (sub === 'show') {
      const agent = requireAgent(registry, name!);
      const token = await tokenOf(agent);
      if (ctx.json) {
        ctx.printJson({ ...agent, self: agent.id === self, token, ...trustOf(agent) });
        return;
      }
      const rows: [string, string][] = [
        ['name', agent.name + (agent.id === self ? ' (this instance)' : '')],
        ['role', agent.roleLabel ? `${agent.role} (${agent.roleLabel})` : agent.role],
        ['status', agent.status],
        ['trust', [trustOf(agent).trust, trustOf(agent).trustReason].filter(Boolean).join(': ')],
        ['description', agent.description],
        ['capabilities', agent.capabilities.join(', ')],
        ['gateway', agent.gateway ? `${agent.gateway.url} (session ${agent.gateway.sessionKey})` : 'none'],
        ['token', token],
        ['joined', agent.joined ?? ''],
        ['form', agent.form],
        ['entry', `${registry.file}:${agent.line}`],
      ];
      for (const [k, v] of Object.entries(agent.extra))
        rows.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
      for (const [k, v] of rows) ctx.print(`${k.padEnd(13)}${v}`);
      return;
    }

    const tokens = await Promise.all(registry.agents.map(tokenOf));
    const presence = await readPresence(config.home);
    const presenceOf = (a: Agent) => (a.id === self ? 'self' : describePresence(presence[a.name]));
    if (ctx.json) {
      ctx.printJson({
        file: registry.file,
        agents: registry.agents.map((a, i) => ({
          ...a,
          self: a.id === self,
          token: tokens[i],
          delivery: federationOf(a) ? 'federated' : a.gateway ? 'direct' : 'none',
          presence: presence[a.name] ?? null,
          ...trustOf(a),
        })),
        warnings: registry.warnings,
      });
      return;
    }
    if (registry.agents.length === 0) {
      ctx.print(`no agents in ${registry.file} yet; add this instance with: ois join`);
      return;
    }
    ctx.print(
      table(
        ['NAME', 'ROLE', 'STATUS', 'PRESENCE', 'DELIVERY', 'GATEWAY', 'TOKEN', 'DESCRIPTION'],
        registry.agents.map((a, i) => [
          `${a.id === self ? '*' : ' '}${a.name}`,
          a.role,
          a.status,
          presenceOf(a),
          federationOf(a) ? 'federated' : a.gateway ? 'direct' : '-',
          a.gateway?.url ?? '-',
          tokens[i]!,
          a.description,
        ]),
      ),
    );
  },
};

/** `online`, `offline (last seen 5m ago)`, or `unknown` when no daemon of this instance has probed it. */
function describePresence(p: PeerPresence | undefined): string {
  if (!p) return 'unknown';
  if (p.status === 'up') return 'online';
  if (!p.lastSeen) return 'offline';
  return `offline (seen ${ago(Date.now() - Date.parse(p.lastSeen))})`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}
