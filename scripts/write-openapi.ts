import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument, serializeOpenApi } from '../src/app/openapi-document.js';

// Regenerates openapi/openapi.json from the zod schemas (the same document /openapi.json serves).
const target = new URL('../openapi/openapi.json', import.meta.url);
writeFileSync(target, serializeOpenApi(await buildOpenApiDocument()));
process.stdout.write(`wrote ${target.pathname}\n`);
