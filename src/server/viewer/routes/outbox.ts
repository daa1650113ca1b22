import type { FastifyInstance } from 'fastify';
import { type OutboxMessage, readQueued } from '../../../federation/index.js';
import type { ViewerOptions } from '../options.js';
import { textParams } from '../schema.js';

const ID_SCHEMA = { params: textParams(['id'], ['id']) };

/** One outbox message as the page shows it: a preview of the words, never the payload. */
function outboxView(m: OutboxMessage) {
  let preview = '';
  try {
    const { body } = readQueued(m.payload);
    preview = body.length > 200 ? `${body.slice(0, 200)}…` : body;
  } catch {
    // Opaque payload: no preview.
  }
  // The payload itself stays in the outbox.
  const { payload: _payload, ...rest } = m;
  return { ...rest, preview };
}

/** This daemon's outbox: what waits for an offline peer, the dead letters, and `ois outbox retry/drop`. */
export async function outboxRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.get('/api/outbox', async () => {
    const messages = opts.outbox.list({ state: ['queued', 'inflight', 'dead'] }).map(outboxView);
    return {
      queued: messages.filter((m) => m.state !== 'dead'),
      dead: messages.filter((m) => m.state === 'dead'),
    };
  });
  app.post<{ Params: { id: string } }>('/api/outbox/:id/retry', { schema: ID_SCHEMA }, async (request) => ({
    ok: true,
    message: outboxView(opts.outbox.retryNow(request.params.id)),
  }));
  app.post<{ Params: { id: string } }>('/api/outbox/:id/drop', { schema: ID_SCHEMA }, async (request) => ({
    ok: true,
    message: outboxView(opts.outbox.drop(request.params.id)),
  }));
}
