import { ReplicateProblemSchema } from '../../contracts/replicate.js';
import { toGatewayError } from '../problem.js';
import type { Surface } from '../surface.js';
import { renderReplicateProblem, replicateProblemResponses } from './errors.js';
import { SURFACE_PREFIX } from './prediction.js';

/**
 * `/replicate/v1` as a surface: Replicate's problem shape, Replicate's own 401 wording (so
 * clients that match on it keep working) and no `www-authenticate` challenge, as Replicate.
 */
export const REPLICATE_SURFACE: Surface<typeof ReplicateProblemSchema> = {
  prefix: SURFACE_PREFIX,
  toError: toGatewayError,
  render: renderReplicateProblem,
  authMessages: {
    missing: 'You did not pass an authentication token',
    invalid: 'You did not pass a valid authentication token',
  },
  errorDocs: { schema: ReplicateProblemSchema, mediaType: 'application/problem+json' },
  errorResponses: replicateProblemResponses,
  tag: {
    name: 'replicate-compatible',
    description:
      'Replicate\'s predictions API at `/replicate/v1`, for existing Replicate clients (the official `replicate` npm client with `baseUrl: "<genway>/replicate/v1"` and a gateway key as `auth`, sent as `Bearer` or `Token`). Each prediction is a genway task of the replicate provider; errors use Replicate\'s `{title, detail, status}` shape.',
  },
};
