import type { FastifyInstance } from 'fastify';
import { OisError } from '../../../errors.js';
import type { ViewerOptions } from '../options.js';
import { answerSchemaErrorsWith } from '../schema.js';

const RECIPIENTS = {
  anyOf: [
    { const: 'all' },
    { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', pattern: '\\S' } },
  ],
} as const;

const SEND_SCHEMA = {
  body: {
    type: 'object',
    // Recipients first, then the words: a request wrong in both is told about the recipients.
    allOf: [
      { required: ['to'], properties: { to: RECIPIENTS } },
      { required: ['body'], properties: { body: { type: 'string', pattern: '\\S' } } },
    ],
  },
} as const;

const refusal = (field: string | undefined) =>
  field === 'body'
    ? new OisError('OIS_ERR_MESSAGE_EMPTY', 'no message given')
    : new OisError('OIS_ERR_USAGE', '"to" must be "all" or a list of agent names');

/** Compose: a message to some agents or to all, through the same path as `ois send`. */
export async function composeRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  app.post<{ Body: { to: string[] | 'all'; body: string } }>(
    '/api/send',
    { bodyLimit: 256 * 1024, schema: SEND_SCHEMA, schemaErrorFormatter: answerSchemaErrorsWith(refusal) },
    async (request) => ({ ok: true, result: await opts.send(request.body.to, request.body.body) }),
  );
}
