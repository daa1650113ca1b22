import type { Env } from '../config/index.js';
import { type Agent, loadRegistry, recordAgentAddress } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { agentZerotier, resolveAddress, withHost } from './address.js';
import { withMemberSource } from './members.js';

/** Where a peer is now, after its ZeroTier address changed (AGENTS.md is updated already). */
export interface Relocation {
  agent: string;
  recordedIp: string | null;
  currentIp: string;
  /** Its gateway at the new address, when the gateway URL used the recorded IP. */
  gatewayUrl: string | null;
  /** Its daemon at the new address, when the daemon URL used the recorded IP. */
  federationUrl: string | null;
}

export interface RelocateOptions {
  store: TeamStore;
  home: string;
  env: Env;
}

/**
 * For a peer that cannot be reached: asks the team's ZeroTier network where the peer's node is now. When
 * its address changed, records the new one in AGENTS.md and returns it; null when the team has no network,
 * the agent no node id, or nothing moved.
 */
export async function relocateAgent(agent: Agent, options: RelocateOptions): Promise<Relocation | null> {
  const registry = await loadRegistry(options.store);
  const networkId = registry.team?.zerotier?.network;
  const current = registry.agents.find((a) => a.id === agent.id);
  if (!networkId || current?.form !== 'canonical' || !agentZerotier(current)) return null;
  const { result: members } = await withMemberSource(
    { env: options.env, home: options.home, networkId },
    (source) => source.members(),
  );
  const moved = resolveAddress(current, members);
  if (!moved?.changed || !moved.currentIp) return null;
  const federation = current.extra.federation as { url?: unknown } | undefined;
  const federationUrl =
    typeof federation?.url === 'string' ? withHost(federation.url, moved.recordedIp, moved.currentIp) : null;
  const gatewayUrl = moved.gatewayUrl;
  if (!gatewayUrl && !federationUrl) return null;
  await recordAgentAddress(options.store, current.id, {
    gatewayUrl,
    federationUrl: federationUrl?.replace(/\/$/, '') ?? null,
    zerotierIp: moved.currentIp,
  });
  return {
    agent: current.name,
    recordedIp: moved.recordedIp,
    currentIp: moved.currentIp,
    gatewayUrl,
    federationUrl: federationUrl?.replace(/\/$/, '') ?? null,
  };
}
