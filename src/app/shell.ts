import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import pino, { type DestinationStream } from 'pino';
import type { Config } from '../config/config.js';
import { secretsOf } from '../config/load.js';
import type { ProviderModule } from '../providers/provider-module.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, tooDeeplyNested } from '../http/json-depth.js';
import { NORMALIZED_SURFACE } from '../http/problem.js';
import { serializeJson } from '../http/serialized.js';
import type { GatewayApp } from '../http/route-deps.js';
import {
  registerSurfaceErrors,
  sendSurfaceError,
  surfaceAt,
  type Surface,
} from '../http/surface.js';
import { loggerOptions, requestLoggerFactory, scrubbingDestination } from '../logging.js';
import type { GatewayMetrics } from '../observability/metrics.js';

export interface ShellOptions {
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
  metrics: GatewayMetrics;
  /** The API surfaces: router-level errors under a surface's prefix answer in its shape. */
  surfaces: readonly Surface[];
  /** The provider modules: their secrets are scrubbed from every log line. */
  registry: readonly ProviderModule[];
}

/**
 * Request ids: a random prefix per process (instances of a cluster differ) and a counter.
 * They correlate log lines and answers; nothing depends on their being unguessable, so a
 * request draws no random bytes.
 */
const REQUEST_ID_PREFIX = `req_${randomBytes(6).toString('hex')}`;
let requestCount = 0;
const nextRequestId = () => `${REQUEST_ID_PREFIX}${(++requestCount).toString(36)}`;

/**
 * The Fastify instance with everything that is not a route: server options, the scrubbing
 * logger, body parsers, the app-wide error and not-found answers (problem+json), the request
 * id and the one log line per request. Knows no store, provider or task.
 */
export function createShell(
  config: Config,
  { logStream, metrics, surfaces, registry }: ShellOptions,
) {
  const root = pino(
    loggerOptions(config.logLevel),
    scrubbingDestination(secretsOf(config, registry), logStream),
  );
  // The level is set once: below info, nothing of the request line is built.
  const logsRequests = root.isLevelEnabled('info');
  const logger: FastifyBaseLogger = root;
  const app: GatewayApp = Fastify({
    loggerInstance: logger,
    bodyLimit: config.limits.bodyLimitBytes,
    // A body trickled in a byte a second is cut off: the whole request must arrive in time,
    // checked every second or so (Node checks every 30 s unless told otherwise).
    requestTimeout: config.limits.requestTimeoutMs,
    connectionTimeout: config.limits.connectionTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, config.limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, config.limits.requestTimeoutMs / 2),
    },
    genReqId: nextRequestId,
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLoggerFactory,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    // Router-level errors (undecodable URL, over-long path parameter) skip the error handler
    // and the hooks: answer them in the shape of the surface the URL is under, with the
    // request id (problem+json outside every surface).
    frameworkErrors: (error, request, reply) => {
      // The onResponse hook never sees these: counted here, as route "unmatched".
      reply.raw.once('finish', () =>
        metrics.httpRequest(undefined, request.method, reply.statusCode, reply.elapsedTime / 1000),
      );
      const surface = surfaceAt(surfaces, request.url) ?? NORMALIZED_SURFACE;
      return sendSurfaceError(
        reply.header('x-request-id', request.id),
        surface,
        surface.toError(error),
      );
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Responses are built from typed domain objects; plain JSON.stringify keeps reads fast (and
  // a hot task's rendering is serialized once, see http/serialized.ts).
  app.setSerializerCompiler(() => serializeJson);
  registerSurfaceErrors(app, NORMALIZED_SURFACE, { notFound: true });
  registerJsonParser(app);

  // Answers finished while shutting down close their connection, so a keep-alive client
  // cannot hold the process open after its in-flight request was served.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks (not async): no promise per request.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    // A getter that builds a new object on every read: read once. No url: no route matched.
    const route = request.routeOptions;
    metrics.httpRequest(route.url, request.method, reply.statusCode, reply.elapsedTime / 1000);
    if (!logsRequests) return done();
    // The root logger with the id in the line: the same line without building the request's
    // child logger (lazy, see logging.ts) just to write it.
    root.info(
      {
        reqId: request.id,
        method: request.method,
        url: route.config?.logRouteOnly ? route.url : request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
    done();
  });
  return app;
}

/**
 * JSON parser that accepts an empty body (clients send `content-type: application/json`
 * with nothing on cancel) and keeps Fastify's prototype-poisoning protection.
 */
function registerJsonParser(app: GatewayApp): void {
  const defaultParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Only JSON bodies: Fastify's default text/plain parser would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === ''))
      return done(null, undefined);
    defaultParser(request, body as string, (err, parsed) => {
      if (err) return done(err);
      if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) return done(tooDeeplyNested());
      done(null, parsed);
    });
  });
}
