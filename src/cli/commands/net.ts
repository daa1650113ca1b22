import { ERROR_CODES, EXIT, OisError } from '../../errors.js';
import { loadTeamView, requireAdmin } from '../../membership/index.js';
import {
  editRegistry,
  loadRegistry,
  type Registry,
  requireAgent,
  setTeamSettingsText,
} from '../../registry/index.js';
import {
  agentZerotier,
  type Member,
  matchMembers,
  parseNetworkId,
  parseNodeId,
  type RosterEntry,
  withMemberSource,
  zerotierStatus,
} from '../../zerotier/index.js';
import type { Command, CommandContext } from '../command.js';
import { table } from '../io.js';
import { printRegistryWarnings } from './shared.js';

const USAGE = 'usage: ois net use ID | status | members | authorize NAME [--node ID]';

export const command: Command = {
  spec: {
    name: 'net',
    summary: "The team's ZeroTier network: status, members, authorising newcomers",
    usage: [
      'net use NETWORK_ID',
      'net status [--json]',
      'net members [--via central|controller] [--json]',
      'net authorize NAME [--node NODE_ID] [--via central|controller] [--json]',
    ],
    options: {
      node: {
        type: 'string',
        value: 'NODE_ID',
        description:
          "With authorize: the node to authorise (default: the agent's zerotier.nodeId in AGENTS.md)",
      },
      via: {
        type: 'string',
        value: 'SOURCE',
        description:
          'Where members come from: central (needs ZEROTIER_API_TOKEN or the zerotier-central secret) or controller (this node hosts the network); default: central when a token is set',
      },
    },
    args: { min: 1, max: 2 },
    examples: [
      'ois net use 8056c2e21c000001',
      'ois net status',
      'ZEROTIER_API_TOKEN=… ois net members',
      'ois net authorize beta',
      'ois net authorize beta --node 89e92ceee5',
    ],
  },
  async run(ctx) {
    const [sub, arg] = ctx.args.positionals;
    switch (sub) {
      case 'use':
        if (arg === undefined) throw usage('missing NETWORK_ID');
        return useNetwork(ctx, arg);
      case 'status':
        noArg(arg);
        return status(ctx);
      case 'members':
        noArg(arg);
        return members(ctx);
      case 'authorize':
      case 'authorise':
        if (arg === undefined) throw usage('missing NAME');
        return authorize(ctx, arg);
      default:
        throw usage(`unknown subcommand "net ${sub}"`);
    }
  },
};

function usage(message: string): OisError {
  return new OisError('OIS_ERR_USAGE', message, { hint: USAGE });
}

function noArg(arg: string | undefined): void {
  if (arg !== undefined) throw usage(`unexpected argument "${arg}"`);
}

function networkOf(registry: Registry): string {
  const id = registry.team?.zerotier?.network;
  if (typeof id !== 'string' || id === '') {
    throw new OisError(
      'OIS_ERR_ZT_NETWORK_UNSET',
      `the team has no ZeroTier network id in ${registry.file}`,
      {
        hint: 'ois net use NETWORK_ID',
      },
    );
  }
  return parseNetworkId(id);
}

function viaOption(ctx: CommandContext): { via?: 'central' | 'controller' } {
  const via = viaOf(ctx);
  return via ? { via } : {};
}

function viaOf(ctx: CommandContext): 'central' | 'controller' | undefined {
  const via = ctx.args.values.via;
  if (via === undefined) return undefined;
  if (via === 'central' || via === 'controller') return via;
  throw usage(`--via ${String(via)}: expected central or controller`);
}

async function useNetwork(ctx: CommandContext, raw: string): Promise<number | undefined> {
  const id = parseNetworkId(raw);
  const registry = await editRegistry(ctx.team(), (text, reg) =>
    reg.team?.zerotier?.network === id
      ? null
      : setTeamSettingsText(text, reg, { ...(reg.team ?? {}), zerotier: { network: id } }),
  );
  const stored = registry.team?.zerotier?.network ?? null;
  if (ctx.json) ctx.printJson({ ok: true, network: stored, file: registry.file });
  ctx.print(`the team's ZeroTier network is ${stored} (${registry.file})`);
  return undefined;
}

