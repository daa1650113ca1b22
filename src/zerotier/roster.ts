import type { Agent } from '../registry/index.js';
import { agentZerotier, currentAddress, type ResolvedAddress } from './address.js';
import type { Member } from './types.js';

/** One line of `ois net members`: a member, an agent, or both. */
export interface RosterEntry {
  /** The agent's name; null for a member no agent claims. */
  agent: string | null;
  nodeId: string | null;
  member: Member | null;
  /** Set when an agent and its member were matched. */
  address: ResolvedAddress | null;
  /** What needs attention: `no-agent`, `no-member`, `no-node-id`, `not-authorized`, `address-changed`. */
  flags: RosterFlag[];
}

export type RosterFlag = 'no-agent' | 'no-member' | 'no-node-id' | 'not-authorized' | 'address-changed';

/**
 * Maps network members to AGENTS.md agents by node id. Pure. Order: the agents' members by agent name, then
 * the members no agent claims by node id, then the agents with no member (no node id recorded, or a node
 * id the network does not list) in registry order.
 */
export function matchMembers(agents: readonly Agent[], members: readonly Member[]): RosterEntry[] {
  const byNode = new Map<string, Agent>();
  for (const a of agents) {
    const zt = agentZerotier(a);
    if (zt && !byNode.has(zt.nodeId)) byNode.set(zt.nodeId, a);
  }
  const out: RosterEntry[] = [];
  const seen = new Set<string>();
  for (const m of members) {
    const agent = byNode.get(m.nodeId) ?? null;
    const address = agent ? currentAddress(agent, m) : null;
    const flags: RosterFlag[] = [];
    if (!agent) flags.push('no-agent');
    if (!m.authorized) flags.push('not-authorized');
    if (address?.changed) flags.push('address-changed');
    if (agent) seen.add(agent.id);
    out.push({ agent: agent?.name ?? null, nodeId: m.nodeId, member: m, address, flags });
  }
  out.sort((x, y) =>
    x.agent !== null && y.agent !== null
      ? x.agent.localeCompare(y.agent)
      : x.agent !== null
        ? -1
        : y.agent !== null
          ? 1
          : x.nodeId!.localeCompare(y.nodeId!),
  );
  for (const a of agents) {
    if (seen.has(a.id)) continue;
    const zt = agentZerotier(a);
    out.push({
      agent: a.name,
      nodeId: zt?.nodeId ?? null,
      member: null,
      address: null,
      flags: zt ? ['no-member'] : ['no-node-id'],
    });
  }
  return out;
}
