import type { FastifyInstance, FastifyReply } from 'fastify';
import { OisError } from '../../../errors.js';
import { getShared, listShared, putShared, removeShared } from '../../../team/index.js';
import { sharedMaxBytes, type ViewerOptions } from '../options.js';
import { textParams } from '../schema.js';

// The name itself is checked by the store (sharedName), whose refusals have their own codes.
const NAME_SCHEMA = { params: textParams(['name'], ['name']) };
const PUT_SCHEMA = { ...NAME_SCHEMA, querystring: textParams(['overwrite']) };

/**
 * The team folder's `shared/`: list, download, upload (the raw body, `application/octet-stream`, parsed by
 * the viewer plugin up to the shared-file limit) and delete.
 */
export async function sharedRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  const maxBytes = sharedMaxBytes(opts);

  app.get('/api/shared', async () => ({ files: await listShared(opts.store), maxBytes }));

  app.get<{ Params: { name: string } }>(
    '/api/shared/:name',
    { schema: NAME_SCHEMA },
    async (request, reply) => {
      const { name } = request.params;
      const found = await getShared(opts.store, name);
      if (!found) return notFound(reply, `no shared file ${name}`);
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(found.info.name)}`)
        .header('x-ois-sha256', found.info.sha256 ?? '')
        .send(found.data);
    },
  );

  app.put<{ Params: { name: string }; Querystring: { overwrite?: string } }>(
    '/api/shared/:name',
    { bodyLimit: maxBytes, schema: PUT_SCHEMA },
    async (request, reply) => {
      const { name } = request.params;
      if (!Buffer.isBuffer(request.body)) {
        throw new OisError(
          'OIS_ERR_USAGE',
          'send the file as the raw body, Content-Type: application/octet-stream',
        );
      }
      const overwrite = request.query.overwrite === '1' || request.query.overwrite === 'true';
      const info = await putShared(opts.store, name, request.body, {
        uploader: opts.config.name,
        overwrite,
        maxBytes,
      });
      return reply.status(201).send(info);
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/shared/:name',
    { schema: NAME_SCHEMA },
    async (request, reply) => {
      const { name } = request.params;
      if (!(await removeShared(opts.store, name))) return notFound(reply, `no shared file ${name}`);
      return { ok: true, name };
    },
  );
}

function notFound(reply: FastifyReply, message: string) {
  return reply.status(404).send({ code: 'OIS_ERR_USAGE', message });
}