async function status(ctx: CommandContext): Promise<number | undefined> {
  const config = ctx.config();
  let networkId: string | null = null;
  if (config.team !== null) {
    const registry = await loadRegistry(ctx.team());
    networkId = registry.team?.zerotier?.network ?? null;
  }
  const s = await zerotierStatus({ env: ctx.io.env, networkId, selfName: config.name });
  const exit = s.problem ? ERROR_CODES[s.problem.code].exit : EXIT.ok;
  if (ctx.json) {
    ctx.printJson({ ok: s.problem === null, ...(s.problem ? { error: s.problem } : {}), ...s });
    return exit;
  }
  const svc = s.service;
  const rows: [string, string][] = [
    [
      'service',
      svc.running
        ? `running on 127.0.0.1:${svc.port}${svc.version ? ` (ZeroTier ${svc.version})` : ''}`
        : 'not reachable',
    ],
    ['node', svc.nodeId ?? '-'],
    ['online', svc.online === null ? '-' : svc.online ? 'yes' : 'no (no connection to the ZeroTier roots)'],
    ['network', s.network.id ? `${s.network.id}${s.network.name ? ` (${s.network.name})` : ''}` : 'not set'],
    ['joined', s.network.joined === null ? '-' : s.network.joined ? 'yes' : 'no'],
    ['status', s.network.status ?? '-'],
    ['addresses', s.network.addresses.join(', ') || '-'],
  ];
  for (const [k, v] of rows) ctx.print(`${k.padEnd(11)}${v}`);
  if (s.problem) ctx.warn(`${s.problem.code}: ${s.problem.message}`, s.problem.hint);
  return exit;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

function presence(m: Member | null, now: number): string {
  if (!m) return '-';
  const state = m.online === null ? 'unknown' : m.online ? 'online' : 'offline';
  return m.lastSeen === null ? state : `${state} (${ago(now - m.lastSeen)})`;
}

const FLAG_TEXT: Record<string, (e: RosterEntry) => string> = {
  'no-agent': () => 'no agent in AGENTS.md',
  'no-member': (e) => `node ${e.nodeId} is not a member`,
  'no-node-id': () => 'no zerotier.nodeId in AGENTS.md',
  'not-authorized': () => 'not authorised',
  'address-changed': (e) => `AGENTS.md says ${e.address?.recordedIp ?? 'no IP'}, now ${e.address?.currentIp}`,
};

async function members(ctx: CommandContext): Promise<number | undefined> {
  const config = ctx.config();
  const registry = await loadRegistry(ctx.team());
  printRegistryWarnings(ctx, registry);
  const networkId = networkOf(registry);
  const { result: list, ...source } = await withMemberSource(
    { env: ctx.io.env, home: config.home, networkId, ...viaOption(ctx) },
    (s) => s.members(),
  );
  const roster = matchMembers(registry.agents, list);
  if (ctx.json) {
    ctx.printJson({ network: networkId, source: source.kind, members: roster });
    return undefined;
  }
  ctx.print(`network ${networkId}, members from ${source.where}`);
  const now = Date.now();
  ctx.print(
    table(
      ['AGENT', 'NODE', 'AUTHORISED', 'PRESENCE', 'IPS', 'NOTE'],
      roster.map((e) => [
        e.agent ?? `-${e.member?.name ? ` (${e.member.name})` : ''}`,
        e.nodeId ?? '-',
        e.member ? (e.member.authorized ? 'yes' : 'no') : '-',
        presence(e.member, now),
        e.member?.ipAssignments.join(', ') || '-',
        e.flags.map((f) => FLAG_TEXT[f]?.(e) ?? f).join('; '),
      ]),
    ),
  );
  return undefined;
}

async function authorize(ctx: CommandContext, name: string): Promise<number | undefined> {
  const config = ctx.initialisedConfig();
  const view = await loadTeamView(ctx.team(), config.home);
  requireAdmin(view, config.name, 'authorising', `ois net authorize ${name}`);
  const { registry } = view;
  const target = requireAgent(registry, name);
  const networkId = networkOf(registry);
  const flag = ctx.args.values.node;
  const nodeId = typeof flag === 'string' ? parseNodeId(flag) : (agentZerotier(target)?.nodeId ?? null);
  if (nodeId === null) {
    throw new OisError('OIS_ERR_USAGE', `AGENTS.md records no ZeroTier node id for ${target.name}`, {
      hint: `pass it: ois net authorize ${target.name} --node NODE_ID (${target.name}'s zerotier-cli info shows it)`,
    });
  }
  const { result: member, ...source } = await withMemberSource(
    { env: ctx.io.env, home: config.home, networkId, ...viaOption(ctx) },
    (s) => s.authorize(nodeId, { name: target.name, description: `OIS agent ${target.name}` }),
  );
  if (ctx.json) {
    ctx.printJson({ ok: true, network: networkId, agent: target.name, source: source.kind, member });
    return undefined;
  }
  ctx.print(
    `authorised ${target.name} (node ${nodeId}) on ${networkId} via ${source.where}` +
      (member.ipAssignments.length > 0 ? `; addresses ${member.ipAssignments.join(', ')}` : ''),
  );
  return undefined;
}
