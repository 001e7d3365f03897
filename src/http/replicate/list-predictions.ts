import { outputLinks } from '../output-links.js';
import { z } from 'zod';
import { ReplicatePredictionListSchema } from '../../contracts/replicate.js';
import type { TaskRecord } from '../../domain/task-record.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { replicateProblemResponses } from './errors.js';
import { REPLICATE_PROVIDER, surfaceBase, renderPrediction } from './prediction.js';

/** Tasks read from the store per batch while filling a page with replicate tasks. */
const BATCH = 200;
/**
 * At most this many batches per page (1,000 rows read, whatever the store): a page may come
 * back short, `next` goes on from there.
 */
export const MAX_BATCHES = 5;

const isoDate = z
  .string()
  .max(64)
  .refine((v) => !Number.isNaN(Date.parse(v)), 'not an ISO 8601 date-time');

export function listPredictionsRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/predictions',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'List predictions (Replicate API)',
        description:
          "The caller's predictions (tasks of the replicate provider, whichever surface created them), newest first. `next` is an absolute URL (built from PUBLIC_URL, else the request's host) that the official client's `paginate()` follows; `previous` is always null.",
        security: [{ gatewayKey: [] }],
        querystring: z.object({
          cursor: z
            .string()
            .regex(/^task_[0-9A-Z]{26}$/, 'Invalid cursor.')
            .optional()
            .meta({ description: 'Taken from a `next` URL' }),
          page_size: z.coerce.number().int().min(1).max(100).optional().meta({
            description: 'genway extension: results per page (default 100, like Replicate)',
          }),
          created_after: isoDate.optional(),
          created_before: isoDate.optional(),
        }),
        response: {
          200: ReplicatePredictionListSchema,
          ...replicateProblemResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { cursor, page_size: pageSize = 100, created_after, created_before } = request.query;
      const after = created_after === undefined ? -Infinity : Date.parse(created_after);
      const before = created_before === undefined ? Infinity : Date.parse(created_before);
      const page: TaskRecord[] = [];
      let scanned = cursor;
      let more = false;
      for (let batch = 0; batch < MAX_BATCHES; batch++) {
        const rows = await deps.tasks.list(request.tenant, { limit: BATCH, cursor: scanned });
        let olderThanRange = false;
        for (const task of rows) {
          if (task.createdAt <= after) {
            olderThanRange = true;
            break;
          }
          scanned = task.id;
          if (task.provider !== REPLICATE_PROVIDER || task.createdAt >= before) continue;
          if (page.length === pageSize) {
            more = true;
            break;
          }
          page.push(task);
        }
        if (more || olderThanRange || rows.length < BATCH) break;
        // Scan cap reached with more rows left: let `next` resume after the last one read.
        if (batch === MAX_BATCHES - 1) more = true;
      }
      const base = surfaceBase(deps.config, request);
      let next: string | null = null;
      const resumeAt = page.length === pageSize ? page.at(-1)?.id : scanned;
      if (more && resumeAt) {
        const url = new URL(`${base}/predictions`);
        url.searchParams.set('cursor', resumeAt);
        if (request.query.page_size !== undefined)
          url.searchParams.set('page_size', String(pageSize));
        if (created_after !== undefined) url.searchParams.set('created_after', created_after);
        if (created_before !== undefined) url.searchParams.set('created_before', created_before);
        next = url.toString();
      }
      return {
        previous: null,
        next,
        results: page.map((t) =>
          renderPrediction(deps.models, t, base, { links: outputLinks(deps, request) }),
        ),
      };
    },
  );
}
