import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import { Ajv, type ValidateFunction } from 'ajv';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifySchemaCompiler,
  type FastifyServerOptions,
} from 'fastify';
import type { InstanceConfig } from '../config/index.js';
import { isOisError, OisError } from '../errors.js';
import type { Envelope, SeenStore, UnsignedEnvelope } from '../federation/index.js';
import type { Agent, Registry } from '../registry/index.js';
import { federationRoutes } from './federation-route.js';
import { type ViewerOptions, viewerPlugin } from './viewer/plugin.js';

export const INBOUND_BODY_LIMIT = 2 * 1024 * 1024;

/**
 * The app's validator options: input is validated as it arrives, with no type coercion and no fields
 * removed (envelopes are signed, so nothing may change them). The viewer's schemas are written for them.
 */
export const APP_AJV_OPTIONS = {
  customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
} as const satisfies FastifyServerOptions['ajv'];

export interface AppDeps {
  config: InstanceConfig & { name: string };
  /** The current registry (the daemon re-reads AGENTS.md when it changes). */
  registry: () => Promise<Registry>;
  seen: SeenStore;
  /** Signs this instance's answer to a waited envelope. */
  sign?: (reply: UnsignedEnvelope) => Envelope;
  /** Checks an envelope before it is delivered (task rules). */
  accept?: (envelope: Envelope, sender: Agent) => void;
  /** Called once an envelope is delivered (tasks, replies). */
  onDelivered?: (envelope: Envelope, sender: Agent) => Promise<void>;
  /** Notice types this instance muted: acknowledged, not put into its session. */
  muted?: (type: string) => boolean;
  /** Puts the text into this instance's own gateway session; throws an OisError when it cannot. */
  deliver: (text: string, envelope: Envelope) => Promise<unknown>;
  now?: () => number;
  /** Pino options, or false (tests). */
  logger?: boolean | Record<string, unknown>;
  /** The web viewer (chat, agents, shared files, outbox, compose); left out when absent. */
  viewer?: ViewerOptions;
}

export { LOG_REDACT } from '../logger.js';

/**
 * The daemon's HTTP app: the inbound federation API (specs/federation.md) and health routes. Never listens
 * by itself: `start` does, tests use `inject()` or listen on 127.0.0.1:0.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const serve = deps.config.serve;
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: INBOUND_BODY_LIMIT,
    // A whole request must arrive in time (Node answers 408 and closes), and an idle kept-alive connection
    // is closed too: a client that sends slowly, or not at all, cannot hold connections open.
    requestTimeout: serve.requestTimeoutMs,
    // (Node's requestTimeout does not fire for a body that trickles into a fastify route: see bodyDeadline.)
    connectionTimeout: serve.requestTimeoutMs * 3,
    keepAliveTimeout: 5000,
    // Node checks the header timeout only this often (30 s by default).
    http: { connectionsCheckingInterval: Math.min(1000, serve.requestTimeoutMs) },
    ajv: APP_AJV_OPTIONS,
  });
  // The viewer's schemas become validators on the first request that needs each one, so an idle daemon
  // does not carry them (1 MB). The federation routes compile their own at start.
  app.setValidatorCompiler(validatorsOnFirstUse());
  bodyDeadline(app, serve.requestTimeoutMs);
  capConnections(app.server, serve.maxConnectionsPerAddress, (address) =>
    app.log.warn({ address }, 'too many connections from one address; closing the newest'),
  );
  // JSON only: fastify parses text/plain by default, which would turn a wrong content type into a
  // schema error instead of the 415 it is.
  app.removeContentTypeParser('text/plain');
  let stopping = false;
  app.addHook('onClose', async () => {
    stopping = true;
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toOisError(err);
    if (e.status >= 500) request.log.error({ err }, 'inbound request failed');
    if (e.code === 'OIS_ERR_LOCAL_GATEWAY') {
      const seconds = e.details?.retryAfterSeconds;
      reply.header('retry-after', String(typeof seconds === 'number' ? seconds : 30));
    }
    reply.status(e.status).send({
      code: e.code,
      message: e.status >= 500 && e.code !== 'OIS_ERR_LOCAL_GATEWAY' ? 'internal error' : e.message,
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'OIS_ERR_USAGE', message: `no route ${request.method} ${request.url}` });
  });

  await app.register(rateLimit, { global: false });

  if (deps.viewer) await app.register(viewerPlugin, deps.viewer);

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    if (stopping) return reply.status(503).send({ ready: false });
    return { ready: true };
  });

  await app.register(federationRoutes, deps);
  return app;
}

/**
 * The app's validator compiler: a schema is compiled when it first validates, with one Ajv made then, as
 * fastify's own compiler makes it of APP_AJV_OPTIONS but without its formats (no schema of the app's uses
 * `format`). A broken schema is thus found by the first request to its route, not at start; a test compiles
 * every one (tests/viewer-app.test.ts).
 */
