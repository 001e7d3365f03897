import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayApp } from './route-deps.js';
import type { Surface } from './surface.js';

type OpenApiDoc = ReturnType<typeof jsonSchemaTransformObject>;

type Json = Record<string, unknown>;
const asJson = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});

/**
 * Polishes the generated document: error bodies are listed under their surface's media type
 * (`errorMediaTypes`: component name → media type), request bodies carry their schema's first
 * example (so "Try it out" is pre-filled), and generator noise is dropped ($schema/$id inside
 * components, components no operation uses).
 */
function polish(doc: OpenApiDoc, errorMediaTypes: ReadonlyMap<string, string>): OpenApiDoc {
  const schemas = asJson(asJson(asJson(doc).components).schemas);
  for (const schema of Object.values(schemas)) {
    delete asJson(schema).$schema;
    delete asJson(schema).$id;
  }
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(asJson(item))) {
      const operation = asJson(op);
      for (const media of Object.values(asJson(asJson(operation.requestBody).content))) {
        const ref = asJson(asJson(media).schema).$ref;
        const examples =
          typeof ref === 'string'
            ? asJson(schemas[ref.split('/').pop() ?? '']).examples
            : undefined;
        if (Array.isArray(examples) && examples.length > 0) asJson(media).example = examples[0];
      }
      for (const res of Object.values(asJson(operation.responses))) {
        const content = asJson(asJson(res).content);
        const json = asJson(content['application/json']);
        const ref = String(asJson(json.schema).$ref ?? '');
        const mediaType = errorMediaTypes.get(ref.split('/').pop() ?? '');
        if (mediaType && mediaType !== 'application/json') {
          asJson(res).content = { [mediaType]: json };
        }
      }
    }
  }
  // Drop components nothing refers to (zod emits input and output variants of each).
  const text = JSON.stringify(doc.paths);
  const used = new Set<string>();
  const visit = (name: string) => {
    if (used.has(name) || !schemas[name]) return;
    used.add(name);
    for (const m of JSON.stringify(schemas[name]).matchAll(
      /#\/components\/schemas\/([A-Za-z0-9_]+)/g,
    ))
      visit(m[1]!);
  };
  for (const m of text.matchAll(/#\/components\/schemas\/([A-Za-z0-9_]+)/g)) visit(m[1]!);
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  return doc;
}

export const OPENAPI_INFO = {
  title: 'genway',
  version: '0.1.0',
  description:
    'One normalized REST surface for ModelsLab, Replicate, PixVerse and Haiper (Cloudsway). ' +
    'Every generation becomes a task: create it, then read it (`?wait=N` long-polls).',
};

/** Component name of each surface's error schema → the media type its errors are sent as. */
function errorMediaTypesOf(surfaces: readonly Surface[]): Map<string, string> {
  const types = new Map<string, string>();
  for (const { errorDocs } of surfaces) {
    const id = z.globalRegistry.get(errorDocs.schema)?.id;
    if (id) types.set(id, errorDocs.mediaType);
  }
  return types;
}

/** /openapi.json and /docs; each surface adds its tag (if any) and its error media type. */
export async function registerOpenApi(
  app: GatewayApp,
  surfaces: readonly Surface[],
): Promise<void> {
  const errorMediaTypes = errorMediaTypesOf(surfaces);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: [{ url: '/', description: 'This gateway' }],
      tags: [
        { name: 'generate', description: 'Create generation tasks' },
        { name: 'tasks', description: 'Read and follow tasks' },
        { name: 'models', description: 'Models and their enforced limits' },
        { name: 'webhooks', description: 'Verifying the webhooks genway sends' },
        { name: 'operations', description: 'Health, readiness and metrics' },
        { name: 'media', description: 'Files genway publishes for providers that only take URLs' },
        ...surfaces.flatMap((s) => (s.tag ? [s.tag] : [])),
        {
          name: 'Admin',
          description:
            "The operator's API (Bearer ADMIN_TOKEN; answers 404 when ADMIN_TOKEN is not set): tenants, their budgets and gateway keys, and usage over all tenants",
        },
      ],
      components: {
        securitySchemes: {
          gatewayKey: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A gateway key (GATEWAY_API_KEYS, the configuration file or the admin API)',
          },
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: "The operator's ADMIN_TOKEN (admin routes only; never a gateway key)",
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => polish(jsonSchemaTransformObject(input), errorMediaTypes),
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, persistAuthorization: false, deepLinking: true },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
