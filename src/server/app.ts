import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { InstanceConfig } from '../config/index.js';
import { isOisError, OisError } from '../errors.js';
import { ENVELOPE_SCHEMA, type Envelope, verifyEnvelope } from '../federation/envelope.js';
import { deliveredText } from '../federation/message.js';
import { type Agent, agentId, findAgent, type Registry } from '../registry/index.js';
import type { SeenStore } from './seen-store.js';
import { type ViewerOptions, viewerPlugin } from './viewer/plugin.js';

export const INBOUND_BODY_LIMIT = 2 * 1024 * 1024;

export interface AppDeps {
  config: InstanceConfig & { name: string };
  /** The current registry (the daemon re-reads AGENTS.md when it changes). */
  registry: () => Promise<Registry>;
  seen: SeenStore;
  /** Puts the text into this instance's own gateway session; throws an OisError when it cannot. */
  deliver: (text: string, envelope: Envelope) => Promise<void>;
  now?: () => number;
  /** Pino options, or false (tests). */
  logger?: boolean | Record<string, unknown>;
  /** The web viewer (chat, agents, shared files, outbox, compose); left out when absent. */
  viewer?: ViewerOptions;
}

interface Checked {
  sender: Agent | null;
  valid: boolean;
}

/** Secrets that must never reach a log line. */
export const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie', '*.token', '*.password'];

/**
 * The daemon's HTTP app: the inbound federation API (specs/federation.md) and health routes. Never listens
 * by itself: `start` does, tests use `inject()` or listen on 127.0.0.1:0.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const self = agentId(deps.config.name);
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: INBOUND_BODY_LIMIT,
    // Envelopes are validated strictly: no coercion, no extra fields.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
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
    if (e.code === 'OIS_ERR_LOCAL_GATEWAY') reply.header('retry-after', '30');
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

  // Signature checks happen in the rate limiter's key function, before the handler, so that a forged
  // envelope counts against its address and never against the sender it claims to be.
  const checked = new WeakMap<FastifyRequest, Checked>();
  const check = async (request: FastifyRequest): Promise<Checked> => {
    const known = checked.get(request);
    if (known) return known;
    const envelope = request.body as Envelope;
    const registry = await deps.registry();
    const sender = findAgent(registry, envelope.from);
    const publicKey = (sender?.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
    const valid = typeof publicKey === 'string' && verifyEnvelope(envelope, publicKey);
    const result = { sender, valid };
    checked.set(request, result);
    return result;
  };

  app.post(
    '/v1/messages',
    {
      schema: {
        body: ENVELOPE_SCHEMA,
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, id: { type: 'string' } } },
          202: { type: 'object', properties: { status: { type: 'string' }, id: { type: 'string' } } },
        },
      },
      config: {
        rateLimit: {
          max: deps.config.serve.rateLimit,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: async (request: FastifyRequest) => {
            const { sender, valid } = await check(request);
            return valid && sender ? `sender:${sender.id}` : `ip:${request.ip}`;
          },
          errorResponseBuilder: (_request: FastifyRequest, context: { after: string; max: number }) => {
            const err = new OisError(
              'OIS_ERR_RATE_LIMITED',
              `more than ${context.max} messages a minute; retry after ${context.after}`,
            );
            return Object.assign(err, { statusCode: 429 });
          },
        },
      },
    },
    async (request, reply) => {
      const envelope = request.body as Envelope;
      if (agentId(envelope.to) !== self) {
        throw new OisError(
          'OIS_ERR_RECIPIENT_MISMATCH',
          `this is the daemon of ${deps.config.name}, not of ${envelope.to}`,
        );
      }
      const { sender, valid } = await check(request);
      const publicKey = (sender?.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
      if (!sender || typeof publicKey !== 'string') {
        throw new OisError(
          'OIS_ERR_SENDER_UNKNOWN',
          `${envelope.from} is not an agent with a public key in AGENTS.md`,
        );
      }
      if (sender.status !== 'active') {
        throw new OisError('OIS_ERR_SENDER_INACTIVE', `${sender.name} is ${sender.status} in AGENTS.md`);
      }
      if (!valid) {
        throw new OisError(
          'OIS_ERR_SIGNATURE_INVALID',
          `the signature of ${envelope.id} does not verify with the key of ${sender.name} in AGENTS.md`,
        );
      }
      const skew = Math.abs(now() - Date.parse(envelope.createdAt)) / 1000;
      if (!(skew <= deps.config.serve.skewSeconds)) {
        throw new OisError(
          'OIS_ERR_ENVELOPE_STALE',
          `createdAt ${envelope.createdAt} is ${Math.round(skew)} s from this daemon's clock (window ±${deps.config.serve.skewSeconds} s)`,
        );
      }
      const state = deps.seen.claim(envelope.id, sender.name);
      if (state === 'delivered') return reply.status(200).send({ status: 'duplicate', id: envelope.id });
      if (state === 'delivering') {
        reply.header('retry-after', '2');
        throw new OisError('OIS_ERR_LOCAL_GATEWAY', `${envelope.id} is being delivered right now`);
      }
      const text = deliveredText(
        { from: sender.name, to: deps.config.name, id: envelope.id, at: new Date(envelope.createdAt) },
        envelope.body,
      );
      try {
        await deps.deliver(text, envelope);
      } catch (err) {
        if (isOisError(err, 'OIS_ERR_DELIVERY_UNKNOWN')) {
          // It may be in the session already: never deliver it twice; the sender gets its acknowledgement.
          request.log.warn(
            { id: envelope.id },
            'delivery into the local gateway is unknown; not repeating it',
          );
          deps.seen.delivered(envelope.id);
          return reply.status(202).send({ status: 'delivered', id: envelope.id });
        }
        deps.seen.release(envelope.id);
        request.log.error(
          { id: envelope.id, code: isOisError(err) ? err.code : undefined, message: (err as Error).message },
          'local gateway refused',
        );
        throw new OisError(
          'OIS_ERR_LOCAL_GATEWAY',
          `the gateway of ${deps.config.name} did not take the message; retry later`,
          { cause: err },
        );
      }
      deps.seen.delivered(envelope.id);
      request.log.info({ id: envelope.id, from: sender.name }, 'delivered');
      return reply.status(202).send({ status: 'delivered', id: envelope.id });
    },
  );
  return app;
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
