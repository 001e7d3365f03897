import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument, serializeOpenApi } from '../../src/app/openapi-document.js';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('OpenAPI document', () => {
  let doc: Json;
  let t: TestApp;
  beforeAll(async () => {
    doc = (await buildOpenApiDocument()) as Json;
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('matches the committed openapi/openapi.json (run `npm run openapi` after changing the API)', () => {
    const committed = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
    expect(committed).toBe(serializeOpenApi(doc));
  });

  it('is what the app serves at /openapi.json', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(doc);
  });

  it('serves Swagger UI at /docs from local assets only', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('swagger-ui');
    // Every script and stylesheet is served by genway itself, none from a CDN.
    const external = [...res.body.matchAll(/(?:src|href)="(https?:[^"]+)"/g)].map((m) => m[1]);
    expect(external).toEqual([]);
  });

  it('documents problem+json errors on every /v1 operation and guards them with the gateway key', () => {
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, op] of Object.entries(item as Json)) {
        const errors = Object.entries(op.responses as Json).filter(([s]) => Number(s) >= 400);
        expect(errors.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const [status, res] of errors) {
          expect(Object.keys(res.content), `${method} ${path} ${status}`).toEqual([
            'application/problem+json',
          ]);
        }
        expect(op.security, `${method} ${path}`).toEqual([{ gatewayKey: [] }]);
      }
    }
  });

  it('gives every request body an example', () => {
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        if (!op.requestBody) continue;
        const media =
          op.requestBody.content['application/json'] ?? Object.values(op.requestBody.content)[0];
        expect(media.example ?? media.examples, `${method} ${path}`).toBeDefined();
      }
    }
  });
});
