import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { GatewayKeys } from './auth.js';
import type { GatewayApp, RouteDeps } from './route-deps.js';
import {
  documentedErrors,
  registerSurface,
  registerSurfaceErrors,
  surfaceAt,
  type Surface,
} from './surface.js';

const KEY = 'gw_unit_key_0123456789abcdef';
const keys = new GatewayKeys([{ id: 'tenant-a', keys: [KEY] }]);
const deps = {} as RouteDeps;

const ErrorSchema = z.object({ oops: z.string() });
/** A made-up dialect: `{oops}` as text/x-oops, with a header of its own. */
const dialect = (prefix: string, challenge?: string): Surface<typeof ErrorSchema> => ({
  prefix,
  toError: (e) => (e instanceof GatewayError ? e : new GatewayError('internal', 'hidden')),
  render: (reply, err) =>
    reply
      .code(err.status)
      .header('x-dialect', prefix)
      .type('text/x-oops')
      .send(JSON.stringify({ oops: `${err.code}: ${err.message}` })),
  challenge,
  authMessages: { missing: 'no key at all', invalid: 'that key is wrong' },
  errorDocs: { schema: ErrorSchema, mediaType: 'text/x-oops' },
  errorResponses: documentedErrors(ErrorSchema, { 404: 'Nothing here' }),
});

let app: GatewayApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function appWith(...surfaces: { surface: Surface; mounted: boolean }[]) {
  app = Fastify().withTypeProvider<ZodTypeProvider>();
  registerSurfaceErrors(app, dialect('/root'), { notFound: true });
  for (const { surface, mounted } of surfaces) {
    const routes = [
      (scope: GatewayApp) => {
        scope.get(mounted ? '/who' : `${surface.prefix}/who`, async (request) => request.tenant);
        scope.get(mounted ? '/busy' : `${surface.prefix}/busy`, async () => {
          throw new GatewayError('rate_limited', 'slow down', { retryAfterMs: 1500 });
        });
      },
    ];
    await registerSurface(app, { surface, mounted, routes }, deps, keys);
  }
  return app;
}

describe('registerSurface', () => {
  it("checks the key with the surface's own wording and challenge", async () => {
    const a = await appWith({ surface: dialect('/a', 'Bearer'), mounted: true });
    const none = await a.inject({ url: '/a/who' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.headers['x-dialect']).toBe('/a');
    expect(none.json()).toEqual({ oops: 'unauthorized: no key at all' });
    const wrong = await a.inject({ url: '/a/who', headers: { authorization: 'Bearer nope' } });
    expect(wrong.json()).toEqual({ oops: 'unauthorized: that key is wrong' });
    const ok = await a.inject({ url: '/a/who', headers: { authorization: `Token ${KEY}` } });
    expect(ok.body).toBe('tenant-a');
  });

  it('sends no challenge for a dialect without one, and retry-after for any', async () => {
    const a = await appWith({ surface: dialect('/b'), mounted: true });
    expect((await a.inject({ url: '/b/who' })).headers['www-authenticate']).toBeUndefined();
    const busy = await a.inject({ url: '/b/busy', headers: { authorization: `Bearer ${KEY}` } });
    expect(busy.statusCode).toBe(429);
    expect(busy.headers['retry-after']).toBe('2');
    expect(busy.headers['content-type']).toBe('text/x-oops');
  });

  it('a mounted surface answers its unknown paths itself; an unmounted one leaves them to the app', async () => {
    const a = await appWith(
      { surface: dialect('/in'), mounted: true },
      { surface: dialect('/out'), mounted: false },
    );
    const inside = await a.inject({ url: '/in/nope', headers: { authorization: `Bearer ${KEY}` } });
    expect(inside.statusCode).toBe(404);
    expect(inside.headers['x-dialect']).toBe('/in');
    // Unmounted: the app's 404, without a key check.
    const outside = await a.inject({ url: '/out/nope' });
    expect(outside.statusCode).toBe(404);
    expect(outside.headers['x-dialect']).toBe('/root');
    // Its routes still speak its dialect.
    expect((await a.inject({ url: '/out/who' })).headers['x-dialect']).toBe('/out');
  });
});

describe('surfaceAt', () => {
  const surfaces = [dialect('/v1'), dialect('/compat/v1')];
  it('finds the surface a URL or route pattern is under, by whole path segments', () => {
    expect(surfaceAt(surfaces, '/v1/tasks/:id')?.prefix).toBe('/v1');
    expect(surfaceAt(surfaces, '/compat/v1/things?x=1')?.prefix).toBe('/compat/v1');
    expect(surfaceAt(surfaces, '/v10/tasks')).toBeUndefined();
    expect(surfaceAt(surfaces, '/healthz')).toBeUndefined();
  });
});

describe('documentedErrors', () => {
  it("describes each status in the surface's words, 'Error' where it has none", () => {
    const docs = documentedErrors(ErrorSchema, { 404: 'Nothing here' })(404, 500);
    expect(Object.keys(docs)).toEqual(['404', '500']);
    expect(docs['404']?.description).toBe('Nothing here');
    expect(docs['500']?.description).toBe('Error');
  });
});
