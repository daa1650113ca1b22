import type { InstanceConfig } from '../config/index.js';
import { loadIdentity } from '../membership/index.js';
import {
  type Agent,
  type AgentStatus,
  agentId,
  editRegistry,
  findAgent,
  loadRegistry,
  type Registry,
  type Role,
  upsertAgentText,
} from '../registry/index.js';
import type { TeamStore } from '../team/index.js';

export interface PublishChanges {
  role?: Role;
  /** The status the membership records give (a join request is pending). */
  status?: AgentStatus;
  description?: string;
  capabilities?: string[];
  /** The daemon's URL, when it differs from the config (a port taken at start). */
  federationUrl?: string;
  /** This node on the team's ZeroTier network, when the local service runs. */
  zerotier?: { nodeId: string; ip: string | null };
}

/**
 * Adds or updates this instance's entry in AGENTS.md (`ois join`, and the daemon when its port changed):
 * gateway from the config, `federation: {url, publicKey}` when the instance has a key, everything else
 * the entry had kept. Locked and atomic (registry/editRegistry).
 */
export async function publishSelf(
  store: TeamStore,
  config: InstanceConfig & { name: string },
  changes: PublishChanges,
  today: string,
): Promise<{ registry: Registry; before: Agent | null; agent: Agent }> {
  const identity = await loadIdentity(config.home);
  let before: Agent | null = null;
  const registry = await editRegistry(store, (text, current) => {
    before = current.agents.find((a) => a.id === agentId(config.name)) ?? null;
    const extra: Record<string, unknown> = before?.form === 'canonical' ? { ...before.extra } : {};
    // The key is published at once; the daemon's URL only by a daemon that runs (ois serve, or join while it
    // runs), so peers never send envelopes to an instance that has no daemon.
    if (identity) {
      const url = changes.federationUrl ?? (extra.federation as { url?: unknown } | undefined)?.url;
      extra.federation = { ...(typeof url === 'string' ? { url } : {}), publicKey: identity.publicKey };
    }
    if (changes.zerotier) {
      extra.zerotier = {
        nodeId: changes.zerotier.nodeId,
        ...(changes.zerotier.ip ? { ip: changes.zerotier.ip } : {}),
      };
    }
    return upsertAgentText(text, current, {
      name: config.name,
      role: changes.role ?? before?.role ?? 'member',
      status: changes.status ?? (before?.status === 'unverified' ? undefined : before?.status) ?? 'active',
      description: changes.description ?? before?.description ?? '',
      capabilities: changes.capabilities ?? before?.capabilities ?? [],
      gateway: { url: config.gateway.url, sessionKey: config.gateway.sessionKey },
      joined: before?.joined ?? today,
      extra,
    });
  });
  const agent = registry.agents.find((a) => a.id === agentId(config.name))!;
  return { registry, before, agent };
}

/**
 * Publishes the URL a running daemon serves on (`ois serve`, `ois demo`), when AGENTS.md does not already
 * say so: a restart on the same port writes nothing.
 */
export async function publishDaemonUrl(
  store: TeamStore,
  config: InstanceConfig & { name: string },
  url: string,
  today: string,
): Promise<void> {
  const me = findAgent(await loadRegistry(store), config.name);
  // Only an entry `ois join` made: a daemon never adds an agent to the team by itself.
  if (!me || (me.extra.federation as { url?: unknown } | undefined)?.url === url) return;
  await publishSelf(store, config, { federationUrl: url }, today);
}
