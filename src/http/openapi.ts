import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ProblemSchema } from '../contracts/common.js';

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
  422: 'Refused by the provider or reused Idempotency-Key',
  429: 'Rate limited; see Retry-After',
  500: 'Unexpected error',
  502: 'The provider failed or refused the gateway credentials',
  503: 'Not ready / provider unreachable',
  504: 'The provider did not answer in time',
};

/** Error answers are problem+json: rename the media type wherever the body is a Problem. */
function problemMediaType(doc: OpenApiDoc): OpenApiDoc {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item ?? {})) {
      const responses = (
        op as {
          responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
        }
      ).responses;
      for (const res of Object.values(responses ?? {})) {
        const json = res.content?.['application/json'];
        if (json?.schema?.$ref?.endsWith('/Problem')) {
          res.content = { 'application/problem+json': json };
        }
      }
    }
  }
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
        { name: 'operations', description: 'Health and readiness' },
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
    transformObject: (input) => problemMediaType(jsonSchemaTransformObject(input)),
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, persistAuthorization: false, deepLinking: true },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
