import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ProblemSchema } from '../contracts/common.js';
import { OPENAI_TAG } from './openai/index.js';

type OpenApiDoc = ReturnType<typeof jsonSchemaTransformObject>;

/** Documented error answers of a route: the problem+json body under each status. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, ProblemSchema.describe(problemDescriptions[s] ?? 'Error')]),
  );
}

const problemDescriptions: Record<number, string> = {
  400: 'Invalid request: `errors` lists every bad field',
  401: 'Missing or invalid gateway key',
  404: 'No such resource for this tenant',
  409: 'Conflict with the current state',
  410: 'Gone upstream',
  413: 'Body too large',
  415: 'Unsupported content type',
  416: 'The byte range is outside the file',
  422: 'Refused by the provider or reused Idempotency-Key',
  429: "Rate limited (`rate_limited`: this gateway key's requests per window, see the `x-ratelimit-*` headers) or every credential of the provider busy (`upstream_rate_limited`); see Retry-After",
  500: 'Unexpected error',
  502: 'The provider failed or refused the gateway credentials',
  503: 'Not ready / provider unreachable',
  504: 'The provider did not answer in time',
};

type Json = Record<string, unknown>;
const asJson = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});

/**
 * Polishes the generated document: error bodies are problem+json, request bodies carry their
 * schema's first example (so "Try it out" is pre-filled), and generator noise is dropped
 * ($schema/$id inside components, components no operation uses).
 */
function polish(doc: OpenApiDoc): OpenApiDoc {
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
        if (ref.endsWith('/Problem') || ref.endsWith('/ReplicateProblem')) {
          asJson(res).content = { 'application/problem+json': json };
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

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: [{ url: '/', description: 'This gateway' }],
      tags: [
        { name: 'generate', description: 'Create generation tasks' },
        { name: 'tasks', description: 'Read and follow tasks' },
        { name: 'models', description: 'Models and their enforced limits' },
        { name: 'operations', description: 'Health, readiness and metrics' },
        { name: 'media', description: 'Files genway publishes for providers that only take URLs' },
        {
          name: 'replicate-compatible',
          description:
            'Replicate\'s predictions API at `/replicate/v1`, for existing Replicate clients (the official `replicate` npm client with `baseUrl: "<genway>/replicate/v1"` and a gateway key as `auth`, sent as `Bearer` or `Token`). Each prediction is a genway task of the replicate provider; errors use Replicate\'s `{title, detail, status}` shape.',
        },
        OPENAI_TAG,
      ],
      components: {
        securitySchemes: {
          gatewayKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'A gateway key (GATEWAY_API_KEYS)',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => polish(jsonSchemaTransformObject(input)),
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, persistAuthorization: false, deepLinking: true },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
