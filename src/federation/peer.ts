import type { Agent } from '../registry/index.js';

export interface FederationRef {
  url: string;
  publicKey: string;
}

/** The agent's published daemon, if it has one. */
export function federationOf(agent: Agent): FederationRef | null {
  const f = agent.extra.federation as { url?: unknown; publicKey?: unknown } | undefined;
  return typeof f?.url === 'string' && typeof f.publicKey === 'string'
    ? { url: f.url, publicKey: f.publicKey }
    : null;
}
