import type { FastifyInstance } from 'fastify';
import { CSS, HTML, JS } from '../assets/index.js';
import type { ViewerOptions } from '../options.js';

/** The page, its script and style, and who it is for (`/api/me`). */
export async function pageRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(HTML));
  app.get('/assets/viewer.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(JS),
  );
  app.get('/assets/viewer.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CSS));
  app.get('/api/me', async () => ({ name: opts.config.name, auth: opts.auth.required }));
}
