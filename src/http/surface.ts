import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import type { GatewayKeys, Identity } from './auth.js';
import type { GatewayApp, RouteDeps } from './route-deps.js';

/**
 * What sets one API surface (`/v1`, `/replicate/v1`, `/openai/v1`) apart from the others: where
 * it lives, how it speaks errors and how it documents them. Everything else (the key check,
 * `retry-after`, the error and not-found handlers) is done once, in this module, for all.
 */
export interface Surface<S extends z.ZodType = z.ZodType> {
  /** Where its routes live: router errors and rate-limit answers find the surface by it. */
  readonly prefix: string;
  /** Any thrown value as a GatewayError (a surface may know more errors than the shared map). */
  toError(error: unknown): GatewayError;
  /**
   * Writes an error in the surface's own shape: status, content type, body and any header of
   * its dialect. `retry-after` and the `www-authenticate` challenge are already set.
   */
  render(reply: FastifyReply, err: GatewayError): FastifyReply;
  /** `www-authenticate` value on a 401, for dialects that send one. */
  readonly challenge?: string;
  /** The 401 messages for a request without a key and for one with a key that is not valid. */
  readonly authMessages: { readonly missing: string; readonly invalid: string };
  /** The error body schema and its media type, as the OpenAPI document shows them. */
  readonly errorDocs: { readonly schema: S; readonly mediaType: string };
  /** The OpenAPI tag of its routes, for a surface whose routes are grouped under one. */
  readonly tag?: { readonly name: string; readonly description: string };
  /** Documented error answers of one of its routes (OpenAPI), one per status. */
  errorResponses(...statuses: number[]): { [status: string]: S };
}

/**
 * The `errorResponses` of a surface: its error schema under each status, described by the
 * surface's own words for that status ('Error' where it has none).
 */
export function documentedErrors<S extends z.ZodType>(
  schema: S,
  descriptions: Readonly<Record<number, string>>,
): (...statuses: number[]) => { [status: string]: S } {
  return (...statuses) =>
    Object.fromEntries(statuses.map((s) => [s, schema.describe(descriptions[s] ?? 'Error')]));
}

/** What a create (task, prediction, image or video) may answer on any surface, besides success. */
export const CREATE_FAILURES = [
  400, 401, 402, 403, 409, 413, 415, 422, 429, 502, 503, 504,
] as const;

/** Answers `err` in the surface's shape, with the headers every surface sends alike. */
export function sendSurfaceError(
  reply: FastifyReply,
  surface: Surface,
  err: GatewayError,
): FastifyReply {
  if (err.retryAfterMs !== undefined) {
    reply.header('retry-after', Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  }
  if (err.code === 'unauthorized' && surface.challenge) {
    reply.header('www-authenticate', surface.challenge);
  }
  return surface.render(reply, err);
}

/** The surface whose routes `url` (a request URL or a route pattern) is under, if any. */
export function surfaceAt<T extends Surface>(surfaces: readonly T[], url: string): T | undefined {
  return surfaces.find((s) => url.startsWith(`${s.prefix}/`));
}

/** Error and not-found handlers answering in the surface's shape (on a scope or the root). */
export function registerSurfaceErrors(
  app: GatewayApp,
  surface: Surface,
  { notFound }: { notFound: boolean },
): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const err = surface.toError(error);
    if (err.status >= 500) request.log.error({ err: error, code: err.code }, 'request failed');
    return sendSurfaceError(reply, surface, err);
  });
  if (!notFound) return;
  app.setNotFoundHandler((request, reply) =>
    sendSurfaceError(
      reply,
      surface,
      new GatewayError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}

export type RouteRegistrar = (app: GatewayApp, deps: RouteDeps) => void;

/** A surface with its routes, as the app registers it. */
export interface SurfaceRoutes {
  readonly surface: Surface;
  /**
   * true: the scope is mounted at the prefix, route paths are relative to it, and unknown
   * paths under it answer 404 in the surface's shape (after the key check, like its routes).
   * false: route paths spell the prefix and unknown paths fall to the app's own 404.
   */
  readonly mounted: boolean;
  /**
   * Plugins its `routes` need (e.g. another body parser), registered with them in a scope
   * nested after the key check.
   */
  setup?(scope: GatewayApp): Promise<void>;
  readonly routes: readonly RouteRegistrar[];
  /**
   * GET routes (Fastify reads no body for them): registered outside `setup`'s scope, so the
   * per-request hooks of its plugins (@fastify/multipart adds two async ones) skip the reads.
   */
  readonly reads?: readonly RouteRegistrar[];
}

/**
 * Registers a surface in a scope of its own: its error handlers, a gateway key check on every
 * request (the key's tenant becomes `request.tenant`), then its routes.
 */
export async function registerSurface(
  app: GatewayApp,
  { surface, mounted, setup, routes, reads = [] }: SurfaceRoutes,
  deps: RouteDeps,
  keys: GatewayKeys,
): Promise<void> {
  await app.register(
    async (scope) => {
      registerSurfaceErrors(scope, surface, { notFound: mounted });
      if (!scope.hasRequestDecorator('tenant')) scope.decorateRequest('tenant', '');
      if (!scope.hasRequestDecorator('caller'))
        scope.decorateRequest('caller', null as unknown as FastifyRequest['caller']);
      const admit = (request: FastifyRequest, identity: Identity, header?: string) => {
        if ('rejected' in identity) {
          const { missing, invalid } = surface.authMessages;
          const expired = identity.rejected === 'expired' ? 'This gateway key has expired' : '';
          throw new GatewayError('unauthorized', expired || (header ? invalid : missing));
        }
        request.tenant = identity.tenant;
        request.caller = identity.caller;
      };
      // A callback hook: a configured key is known at once, without a promise; keys created
      // through the admin API are looked up in the store.
      scope.addHook('onRequest', (request, _reply, done) => {
        const header = request.headers.authorization;
        const configured = keys.configuredIdentity(header);
        if (configured) {
          admit(request, configured);
          return done();
        }
        keys.identifyCreated(header).then((identity) => {
          try {
            admit(request, identity, header);
          } catch (error) {
            return done(error as Error);
          }
          done();
        }, done);
      });
      if (setup) {
        await scope.register(async (withBodies) => {
          await setup(withBodies);
          for (const route of routes) route(withBodies, deps);
        });
      } else {
        for (const route of routes) route(scope, deps);
      }
      for (const route of reads) route(scope, deps);
    },
    mounted ? { prefix: surface.prefix } : {},
  );
}
