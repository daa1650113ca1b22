import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OisError } from '../errors.js';
import {
  ENVELOPE_SCHEMA,
  type Envelope,
  receiveEnvelope,
  type VerifiedSender,
  verifySender,
} from '../federation/index.js';
import type { AppDeps } from './app.js';

/**
 * The inbound federation API (specs/federation.md): `POST /v1/messages`, as its own encapsulated plugin with
 * its own validator. Envelopes are signed, so validation must never change one: no coercion, no defaults,
 * nothing removed, whatever options the app around it (or the viewer) uses.
 */
export async function federationRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const ajv = new Ajv({
    allErrors: false,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: false,
    strict: true,
  });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  const now = deps.now ?? Date.now;

  // Signature checks happen in the rate limiter's key function, before the handler, so that a forged
  // envelope counts against its address and never against the sender it claims to be.
  const checked = new WeakMap<FastifyRequest, VerifiedSender>();
  const check = async (request: FastifyRequest): Promise<VerifiedSender> => {
    let known = checked.get(request);
    if (!known) {
      known = await verifySender(request.body as Envelope, await deps.registry());
      checked.set(request, known);
    }
    return known;
  };

  app.post(
    '/v1/messages',
    {
      schema: {
        body: ENVELOPE_SCHEMA,
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, id: { type: 'string' } } },
          202: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              id: { type: 'string' },
              reply: { type: 'object', additionalProperties: true },
            },
          },
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
      const { status, ...answer } = await receiveEnvelope(request.body as Envelope, await check(request), {
        self: deps.config.name,
        registry: deps.registry,
        seen: deps.seen,
        deliver: deps.deliver,
        skewSeconds: deps.config.serve.skewSeconds,
        now,
        log: request.log,
        ...(deps.muted ? { muted: deps.muted } : {}),
        ...(deps.sign ? { sign: deps.sign } : {}),
        ...(deps.onDelivered ? { onDelivered: deps.onDelivered } : {}),
        ...(deps.accept ? { accept: deps.accept } : {}),
        maxHops: deps.config.federation.maxHops,
      });
      return reply.status(status === 'duplicate' ? 200 : 202).send({ status, ...answer });
    },
  );
}
