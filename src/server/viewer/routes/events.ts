import type { FastifyInstance } from 'fastify';
import { followChat } from '../../../chatlog/index.js';
import { toViewerEntry } from '../chat.js';
import type { ViewerOptions } from '../options.js';
import { textParams } from '../schema.js';
import { SECURITY_HEADERS } from '../security.js';

const EVENTS_SCHEMA = { querystring: textParams(['with']) };

/**
 * The live feed (`/api/events`, server-sent events): each chat entry completed after the stream opened, and
 * the notices' unread count when it changes. Open streams end when the app closes.
 */
export async function eventRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });

  app.get<{ Querystring: { with?: string } }>(
    '/api/events',
    { schema: EVENTS_SCHEMA },
    async (request, reply) => {
      const who = request.query.with || undefined;
      reply.hijack();
      const res = reply.raw;
      // A hijacked answer skips the onRequest headers fastify would have sent: they are written here.
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const controller = new AbortController();
      // Comments keep proxies and the browser from timing the stream out.
      const heartbeat = setInterval(() => res.write(': ping\n\n'), 15_000);
      heartbeat.unref();
      const stop = () => {
        if (controller.signal.aborted) return;
        controller.abort();
        clearInterval(heartbeat);
        streams.delete(stop);
        res.end();
      };
      streams.add(stop);
      request.raw.on('close', stop);
      res.on('close', stop);
      // The unread count of the notices panel, sent when it changes.
      if (opts.notices) {
        const feed = opts.notices;
        let last = '';
        const tick = async () => {
          const f = await feed.read({ all: false }).catch(() => null);
          if (!f || controller.signal.aborted) return;
          const key = `${f.unread}|${f.notices.at(-1)?.id ?? ''}`;
          if (key !== last) {
            last = key;
            res.write(
              `event: notices\ndata: ${JSON.stringify({ unread: f.unread, latest: f.notices.at(-1) ?? null })}\n\n`,
            );
          }
        };
        void tick();
        const poll = setInterval(() => void tick(), Math.max(opts.followIntervalMs ?? 250, 1000));
        poll.unref();
        controller.signal.addEventListener('abort', () => clearInterval(poll));
      }
      followChat(
        opts.store,
        {
          signal: controller.signal,
          intervalMs: opts.followIntervalMs ?? 250,
          ...(who ? { with: who } : {}),
          onError: (err) => request.log.warn({ err }, 'viewer live feed: reading the chat log failed'),
        },
        (entry) => {
          res.write(`event: entry\ndata: ${JSON.stringify(toViewerEntry(entry))}\n\n`);
        },
      )
        .catch((err: unknown) => request.log.warn({ err }, 'viewer live feed stopped'))
        .finally(stop);
    },
  );
}
