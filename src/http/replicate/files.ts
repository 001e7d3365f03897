import fastifyMultipart from '@fastify/multipart';
import { z } from 'zod';
import { ReplicateFileListSchema, ReplicateFileSchema } from '../../contracts/replicate.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { FILE_MULTIPART_LIMITS, createFileRoute } from './create-file.js';
import { replicateProblemResponses } from './errors.js';
import { FILE_ID, findFile, toFileObject } from './file-object.js';
import { surfaceBase } from './prediction.js';

const PAGE = 100;

const FileIdParams = z.object({
  id: z.string().max(64).meta({
    description: 'The file id (`file_` and 26 characters); anything else is 404',
    example: 'file_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B',
  }),
});

/**
 * Replicate's files API (`/files`): create (multipart, in a scope of its own so that only this
 * route parses multipart bodies), get, list, delete; every file scoped to the caller's tenant.
 */
export function filesRoutes(app: GatewayApp, deps: RouteDeps): void {
  void app.register(async (scope) => {
    await scope.register(fastifyMultipart, { limits: FILE_MULTIPART_LIMITS });
    createFileRoute(scope, deps);
  });

  app.get(
    '/files/:id',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Get a file (Replicate API)',
        description: "One of the caller tenant's files; 404 for anyone else's.",
        security: [{ gatewayKey: [] }],
        params: FileIdParams,
        response: { 200: ReplicateFileSchema, ...replicateProblemResponses(401, 404) },
      },
    },
    async (request) => {
      const file = await findFile(deps.store, request.tenant, request.params.id);
      return toFileObject(file, surfaceBase(deps.config, request));
    },
  );

  app.get(
    '/files',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'List files (Replicate API)',
        description:
          "The caller tenant's files, newest first, 100 per page; `next` is an absolute URL.",
        security: [{ gatewayKey: [] }],
        querystring: z.object({
          cursor: z.string().regex(FILE_ID, 'Invalid cursor.').optional(),
        }),
        response: { 200: ReplicateFileListSchema, ...replicateProblemResponses(400, 401) },
      },
    },
    async (request) => {
      const base = surfaceBase(deps.config, request);
      const now = Date.now();
      const rows = await deps.store.listFiles(request.tenant, {
        limit: PAGE + 1,
        cursor: request.query.cursor,
      });
      const page = rows.slice(0, PAGE);
      const last = page.at(-1);
      return {
        previous: null,
        next: rows.length > PAGE && last ? `${base}/files?cursor=${last.id}` : null,
        results: page.filter((f) => f.expiresAt > now).map((f) => toFileObject(f, base)),
      };
    },
  );

  app.delete(
    '/files/:id',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Delete a file (Replicate API)',
        description:
          "Deletes one of the caller tenant's files: 204, then 404. Links already handed to an upstream for a prediction expire on their own.",
        security: [{ gatewayKey: [] }],
        params: FileIdParams,
        response: {
          204: z.null().describe('Deleted'),
          ...replicateProblemResponses(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const file = await findFile(deps.store, request.tenant, request.params.id);
      await deps.store.deleteFile(file.id);
      return reply.code(204).send(null);
    },
  );
}
