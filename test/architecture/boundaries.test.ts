import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering rules of architecture §4 and issue 10, checked by reading the sources.
const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = sourcesUnder(srcDir).map((path) => ({
  path: relative(srcDir, path).replaceAll('\\', '/'),
  text: readFileSync(path, 'utf8'),
}));

/** Module specifiers of every import/export ... from, and dynamic import, in a file. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

/** The src/-relative folder an import of `file` resolves to ('' for packages). */
function resolvedUnderSrc(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return '';
  const base = file.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '..') base.pop();
    else if (part !== '.') base.push(part);
  }
  return base.join('/');
}

const PROVIDER_IDS = ['modelslab', 'replicate', 'pixverse', 'haiper'];

describe('source layout', () => {
  it('keeps every source file outside the emulators under about 400 lines', () => {
    const long = files
      .filter((f) => !f.path.startsWith('emulators/'))
      .map((f) => ({ path: f.path, lines: f.text.split('\n').length }))
      .filter((f) => f.lines > 420);
    expect(long).toEqual([]);
  });

  it('keeps the domain free of HTTP, stores, config, concrete providers, fastify and undici', () => {
    const leaks = files
      .filter((f) => f.path.startsWith('domain/'))
      .flatMap((f) =>
        importsOf(f.text)
          .filter((spec) => {
            if (/^(fastify|undici|@fastify\/)/.test(spec)) return true;
            const target = resolvedUnderSrc(f.path, spec);
            return (
              /^(http|store|config|app)(\/|\.js$|$)/.test(target) || /^providers\//.test(target)
            );
          })
          .map((spec) => `${f.path} imports ${spec}`),
      );
    expect(leaks).toEqual([]);
  });

  it('lets the stores import only the domain (and their own files)', () => {
    const leaks = files
      .filter((f) => f.path.startsWith('store/'))
      .flatMap((f) =>
        importsOf(f.text)
          .filter((spec) => spec.startsWith('.'))
          .filter(
            (spec) => !/^(domain|store|contracts|errors)\//.test(resolvedUnderSrc(f.path, spec)),
          )
          .map((spec) => `${f.path} imports ${spec}`),
      );
    expect(leaks).toEqual([]);
  });

  it('names the providers only in their own folders, the registry and the compatible surfaces', () => {
    // Public documentation that names real models and providers on purpose: the public schemas
    // (contracts/, whose OpenAPI examples use real model ids; they import nothing of ours, so
    // hold no logic), route descriptions, and the list of surfaces, which names the
    // Replicate-compatible one. A provider rule in any of these would be a leak.
    const documentation = new Set([
      'http/openapi.ts',
      'http/routes/media/get-media.ts',
      'http/routes/v1/cancel-task.ts',
      'http/routes/v1/get-webhook-secret.ts',
      'http/routes/v1/image-to-video.ts',
      'http/surface.ts',
      'http/surfaces.ts',
    ]);
    const allowed = (path: string) =>
      PROVIDER_IDS.some(
        (id) => path.startsWith(`providers/${id}/`) || path.startsWith(`emulators/${id}/`),
      ) ||
      path === 'providers/registry.ts' ||
      documentation.has(path) ||
      path.startsWith('contracts/') ||
      /^http\/(replicate|openai)[/.]/.test(path);
    const pattern = new RegExp(`\\b(${PROVIDER_IDS.join('|')})\\b`, 'i');
    const named = files.filter((f) => !allowed(f.path) && pattern.test(f.text)).map((f) => f.path);
    expect(named).toEqual([]);
  });
});
