import type { FastifyInstance } from 'fastify';
import { OisError } from '../../../errors.js';
import { agentId } from '../../../registry/index.js';
import type { ViewerOptions } from '../options.js';
import { textParams } from '../schema.js';

const TASKS_QUERY = { querystring: textParams(['agent', 'status']) };
const ID_PARAMS = { params: textParams(['id'], ['id']) };
const MEMORY_QUERY = { querystring: textParams(['q', 'by', 'tag', 'limit']) };
const KEY_QUERY = { querystring: textParams(['key'], ['key']) };
const NAME_PARAMS = { params: textParams(['name'], ['name']) };

/**
 * The team's work and knowledge: the tasks board (by status and agent, each task's thread), team memory
 * (search, by author, a key's history) and team skills (list, show, who published). Read only: changes go
 * through the commands, which sign them.
 */
export async function teamRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  const team = opts.team;
  const absent = () => new OisError('OIS_ERR_USAGE', 'this viewer has no team data (ois serve provides it)');

  app.get<{ Querystring: { agent?: string; status?: string } }>(
    '/api/tasks',
    { schema: TASKS_QUERY },
    async (request) => {
      if (!team) throw absent();
      const { agent, status } = request.query;
      const who = agent ? agentId(agent) : null;
      const tasks = (await team.tasks()).filter(
        (t) => (!who || agentId(t.from) === who || agentId(t.to) === who) && (!status || t.status === status),
      );
      return { self: opts.config.name, tasks };
    },
  );

  app.get<{ Params: { id: string } }>('/api/tasks/:id', { schema: ID_PARAMS }, async (request) => {
    if (!team) throw absent();
    return team.task(request.params.id);
  });

  app.get<{ Querystring: { q?: string; by?: string; tag?: string; limit?: string } }>(
    '/api/memory',
    { schema: MEMORY_QUERY },
    async (request) => {
      if (!team) throw absent();
      const { q, by, tag, limit } = request.query;
      const n = limit === undefined ? 50 : Number(limit);
      if (!Number.isInteger(n) || n <= 0 || n > 500)
        throw new OisError('OIS_ERR_USAGE', '"limit" must be 1 to 500');
      return {
        entries: await team.memory({
          ...(q ? { q } : {}),
          ...(by ? { by } : {}),
          ...(tag ? { tag } : {}),
          limit: n,
        }),
      };
    },
  );

  app.get<{ Querystring: { key: string } }>('/api/memory/history', { schema: KEY_QUERY }, async (request) => {
    if (!team) throw absent();
    return team.memoryHistory(request.query.key);
  });

  app.get('/api/skills', async () => {
    if (!team) throw absent();
    return { skills: await team.skills() };
  });

  app.get<{ Params: { name: string } }>('/api/skills/:name', { schema: NAME_PARAMS }, async (request) => {
    if (!team) throw absent();
    return team.skill(request.params.name);
  });
}
