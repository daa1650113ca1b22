import type { FastifyInstance } from 'fastify';
import { OisError } from '../../../errors.js';
import type { ViewerOptions } from '../options.js';
import { answerSchemaErrorsWith, textParams } from '../schema.js';

const badUntil = () => new OisError('OIS_ERR_USAGE', '"until" must be an ISO-8601 UTC time');

const LIST_SCHEMA = { querystring: textParams(['all']) };
const READ_SCHEMA = {
  body: {
    type: 'object',
    required: ['until'],
    // A UTC instant; that it is a time at all is the handler's Date.parse.
    properties: { until: { type: 'string', pattern: 'Z$' } },
  },
} as const;

/** The notices panel: the feed of `ois notices` (muted types only on request), and marking it read. */
export async function noticeRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.get<{ Querystring: { all?: string } }>('/api/notices', { schema: LIST_SCHEMA }, async (request) => {
    if (!opts.notices) return { notices: [], unread: 0 };
    const all = request.query.all === '1';
    const feed = await opts.notices.read({ all });
    return { notices: all ? feed.notices : feed.notices.filter((n) => !n.muted), unread: feed.unread };
  });

  app.post<{ Body: { until: string } }>(
    '/api/notices/read',
    { bodyLimit: 1024, schema: READ_SCHEMA, schemaErrorFormatter: answerSchemaErrorsWith(badUntil) },
    async (request) => {
      const { until } = request.body;
      if (Number.isNaN(Date.parse(until))) throw badUntil();
      if (!opts.notices) return { unread: 0 };
      await opts.notices.markRead(until);
      return { unread: (await opts.notices.read({ all: false })).unread };
    },
  );
}
