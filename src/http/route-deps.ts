import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config/config.js';
import type { CredentialPool } from '../domain/credential-pool.js';
import type { MediaHost } from '../domain/media-host.js';
import type { MediaLinkSigner } from '../domain/media-links.js';
import type { ModelRegistry } from '../domain/models.js';
import type { OutputService } from '../domain/output-service.js';
import type { TaskService } from '../domain/task-service.js';
import type { TaskStore } from '../domain/task-store.js';
import type { HeldRequests } from './held-requests.js';

/** What route files receive: the domain services, never adapters or the HTTP client. */
export interface RouteDeps {
  config: Config;
  tasks: TaskService;
  models: ModelRegistry;
  store: TaskStore;
  /** Output files of tasks, streamed from the providers. */
  outputs: OutputService;
  /** Files published under PUBLIC_URL for providers that only take URLs. */
  media: MediaHost;
  /** Signs links to stored outputs; absent when media storage is off (MEDIA_STORE_URL=none). */
  mediaLinks?: MediaLinkSigner;
  /** Places for requests held open (SSE, long-polls, `Prefer: wait`), per tenant and in all. */
  held: HeldRequests;
  /** Each provider's credentials (state, load), for /readyz and the admin view. */
  pools?: ReadonlyMap<string, CredentialPool>;
}

export type GatewayApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
