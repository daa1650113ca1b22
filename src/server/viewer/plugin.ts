import type { FastifyError, FastifyInstance } from 'fastify';
import { OisError } from '../../errors.js';
import { sharedMaxBytes, type ViewerOptions } from './options.js';
import { agentRoutes } from './routes/agents.js';
import { chatRoutes } from './routes/chat.js';
import { composeRoutes } from './routes/compose.js';
import { eventRoutes } from './routes/events.js';
import { noticeRoutes } from './routes/notices.js';
import { outboxRoutes } from './routes/outbox.js';
import { pageRoutes } from './routes/page.js';
import { sharedRoutes } from './routes/shared.js';
import { teamRoutes } from './routes/team.js';
import { secureViewer } from './security.js';

export type { ViewerOptions } from './options.js';
export { SECURITY_HEADERS, VIEWER_AUTH_CODE, VIEWER_COOKIE, VIEWER_CSRF_HEADER } from './security.js';

/**
 * The web viewer of `ois serve`: the chat log (days, pages, search, live feed), agents, shared files, the
 * outbox, notices and a compose form, as one page plus a JSON API under `/api`. Register it in the daemon's
 * app: `await app.register(viewerPlugin, options)`; its schemas are written for that app's validator options
 * (see schema.ts). It sets its own error handler, content parsers and guard (security.ts), all scoped to its
 * routes, which live one file per part of the page in routes/.
 */
export async function viewerPlugin(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: sharedMaxBytes(opts) },
    (_request, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, code, message } = viewerError(err);
    // Our own errors say what to fix, as the CLI does (a broken AGENTS.md: the file, the line, the hint);
    // only an unexpected error stays 'internal error'.
    const ours = err instanceof OisError && err.code !== 'OIS_ERR_INTERNAL';
    if (status >= 500) request.log.error({ err }, 'viewer request failed');
    if (ours) {
      return reply
        .status(status)
        .send({ code, message, ...(err.hint === undefined ? {} : { hint: err.hint }) });
    }
    return reply.status(status).send({ code, message: status >= 500 ? 'internal error' : message });
  });

  secureViewer(app, opts.auth);

  for (const routes of [
    pageRoutes,
    chatRoutes,
    eventRoutes,
    noticeRoutes,
    agentRoutes,
    sharedRoutes,
    outboxRoutes,
    composeRoutes,
    teamRoutes,
  ]) {
    await app.register(routes, opts);
  }
}

/** Errors in the viewer's answers: our codes, with the status the refusal calls for. */
function viewerError(err: FastifyError | OisError): { status: number; code: string; message: string } {
  if (err instanceof OisError) {
    // The one code whose viewer status differs from its table status: a missing outbox id is a 404 here.
    const status = err.code === 'OIS_ERR_OUTBOX_NOT_FOUND' ? 404 : err.status;
    return { status, code: err.code, message: err.message };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'OIS_ERR_USAGE', message: 'the body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'OIS_ERR_USAGE', message: 'unsupported content type' };
  }
  if (err.validation || err.statusCode === 400) {
    return { status: 400, code: 'OIS_ERR_USAGE', message: err.message };
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'OIS_ERR_USAGE', message: err.message };
  }
  return { status: 500, code: 'OIS_ERR_INTERNAL', message: err.message };
}