export function validatorsOnFirstUse(): FastifySchemaCompiler<unknown> {
  let ajv: Ajv | undefined;
  return ({ schema }) => {
    let compiled: ValidateFunction | undefined;
    const validate: ReturnType<FastifySchemaCompiler<unknown>> = (data: unknown) => {
      if (!compiled) {
        ajv ??= new Ajv({ useDefaults: true, addUsedSchema: false, ...APP_AJV_OPTIONS.customOptions });
        compiled = ajv.compile(schema as object);
      }
      const valid = compiled(data);
      validate.errors = compiled.errors;
      return valid;
    };
    return validate;
  };
}

/**
 * A request whose body has not fully arrived `ms` after its headers (plus a second per 64 KiB it declares)
 * gets a 408 and its connection closed.
 * Node's own requestTimeout stops watching a request once its headers are parsed and a handler reads the
 * body (seen with fastify 5 on Node 24), so a client that sends one byte a second could hold a connection
 * for as long as it liked.
 */
function bodyDeadline(app: FastifyInstance, ms: number): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    if (raw.complete) return done();
    // Large uploads (the viewer's shared files) get a second more for every 64 KiB they declare.
    const declared = Number(raw.headers['content-length']) || 0;
    const limit = ms + Math.ceil(declared / 65_536) * 1000;
    const timer = setTimeout(() => {
      if (raw.complete) return;
      const socket = raw.socket;
      request.log.warn(
        { ip: request.ip },
        `request body not received within ${ms} ms; closing the connection`,
      );
      if (socket.writable) {
        const body = JSON.stringify({
          code: 'OIS_ERR_USAGE',
          message: `the request did not arrive within ${ms} ms`,
        });
        socket.write(
          `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    }, limit);
    timer.unref();
    const clear = () => clearTimeout(timer);
    raw.once('end', clear);
    raw.once('close', clear);
    done();
  });
}

/**
 * Closes every connection from an address that already holds `max` open ones. Counted per remote address,
 * so one client cannot use up the daemon's sockets while others still get through.
 */
function capConnections(server: Server, max: number, onRefused: (address: string) => void): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const n = open.get(address) ?? 0;
    if (n >= max) {
      onRefused(address);
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** Fastify's own errors (validation, body, content type) in our codes. */
function toOisError(err: FastifyError): OisError {
  if (isOisError(err)) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OisError('OIS_ERR_UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OisError('OIS_ERR_ENVELOPE_TOO_LARGE', `the body is over ${INBOUND_BODY_LIMIT} bytes`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OisError('OIS_ERR_ENVELOPE_INVALID', `the body is not JSON: ${err.message}`);
  }
  if (err.validation) return new OisError('OIS_ERR_ENVELOPE_INVALID', `invalid envelope: ${err.message}`);
  if (err.statusCode === 415)
    return new OisError('OIS_ERR_UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  if (err.statusCode === 413)
    return new OisError('OIS_ERR_ENVELOPE_TOO_LARGE', `the body is over ${INBOUND_BODY_LIMIT} bytes`);
  if (err.statusCode === 400) return new OisError('OIS_ERR_ENVELOPE_INVALID', err.message);
  return new OisError('OIS_ERR_INTERNAL', err.message, { cause: err });
}
