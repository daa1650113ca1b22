import { OisError } from '../errors.js';
import { TEAM_PATHS, type TeamStore } from '../team/index.js';
import { upsertAgentText } from './edit.js';
import { parseRegistry } from './parse.js';
import type { Registry } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer, file: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new OisError('OIS_ERR_REGISTRY_PARSE', `${file} is not valid UTF-8`, {
      hint: 'save the file as UTF-8',
    });
  }
}

/** Reads and parses the team's AGENTS.md; a missing file is an empty registry. */
export async function loadRegistry(store: TeamStore): Promise<Registry> {
  const file = `${store.root}/${TEAM_PATHS.registry}`;
  const bytes = await store.read(TEAM_PATHS.registry);
  return parseRegistry(bytes === null ? '' : decode(bytes, file), file);
}

/**
 * The registry as a function that reads AGENTS.md again only when it changed (the store's version of the
 * file), so a busy daemon does not parse it per message.
 */
export function cachedRegistry(store: TeamStore): () => Promise<Registry> {
  let cached: { key: string; registry: Registry } | null = null;
  return async () => {
    const key = (await store.stat(TEAM_PATHS.registry).catch(() => null))?.version ?? 'missing';
    if (cached?.key !== key) cached = { key, registry: await loadRegistry(store) };
    return cached.registry;
  };
}

/**
 * Edits AGENTS.md under its lock: reads the current text, lets `edit` return the new text (or null for no
 * change), checks that the result still parses, and replaces the file atomically. A failure at any step
 * leaves the file as it was.
 */
export async function editRegistry(
  store: TeamStore,
  edit: (text: string, registry: Registry) => string | null,
): Promise<Registry> {
  const file = `${store.root}/${TEAM_PATHS.registry}`;
  return store.withLock(TEAM_PATHS.registry, async () => {
    const bytes = await store.read(TEAM_PATHS.registry);
    const text = bytes === null ? '' : decode(bytes, file);
    const registry = parseRegistry(text, file);
    const next = edit(text, registry);
    if (next === null || next === text) return registry;
    const checked = parseRegistry(next, file);
    await store.writeAtomic(TEAM_PATHS.registry, next);
    return checked;
  });
}

export interface AgentAddress {
  /** The gateway's new URL, or null to keep it. */
  gatewayUrl: string | null;
  /** The daemon's new URL (`federation.url`), or null to keep it. */
  federationUrl: string | null;
  /** The new ZeroTier IP (`zerotier.ip`). */
  zerotierIp: string;
}

/**
 * Records where an agent is now (its ZeroTier address changed): the gateway URL, the daemon URL and the
 * recorded IP of its canonical block; everything else stays. A hand-written (OIS bullet) entry is left
 * alone. Returns whether the file changed.
 */
export async function recordAgentAddress(
  store: TeamStore,
  id: string,
  address: AgentAddress,
): Promise<boolean> {
  let changed = false;
  await editRegistry(store, (text, current) => {
    const cur = current.agents.find((a) => a.id === id);
    if (cur?.form !== 'canonical') return null;
    const federation = cur.extra.federation as Record<string, unknown> | undefined;
    const extra: Record<string, unknown> = {
      ...cur.extra,
      zerotier: { ...(cur.extra.zerotier as object), ip: address.zerotierIp },
      ...(federation && address.federationUrl
        ? { federation: { ...federation, url: address.federationUrl } }
        : {}),
    };
    const next = upsertAgentText(text, current, {
      name: cur.name,
      role: cur.role,
      status: cur.status,
      description: cur.description,
      capabilities: cur.capabilities,
      gateway:
        cur.gateway && address.gatewayUrl
          ? { url: address.gatewayUrl, sessionKey: cur.gateway.sessionKey }
          : cur.gateway,
      joined: cur.joined,
      extra,
    });
    changed = next !== text;
    return next;
  });
  return changed;
}
