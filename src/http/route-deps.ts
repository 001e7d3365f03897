import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config/config.js';
import type { ModelRegistry } from '../domain/models.js';
import type { TaskService } from '../domain/task-service.js';
import type { TaskStore } from '../store/task-store.js';

/** What route files receive: the domain services, never adapters or the HTTP client. */
export interface RouteDeps {
  config: Config;
  tasks: TaskService;
  models: ModelRegistry;
  store: TaskStore;
}

export type GatewayApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
