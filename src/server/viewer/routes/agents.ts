import type { FastifyInstance } from 'fastify';
import { federationOf, type PresenceSnapshot } from '../../../federation/index.js';
import type { ViewerOptions } from '../options.js';

/** The agents of AGENTS.md, with how they are reached and what this instance last saw of them. */
export async function agentRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.get('/api/agents', async () => {
    const [registry, presence] = await Promise.all([
      opts.registry(),
      opts.presence().catch((): PresenceSnapshot => ({})),
    ]);
    const self = opts.config.name.toLowerCase();
    return {
      self: opts.config.name,
      agents: registry.agents.map((a) => {
        const zt = (a.extra.zerotier as { ip?: unknown } | undefined)?.ip;
        const p = presence[a.name] ?? null;
        return {
          name: a.name,
          id: a.id,
          role: a.role,
          status: a.status,
          description: a.description,
          capabilities: a.capabilities,
          self: a.name.toLowerCase() === self,
          delivery: federationOf(a) ? 'federated' : 'direct',
          zerotier: typeof zt === 'string' ? zt : null,
          presence: p ? p.status : 'unknown',
          lastSeen: p ? p.lastSeen : null,
          checkedAt: p ? p.checkedAt : null,
        };
      }),
    };
  });
}
