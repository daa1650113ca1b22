import { isIP } from 'node:net';
import type { Agent } from '../registry/index.js';
import { isNodeId } from './ids.js';
import type { Member } from './types.js';

/** An agent's recorded ZeroTier identity (`zerotier: {nodeId, ip}` in its AGENTS.md block). */
export interface AgentZerotier {
  nodeId: string;
  ip: string | null;
}

/** Reads `extra.zerotier` of a registry entry; null when it has no valid node id. */
export function agentZerotier(agent: Pick<Agent, 'extra'>): AgentZerotier | null {
  const zt = agent.extra.zerotier;
  if (typeof zt !== 'object' || zt === null) return null;
  const { nodeId, ip } = zt as { nodeId?: unknown; ip?: unknown };
  // A hand-written all-digit id such as 0011223344 reaches us as the YAML number 11223344 (`ois join`
  // quotes it); the id is always 10 digits, so the leading zeros can be put back.
  const id =
    typeof nodeId === 'string'
      ? nodeId.trim().toLowerCase()
      : Number.isSafeInteger(nodeId) && (nodeId as number) >= 0
        ? String(nodeId).padStart(10, '0')
        : '';
  if (!isNodeId(id)) return null;
  return { nodeId: id, ip: typeof ip === 'string' && isIP(ip) ? ip : null };
}

/** `10.147.17.5/24` → `10.147.17.5` (the local service reports CIDR, Central plain IPs). */
export function stripPrefix(address: string): string {
  const at = address.indexOf('/');
  return at < 0 ? address : address.slice(0, at);
}

/** IPv4 first (what people put into URLs), then IPv6, each as given. */
export function preferredIp(addresses: readonly string[]): string | null {
  const ips = addresses.map(stripPrefix).filter((a) => isIP(a) !== 0);
  return ips.find((a) => isIP(a) === 4) ?? ips[0] ?? null;
}

export interface ResolvedAddress {
  agent: string;
  nodeId: string;
  /** The IP in AGENTS.md (null when none is recorded). */
  recordedIp: string | null;
  /** The IP the network assigns now (null when the member has none). */
  currentIp: string | null;
  /** True when the recorded IP is not among the assigned ones and there is an assignment. */
  changed: boolean;
  /** The agent's gateway URL with the current IP as host, when the gateway used the recorded IP. */
  gatewayUrl: string | null;
}

/**
 * Where an agent is now on the team network, given its member record. Pure. Returns null when the agent
 * has no node id or the member is another node.
 *
 * @example
 * currentAddress(beta, { nodeId: '89e92ceee5', ipAssignments: ['10.147.17.9'], … })
 * // → { changed: true, recordedIp: '10.147.17.5', currentIp: '10.147.17.9',
 * //     gatewayUrl: 'http://10.147.17.9:18789/' }
 */
export function currentAddress(
  agent: Pick<Agent, 'name' | 'extra' | 'gateway'>,
  member: Pick<Member, 'nodeId' | 'ipAssignments'>,
): ResolvedAddress | null {
  const zt = agentZerotier(agent);
  if (!zt || zt.nodeId !== member.nodeId) return null;
  const assigned = member.ipAssignments.map(stripPrefix);
  const stillValid = zt.ip !== null && assigned.includes(zt.ip);
  const currentIp = stillValid ? zt.ip : preferredIp(assigned);
  const changed = currentIp !== null && !stillValid;
  return {
    agent: agent.name,
    nodeId: zt.nodeId,
    recordedIp: zt.ip,
    currentIp,
    changed,
    gatewayUrl: changed && agent.gateway ? withHost(agent.gateway.url, zt.ip, currentIp!) : null,
  };
}

/** {@link currentAddress} with the agent's member looked up by node id; null when there is none. */
export function resolveAddress(
  agent: Pick<Agent, 'name' | 'extra' | 'gateway'>,
  members: readonly Pick<Member, 'nodeId' | 'ipAssignments'>[],
): ResolvedAddress | null {
  const zt = agentZerotier(agent);
  if (!zt) return null;
  const member = members.find((m) => m.nodeId === zt.nodeId);
  return member ? currentAddress(agent, member) : null;
}

/**
 * A URL with its host replaced, but only when the host is the recorded ZeroTier IP (or, with no recorded
 * IP, an address literal): a host name is the user's choice and stays. Null when it stays.
 */
export function withHost(url: string, recordedIp: string | null, ip: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (recordedIp !== null ? host !== recordedIp : isIP(host) === 0) return null;
  u.hostname = isIP(ip) === 6 ? `[${ip}]` : ip;
  return u.toString();
}
