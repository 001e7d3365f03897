/**
 * fast-check arbitraries built from an OpenAPI 3.1 document: for each operation, requests with
 * valid, boundary and invalid values (wrong types, deep nesting, huge strings, odd Unicode),
 * unknown fields, broken bodies and bad headers. Nothing here knows genway's routes: the test
 * hands in the document and a few "hints" (known-good values such as model ids or task ids).
 */
import fc from 'fast-check';

export type Json = Record<string, unknown>;
export type JsonSchema = Json;

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}

export interface OpenApiMedia {
  schema?: JsonSchema;
}

export interface OpenApiOperation {
  operationId?: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content?: Record<string, OpenApiMedia> };
  responses?: Record<string, { content?: Record<string, OpenApiMedia> }>;
  security?: unknown[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Operation {
  method: string;
  /** The templated path, e.g. `/v1/tasks/{id}`. */
  path: string;
  /** `GET /v1/tasks/{id}`. */
  key: string;
  spec: OpenApiOperation;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, spec]) => ({
        method: method.toUpperCase(),
        path,
        key: `${method.toUpperCase()} ${path}`,
        spec,
      })),
  );
}

/** Follows local `$ref`s (`#/components/schemas/X`, or any JSON pointer into the document). */
export function deref(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema {
  let s: unknown = schema ?? {};
  for (let i = 0; i < 32 && isObject(s) && typeof s.$ref === 'string'; i++) {
    const ref: string = s.$ref;
    if (!ref.startsWith('#/')) return {};
    s = ref
      .slice(2)
      .split('/')
      .map((p) => decodeURIComponent(p).replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((node, part) => (isObject(node) ? node[part] : undefined), doc);
  }
  return isObject(s) ? s : {};
}

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Known-good values by field or parameter name (model ids, task ids, ...), from the test. */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

export interface GenContext {
  doc: OpenApiDocument;
  hints: Hints;
}

// ---------------------------------------------------------------------------------------------
// Odd values shared by every generator
// ---------------------------------------------------------------------------------------------

/** Strings that break naive code: lone surrogates, bidi overrides, zero-width, NUL, emoji, ... */
export const ODD_STRINGS: readonly string[] = [
  '\uD800',
  '\uDFFF',
  'a\uD83D',
  '\uDE00b',
  '\u202Egnp.exe\u202C',
  '\u200F\u05E9\u05DC\u05D5\u05DD \u0645\u0631\u062D\u0628\u0627',
  '\u200B\u200C\u200D\u2060\uFEFF',
  '\u0000',
  'nul\u0000inside',
  '\u0001\u0002\u001F\u007F',
  '👩‍👩‍👧‍👦🏳️‍🌈🇺🇳',
  `e${'\u0301'.repeat(200)}`,
  '\u2028\u2029',
  '\u0085\u00A0\u3000',
  '𝕳𝖊𝖑𝖑𝖔 ﷽',
  'İıßẞǅ',
  '\r\nX-Injected: 1',
  '../../../etc/passwd',
  '%00%2e%2e%2f',
  '%s%n%x',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '\\',
  '"',
  'NaN',
  'Infinity',
  '-0',
  '1e999',
  '0x1F',
  ' ',
  '',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'x/__proto__',
  '__proto__/constructor',
  'constructor/prototype',
];

/** Property names that target prototype handling or confuse case-insensitive code. */
export const ODD_KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  ' ',
  'key',
  'api_key',
  'MODEL',
  'model ',
  'prompt\u0000',
  '\uD800',
  'a.b',
  'a[0]',
  '$ref',
  '👀',
];

const ONE_MB = 1024 * 1024;
/** ~1 MB strings, built once: over and just under the 1 MiB body limit once in JSON. */
const HUGE_STRINGS: readonly string[] = [
  'x'.repeat(ONE_MB + 16),
  'y'.repeat(ONE_MB - 4096),
  'é'.repeat(ONE_MB / 2 - 2048),
  '😀'.repeat(ONE_MB / 4 - 1024),
  '\u0000'.repeat(ONE_MB / 8),
];

export const hugeString = (): fc.Arbitrary<string> => fc.constantFrom(...HUGE_STRINGS);

/** A value nested `depth` levels deep: `{"a":{"a":...}}`, `[[...]]`, or both alternating. */
export function nested(depth: number, shape: 'object' | 'array' | 'mixed'): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) {
    const asArray = shape === 'array' || (shape === 'mixed' && i % 2 === 1);
    v = asArray ? [v] : { a: v };
  }
  return v;
}

export const deeplyNested = (): fc.Arbitrary<unknown> =>
  fc
    .tuple(
      fc.oneof(
        // Under and over the app's depth cap, and far over it.
        fc.integer({ min: 20, max: 70 }),
        fc.integer({ min: 100, max: 400 }),
        fc.constantFrom(1000, 3000),
      ),
      fc.constantFrom('object' as const, 'array' as const, 'mixed' as const),
    )
    .map(([depth, shape]) => nested(depth, shape));

/** Random strings of every kind: ASCII, full Unicode (graphemes), raw UTF-16 units, odd ones. */
export function anyString(maxLength = 40): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.string({ maxLength }), weight: 3 },
    { arbitrary: fc.string({ maxLength, unit: 'grapheme' }), weight: 2 },
    { arbitrary: fc.string({ maxLength, unit: 'binary' }), weight: 1 },
    { arbitrary: fc.constantFrom(...ODD_STRINGS), weight: 2 },
  );
}

// ---------------------------------------------------------------------------------------------
// Values from a schema
// ---------------------------------------------------------------------------------------------

const numberOr = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);

function examplesOf(s: JsonSchema): unknown[] {
  const out: unknown[] = [];
  if ('example' in s) out.push(s.example);
  if (Array.isArray(s.examples)) out.push(...(s.examples as unknown[]));
  if ('default' in s) out.push(s.default);
  return out;
}

function stringBounds(s: JsonSchema) {
  return { min: numberOr(s.minLength, 0), max: numberOr(s.maxLength, Number.POSITIVE_INFINITY) };
}

function numberBounds(s: JsonSchema, integer: boolean) {
  const step = integer ? 1 : Number.EPSILON;
  const min =
    typeof s.exclusiveMinimum === 'number'
      ? s.exclusiveMinimum + step
      : numberOr(s.minimum, integer ? -(2 ** 31) : -1e9);
  const max =
    typeof s.exclusiveMaximum === 'number'
      ? s.exclusiveMaximum - step
      : numberOr(s.maximum, integer ? 2 ** 31 - 1 : 1e9);
  return {
    min: Math.max(min, Number.MIN_SAFE_INTEGER),
    max: Math.min(max, Number.MAX_SAFE_INTEGER),
  };
}

function typesOf(s: JsonSchema): string[] {
  if (Array.isArray(s.type)) return s.type as string[];
  if (typeof s.type === 'string') return [s.type];
  if (isObject(s.properties)) return ['object'];
  if (isObject(s.items)) return ['array'];
  return [];
}

function validString(s: JsonSchema): fc.Arbitrary<string> {
  const { min, max } = stringBounds(s);
  const fits = (v: string) => v.length >= min && v.length <= max;
  if (typeof s.pattern === 'string') {
    try {
      return fc.stringMatching(new RegExp(s.pattern)).filter(fits);
    } catch {
      // A pattern JS cannot compile: fall through to plain strings.
    }
  }
  if (s.format === 'uri') {
    return fc
      .oneof(
        fc.webUrl({ validSchemes: ['https'], withQueryParameters: true, withFragments: true }),
        fc.webUrl(),
      )
      .filter(fits);
  }
  if (s.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z') })
      .map((d) => d.toISOString());
  }
  const cap = Math.min(max, min + 40);
  return fc
    .oneof(
      fc.string({ minLength: min, maxLength: cap }),
      fc.string({ minLength: min, maxLength: cap, unit: 'grapheme' }),
      fc.lorem({ maxCount: 8 }),
    )
    .filter(fits);
}

function validNumber(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const { min, max } = numberBounds(s, integer);
  if (min > max) return fc.constant(min);
  const edges = fc.constantFrom(min, max);
  if (integer) {
    const mid = fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
    return fc.oneof({ arbitrary: mid, weight: 4 }, { arbitrary: edges, weight: 1 });
  }
  const real = fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  return fc.oneof({ arbitrary: real, weight: 4 }, { arbitrary: edges, weight: 1 });
}

/** Values the schema accepts (roughly: formats and patterns are followed where cheap). */
export function validValue(
  ctx: GenContext,
  schema: JsonSchema | undefined,
  name?: string,
  depth = 0,
): fc.Arbitrary<unknown> {
  const s = deref(ctx.doc, schema);
  const raw = rawValid(ctx, s, depth);
  const examples = examplesOf(s);
  const hint = name ? ctx.hints[name] : undefined;
  const options: fc.WeightedArbitrary<unknown>[] = [{ arbitrary: raw, weight: 3 }];
  if (examples.length > 0) options.push({ arbitrary: fc.constantFrom(...examples), weight: 1 });
  if (hint && hintFits(ctx, s, hint)) options.push({ arbitrary: hint, weight: 12 });
  return options.length === 1 ? raw : fc.oneof(...options);
}

/** JSON types a schema allows (`integer` as `number`); empty: anything. */
function allowedTypes(ctx: GenContext, s: JsonSchema): Set<string> {
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives)) {
    const sets = alternatives.map((a) => allowedTypes(ctx, deref(ctx.doc, a)));
    return sets.some((x) => x.size === 0) ? new Set() : new Set(sets.flatMap((x) => [...x]));
  }
  return new Set(typesOf(s).map((t) => (t === 'integer' ? 'number' : t)));
}

const jsonTypeOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;

/**
 * Hints go by field name, and one name can mean different things on different routes
 * (`webhook` is an object on /v1, a URL string on /replicate/v1): a hint is used only where
 * the values it gives have a type the schema allows.
 */
function hintFits(ctx: GenContext, s: JsonSchema, hint: fc.Arbitrary<unknown>): boolean {
  const allowed = allowedTypes(ctx, s);
  if (allowed.size === 0) return true;
  return fc.sample(hint, { numRuns: 8, seed: 1 }).every((v) => allowed.has(jsonTypeOf(v)));
}

function rawValid(ctx: GenContext, s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum) && s.enum.length > 0) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives)) {
    const arbs = alternatives
      .map((a) => deref(ctx.doc, a))
      .filter((a) => a.format !== 'binary')
      .map((a) => validValue(ctx, a, undefined, depth));
    return arbs.length > 0 ? fc.oneof(...arbs) : fc.constant(null);
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    return validValue(ctx, s.allOf[0] as JsonSchema, undefined, depth);
  }
  const types = typesOf(s);
  if (types.length > 1) {
    return fc.oneof(...types.map((type) => rawValid(ctx, { ...s, type }, depth)));
  }
  switch (types[0]) {
    case 'string':
      return validString(s);
    case 'integer':
      return validNumber(s, true);
    case 'number':
      return validNumber(s, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const minLength = numberOr(s.minItems, 0);
      const maxLength = Math.min(numberOr(s.maxItems, minLength + 3), minLength + 3);
      const items = validValue(ctx, s.items as JsonSchema | undefined, undefined, depth + 1);
      return fc.array(items, { minLength, maxLength });
    }
    case 'object':
      return validObject(ctx, s, depth);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function validObject(ctx: GenContext, s: JsonSchema, depth: number): fc.Arbitrary<Json> {
  const properties = isObject(s.properties) ? s.properties : {};
  const required = Array.isArray(s.required) ? (s.required as string[]) : [];
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, prop] of Object.entries(properties)) {
    if (deref(ctx.doc, prop as JsonSchema).format === 'binary') continue;
    model[key] = validValue(ctx, prop as JsonSchema, key, depth + 1);
  }
  const fixed = fc.record(model, { requiredKeys: required.filter((k) => k in model) });
  const extra = s.additionalProperties;
  if (Object.keys(properties).length > 0 || !isObject(extra) || depth > 3) return fixed;
  const named = isObject(s.propertyNames)
    ? validString(deref(ctx.doc, s.propertyNames)).filter((k) => k.length > 0)
    : fc.string({ minLength: 1, maxLength: 12 });
  // Free-form maps (metadata, provider_options, Replicate input) also get prototype names.
  const keys = fc.oneof(
    { arbitrary: named, weight: 5 },
    { arbitrary: fc.constantFrom(...ODD_KEYS.filter((k) => k.length > 0)), weight: 1 },
  );
  const values =
    Object.keys(extra).length > 0
      ? validValue(ctx, extra, undefined, depth + 1)
      : fc.jsonValue({ maxDepth: 2 });
  return fc.dictionary(keys, values, { maxKeys: 4, noNullPrototype: true });
}

/** Values at and just past the schema's edges: min, max, min-1, max+1, '', maxLength+1, ... */
export function boundaryValue(
  ctx: GenContext,
  schema: JsonSchema | undefined,
): fc.Arbitrary<unknown> {
  const s = deref(ctx.doc, schema);
  const values: unknown[] = [];
  const types = typesOf(s);
  if (Array.isArray(s.enum)) {
    for (const e of s.enum as unknown[]) {
      if (typeof e === 'string')
        values.push(e.toUpperCase(), ` ${e}`, `${e}\u0000`, e.slice(0, -1));
    }
    values.push('');
  }
  if (types.includes('string') || s.pattern !== undefined) {
    const { min, max } = stringBounds(s);
    values.push('', ' ', '\t\n');
    if (min > 0) values.push('a'.repeat(min - 1));
    if (Number.isFinite(max) && max <= 2 * ONE_MB) {
      values.push('a'.repeat(max), 'a'.repeat(max + 1), '😀'.repeat(Math.ceil(max / 2) + 1));
    }
    if (typeof s.pattern === 'string') values.push('x', '0', '-', 'x'.repeat(300));
  }
  if (types.includes('integer') || types.includes('number')) {
    const integer = !types.includes('number');
    const { min, max } = numberBounds(s, integer);
    values.push(min, max, min - 1, max + 1, min + 0.5, max - 0.5, 0, -1, -0, 1.5);
    values.push(2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -1e308, 5e-324, 2 ** 31, 2 ** 32);
  }
  if (types.includes('array')) {
    const maxItems = numberOr(s.maxItems, 50);
    values.push([], new Array(Math.min(maxItems + 1, 10_000)).fill(null));
  }
  if (types.includes('object')) values.push({}, { '': '' });
  if (types.includes('boolean')) values.push(0, 1, 'true', 'false');
  if (values.length === 0) values.push(null, '', 0, {}, []);
  return fc.constantFrom(...values);
}

/** Values of the wrong kind: other types, null, arrays for objects, nesting, huge, odd Unicode. */
export function invalidValue(
  ctx: GenContext,
  schema: JsonSchema | undefined,
): fc.Arbitrary<unknown> {
  const s = deref(ctx.doc, schema);
  const types = typesOf(s);
  const wrong: unknown[] = [];
  if (!types.includes('string')) wrong.push('1', 'abc', '');
  if (!types.includes('integer') && !types.includes('number')) wrong.push(1, -1, 0.5, 1e21);
  if (!types.includes('boolean')) wrong.push(true, false);
  if (!types.includes('object')) wrong.push({}, { value: 1 });
  if (!types.includes('array')) wrong.push([], ['x'], [1, 2, 3]);
  if (!types.includes('null')) wrong.push(null);
  if (types.includes('integer')) wrong.push(1.25, '5', 'NaN');
  return fc.oneof(
    { arbitrary: fc.constantFrom(...wrong), weight: 6 },
    { arbitrary: fc.constantFrom(...ODD_STRINGS), weight: 4 },
    { arbitrary: anyString(), weight: 2 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
    { arbitrary: deeplyNested(), weight: 1 },
    { arbitrary: hugeString(), weight: 1 },
  );
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

export interface BodySpec {
  kind:
    | 'valid'
    | 'boundary'
    | 'invalid'
    | 'unknown-field'
    | 'missing-required'
    | 'wrong-root'
    | 'raw'
    | 'multipart'
    | 'none';
  payload?: string | Buffer;
  contentType?: string;
  /** A short description for failure reports (payloads can be megabytes). */
  note: string;
}

const jsonBody = (kind: BodySpec['kind'], value: unknown, note: string): BodySpec => ({
  kind,
  payload: JSON.stringify(value) ?? 'null',
  contentType: 'application/json',
  note,
});

/** Content types for a JSON body: right, wrong, and odd spellings of right. */
export const JSON_CONTENT_TYPES: readonly string[] = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset="utf-8"; foo=bar',
  'application/json;',
  'application/problem+json',
  'application/vnd.api+json',
  'application/json, text/plain',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/xml',
  'application/octet-stream',
  '*/*',
  'json',
  ';;;',
  `application/json; ${'x'.repeat(5000)}=1`,
];

function rawBodies(valid: string): string[] {
  return [
    '',
    ' ',
    '\n\t',
    '{',
    '}',
    '{"',
    valid.slice(0, Math.max(1, Math.floor(valid.length / 2))),
    `${valid}}`,
    `${valid}${valid}`,
    `\uFEFF${valid}`,
    `${valid}\u0000`,
    valid.replace('{', '{,'),
    valid.replace(/}$/, ',}'),
    valid.replaceAll('"', "'"),
    `/* c */${valid}`,
    'null',
    'undefined',
    'NaN',
    '1e999999',
    '-',
    '"unterminated',
    '{"a":1}{"b":2}',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    valid.replace('{', '{"__proto__":{"x":1},'),
    valid.replace('{', '{"model":"a","model":1,'),
    valid.replace('{', '{"\\ud800":"\\udfff",'),
    valid.replace('{', '{"x":"\\u0000\\uFFFF\\uD83D",'),
    `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
    '['.repeat(100_000),
    valid.replace('{', `{"provider_options":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}},`),
    valid.replace('{', `{"metadata":${'{"a":'.repeat(5000)}"x"${'}'.repeat(5000)},`),
  ];
}

/** Bytes that are not (or not only) UTF-8 JSON. */
function rawByteBodies(valid: string): Buffer[] {
  return [
    Buffer.from([0xff, 0xfe, 0xfd]),
    Buffer.concat([
      Buffer.from('{"prompt":"'),
      Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]),
      Buffer.from('"}'),
    ]),
    Buffer.from(valid, 'utf16le'),
    Buffer.from(valid.replace('{', '{"x":"caf\u00e9",'), 'latin1'),
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]),
    Buffer.alloc(2 * ONE_MB, 0x20),
  ];
}

function multipartBody(fields: Json, withFile: boolean, boundary: string): Buffer {
  const parts: Buffer[] = [];
  const flat: [string, string][] = [];
  const flatten = (prefix: string, v: unknown) => {
    if (isObject(v)) for (const [k, x] of Object.entries(v)) flatten(`${prefix}[${k}]`, x);
    else flat.push([prefix, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')]);
  };
  for (const [k, v] of Object.entries(fields)) flatten(k, v);
  for (const [name, value] of flat) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
      Buffer.from(value),
      Buffer.from('\r\n'),
    );
  }
  if (withFile) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="input_reference"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/** Request bodies for a JSON object schema (and multipart when the operation takes it). */
export function bodyArb(
  ctx: GenContext,
  schema: JsonSchema,
  opts: { multipart?: boolean } = {},
): fc.Arbitrary<BodySpec> {
  const s = deref(ctx.doc, schema);
  const properties = isObject(s.properties) ? Object.keys(s.properties) : [];
  const required = Array.isArray(s.required) ? (s.required as string[]) : [];
  const propSchema = (k: string) => (s.properties as Json)[k] as JsonSchema;
  const base = validValue(ctx, s).map((v) => (isObject(v) ? v : {}));
  const field = properties.length > 0 ? fc.constantFrom(...properties) : fc.constant('x');
  const pick = <T>(arb: fc.Arbitrary<T>) => fc.tuple(base, field, arb);

  const options: fc.WeightedArbitrary<BodySpec>[] = [
    { arbitrary: base.map((v) => jsonBody('valid', v, 'valid body')), weight: 8 },
    {
      arbitrary: base.chain((v) =>
        field.chain((k) =>
          boundaryValue(ctx, propSchema(k) ?? {}).map((x) =>
            jsonBody('boundary', { ...v, [k]: x }, `boundary value in ${k}`),
          ),
        ),
      ),
      weight: 5,
    },
    {
      arbitrary: base.chain((v) =>
        field.chain((k) =>
          invalidValue(ctx, propSchema(k) ?? {}).map((x) =>
            jsonBody('invalid', { ...v, [k]: x }, `invalid value in ${k}`),
          ),
        ),
      ),
      weight: 5,
    },
    {
      // Several fields wrong at once: every one must be reported, none may crash.
      arbitrary: base.chain((v) =>
        fc
          .subarray(properties.length > 0 ? properties : ['x'], {
            minLength: 1,
            // A body with fewer than four fields (an admin PATCH) has them all wrong at most.
            maxLength: Math.min(4, Math.max(1, properties.length)),
          })
          .chain((keys) =>
            fc
              .tuple(
                ...keys.map((k) =>
                  fc.oneof(invalidValue(ctx, propSchema(k)), boundaryValue(ctx, propSchema(k))),
                ),
              )
              .map((xs) =>
                jsonBody(
                  'invalid',
                  { ...v, ...Object.fromEntries(keys.map((k, i) => [k, xs[i]])) },
                  `invalid values in ${keys.join(', ')}`,
                ),
              ),
          ),
      ),
      weight: 2,
    },
    {
      arbitrary: pick(
        fc.tuple(
          fc.oneof(fc.constantFrom(...ODD_KEYS), fc.string({ maxLength: 20 })),
          fc.oneof(fc.jsonValue({ maxDepth: 2 }), deeplyNested()),
        ),
      ).map(([v, , [k, x]]) => {
        // A computed key defines an own property, even for `__proto__`.
        const body = { ...v, [k]: x };
        return jsonBody('unknown-field', body, `unknown field ${JSON.stringify(k)}`);
      }),
      weight: 3,
    },
    {
      arbitrary: fc
        .tuple(base, fc.constantFrom(...(required.length > 0 ? required : ['x'])))
        .map(([v, k]) => {
          const { [k]: _dropped, ...rest } = v;
          return jsonBody('missing-required', rest, `without ${k}`);
        }),
      weight: 2,
    },
    {
      arbitrary: fc
        .oneof(
          fc.constantFrom<unknown>(null, [], 0, -1, true, 'body', '', [{}]),
          base.map((v) => [v]),
          deeplyNested(),
          hugeString(),
          fc.jsonValue({ maxDepth: 3 }),
        )
        .map((v) => jsonBody('wrong-root', v, 'not an object at the root')),
      weight: 2,
    },
    {
      arbitrary: base.chain((v) => {
        const valid = JSON.stringify(v);
        return fc
          .oneof(
            { arbitrary: fc.constantFrom<string | Buffer>(...rawBodies(valid)), weight: 3 },
            { arbitrary: fc.constantFrom<string | Buffer>(...rawByteBodies(valid)), weight: 1 },
          )
          .map((payload) => ({
            kind: 'raw' as const,
            payload,
            contentType: 'application/json',
            note: `raw body (${payload.length} ${typeof payload === 'string' ? 'chars' : 'bytes'})`,
          }));
      }),
      weight: 3,
    },
    {
      arbitrary: fc
        .tuple(base, fc.constantFrom(...JSON_CONTENT_TYPES), fc.boolean())
        .map(([v, type, send]) => ({
          kind: 'raw' as const,
          ...(send ? { payload: JSON.stringify(v) } : {}),
          contentType: type,
          note: `content-type ${JSON.stringify(type.slice(0, 60))}${send ? '' : ' without a body'}`,
        })),
      weight: 3,
    },
    {
      arbitrary: fc.constant<BodySpec>({ kind: 'none', note: 'no body, no content-type' }),
      weight: 1,
    },
  ];
  if (opts.multipart) {
    options.push({
      arbitrary: fc
        .tuple(
          fc.oneof(
            base,
            base.chain((v) =>
              field.chain((k) =>
                invalidValue(ctx, propSchema(k) ?? {}).map((x) => ({ ...v, [k]: x })),
              ),
            ),
          ),
          fc.boolean(),
          fc.constantFrom('b0undary', 'x'.repeat(70), '----WebKitFormBoundary7MA4YWxkTrZu0gW'),
          fc.constantFrom('ok', 'no-boundary', 'wrong-boundary', 'truncated'),
        )
        .map(([fields, withFile, boundary, damage]) => {
          let payload = multipartBody(fields, withFile, boundary);
          if (damage === 'truncated') payload = payload.subarray(0, Math.floor(payload.length / 2));
          const contentType =
            damage === 'no-boundary'
              ? 'multipart/form-data'
              : `multipart/form-data; boundary=${damage === 'wrong-boundary' ? 'other' : boundary}`;
          return {
            kind: 'multipart' as const,
            payload,
            contentType,
            note: `multipart (${damage}${withFile ? ', with a file' : ''})`,
          };
        }),
      weight: 4,
    });
  }
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------
// Parameters, headers, whole requests
// ---------------------------------------------------------------------------------------------

/** encodeURIComponent, also for lone surrogates (sent as the UTF-8 of U+FFFD, as a browser would). */
export function encodeSafe(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text, 'utf8')]
      .map((b) => `%${b.toString(16).padStart(2, '0')}`)
      .join('');
  }
}

/** A parameter value as the text that goes on the wire (path, query or header). */
function paramText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v) ?? '';
}

/** Only what an HTTP header can carry: tab, visible ASCII and obs-text (latin1) bytes. */
export function headerSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 9 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff)) out += ch;
    else out += '?';
  }
  return out;
}

type ParamMode = 'valid' | 'boundary' | 'invalid';

function paramValue(ctx: GenContext, p: OpenApiParameter, mode: ParamMode): fc.Arbitrary<string> {
  const value =
    mode === 'valid'
      ? validValue(ctx, p.schema, p.name)
      : mode === 'boundary'
        ? boundaryValue(ctx, p.schema)
        : fc.oneof(invalidValue(ctx, p.schema), anyString(300));
  return value.map(paramText);
}

const MODES = fc.oneof(
  { arbitrary: fc.constant<ParamMode>('valid'), weight: 8 },
  { arbitrary: fc.constant<ParamMode>('boundary'), weight: 2 },
  { arbitrary: fc.constant<ParamMode>('invalid'), weight: 2 },
);

/** Path segments that trip routers and decoders (sent as they are, not encoded). */
const RAW_SEGMENTS = [
  '%',
  '%E0%A4%A',
  '%ZZ',
  '%00',
  '%2F',
  '..',
  '%2e%2e',
  '.',
  '%C0%AF',
  '%F0%9F%98%80',
  '%EF%BB%BF',
  'a;b=c',
  'x'.repeat(201),
  'x'.repeat(5000),
];

function pathSegment(ctx: GenContext, p: OpenApiParameter): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: MODES.chain((m) => paramValue(ctx, p, m)).map(encodeSafe), weight: 10 },
    { arbitrary: fc.constantFrom(...RAW_SEGMENTS), weight: 1 },
  );
}

const RAW_QUERIES = [
  '?',
  '?&&',
  '?=',
  '?%',
  '?a=%ZZ',
  '?__proto__[x]=1',
  '?constructor[prototype][x]=1',
  `?q=${'x'.repeat(60_000)}`,
  '?a[b][c][d][e]=1',
  '?limit=1&limit=2',
  '?status=running&status=failed',
];

function queryString(ctx: GenContext, params: OpenApiParameter[]): fc.Arbitrary<string> {
  const one = (p: OpenApiParameter) =>
    fc.option(
      MODES.chain((m) => paramValue(ctx, p, m)).map(
        (v) => `${encodeSafe(p.name)}=${encodeSafe(v)}`,
      ),
      { nil: undefined, freq: 2 },
    );
  const fromSchema = fc.tuple(...params.map(one)).map((pairs) => pairs.filter(Boolean).join('&'));
  const extra = fc.option(
    fc
      .tuple(fc.oneof(fc.constantFrom(...ODD_KEYS), fc.string({ maxLength: 8 })), anyString(20))
      .map(([k, v]) => `${encodeSafe(k)}=${encodeSafe(v)}`),
    { nil: undefined, freq: 5 },
  );
  return fc.oneof(
    {
      arbitrary: fc.tuple(fromSchema, extra).map(([q, x]) => {
        const all = [q, x].filter(Boolean).join('&');
        return all ? `?${all}` : '';
      }),
      weight: 10,
    },
    { arbitrary: fc.constantFrom(...RAW_QUERIES), weight: 1 },
  );
}

/** Extra headers that should change nothing (or give a clean 4xx). */
const ODD_HEADERS: readonly Record<string, string>[] = [
  { accept: 'application/xml' },
  { accept: '*/*;q=0' },
  { accept: 'text/event-stream' },
  { 'accept-encoding': 'gzip, br, zstd, identity;q=0' },
  { 'accept-charset': 'utf-16' },
  { 'x-forwarded-for': '127.0.0.1, ::1, not-an-ip' },
  { 'x-request-id': '../../etc/passwd' },
  { 'x-http-method-override': 'DELETE' },
  { 'if-none-match': '*' },
  { range: 'bytes=0-0,1-1,2-2,3-3' },
  { cookie: 'a=b; c' },
  { prefer: 'wait=99999999999999999999' },
  { prefer: 'respond-async, wait=0' },
  { 'idempotency-key': 'é'.repeat(300) },
  { 'x-huge': 'h'.repeat(64 * 1024) },
  { 'content-encoding': 'gzip' },
  { 'content-language': '\u00ff\u00fe' },
];

export interface AuthSpec {
  /** Whether this Authorization header should be accepted. */
  authorized: boolean;
  header?: string;
  note: string;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What kind of input this is (valid, boundary, invalid, ...), for the report. */
  kind: string;
  authorized: boolean;
  note: string;
}

/** A readable one-line summary (failure reports print this, never a megabyte payload). */
export function describeRequest(r: FuzzRequest): string {
  const url = r.url.length > 300 ? `${r.url.slice(0, 300)}…(${r.url.length} chars)` : r.url;
  const headers = Object.fromEntries(
    Object.entries(r.headers).map(([k, v]) => [
      k,
      v.length > 120 ? `${v.slice(0, 120)}…(${v.length})` : v,
    ]),
  );
  const size = r.payload === undefined ? 'none' : `${r.payload.length}`;
  const preview =
    r.payload === undefined
      ? ''
      : ` body: ${JSON.stringify(String(r.payload).slice(0, 400))}${r.payload.length > 400 ? '…' : ''}`;
  return `${r.method} ${url} [${r.kind}; ${r.note}] headers ${JSON.stringify(headers)} payload ${size}${preview}`;
}

const withSummary = (r: FuzzRequest): FuzzRequest =>
  Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) });

/** Requests for one operation: mostly its own method and well-formed, the rest broken somehow. */
export function requestArb(
  ctx: GenContext,
  op: Operation,
  auth: fc.Arbitrary<AuthSpec>,
): fc.Arbitrary<FuzzRequest> {
  const params = op.spec.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const headerParams = params.filter((p) => p.in === 'header');
  const content = op.spec.requestBody?.content ?? {};
  const jsonSchema = content['application/json']?.schema;
  const takesMultipart = 'multipart/form-data' in content;

  const path = fc
    .tuple(...pathParams.map((p) => pathSegment(ctx, p)))
    .map((segments) =>
      pathParams.reduce((url, p, i) => url.replace(`{${p.name}}`, segments[i] ?? ''), op.path),
    );
  const headerValues = fc
    .tuple(
      ...headerParams.map((p) =>
        fc.option(
          MODES.chain((m) => paramValue(ctx, p, m)).map((v) => [p.name, headerSafe(v)] as const),
          { nil: undefined, freq: 2 },
        ),
      ),
    )
    .map((pairs) => Object.fromEntries(pairs.filter((x) => x !== undefined)));
  const oddHeaders = fc.option(fc.constantFrom(...ODD_HEADERS), { nil: undefined, freq: 6 });
  const body: fc.Arbitrary<BodySpec> = jsonSchema
    ? bodyArb(ctx, jsonSchema, { multipart: takesMultipart })
    : fc.oneof(
        { arbitrary: fc.constant<BodySpec>({ kind: 'none', note: 'no body' }), weight: 12 },
        {
          arbitrary: fc
            .tuple(
              fc.constantFrom('{}', '{', '[]', 'x'.repeat(2 * ONE_MB), '\u0000'),
              fc.constantFrom(...JSON_CONTENT_TYPES),
            )
            .map(([payload, contentType]) => ({
              kind: 'raw' as const,
              payload,
              contentType,
              note: `unexpected body (${payload.length} chars, ${contentType.slice(0, 40)})`,
            })),
          weight: 1,
        },
      );
  const otherMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'].filter(
    (m) => m !== op.method,
  );
  const method = fc.oneof(
    { arbitrary: fc.constant(op.method), weight: 20 },
    { arbitrary: fc.constantFrom(...otherMethods), weight: 1 },
  );

  return fc
    .record({
      method,
      path,
      query:
        queryParams.length > 0
          ? queryString(ctx, queryParams)
          : fc.constantFrom('', '', '', '?x=1'),
      headerValues,
      oddHeaders,
      body,
      auth,
    })
    .map(({ method: m, path: p, query, headerValues: hv, oddHeaders: odd, body: b, auth: a }) => {
      const headers: Record<string, string> = { ...hv, ...(odd ?? {}) };
      if (a.header !== undefined) headers.authorization = a.header;
      if (b.contentType !== undefined) headers['content-type'] = b.contentType;
      const kinds = [
        b.kind !== 'none' ? b.kind : '',
        odd ? 'odd-header' : '',
        a.authorized ? '' : 'unauthorized',
      ];
      return withSummary({
        method: m,
        url: `${p}${query}`,
        headers,
        ...(b.payload !== undefined ? { payload: b.payload } : {}),
        kind: kinds.filter(Boolean).join('+') || 'valid',
        authorized: a.authorized,
        note: [b.note, a.note, m !== op.method ? `method ${m}` : ''].filter(Boolean).join('; '),
      });
    });
}

/** Authorization headers: the key most of the time, and every way of getting it wrong. */
export function authArb(
  keys: readonly string[],
  wrongKeys: readonly string[],
): fc.Arbitrary<AuthSpec> {
  const key = fc.constantFrom(...keys);
  const good = fc.oneof(
    { arbitrary: key.map((k) => `Bearer ${k}`), weight: 8 },
    { arbitrary: key.map((k) => `Token ${k}`), weight: 1 },
    { arbitrary: key.map((k) => `bearer ${k}`), weight: 1 },
    { arbitrary: key.map((k) => `Bearer  ${k}  `), weight: 1 },
  );
  const bad = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      '',
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'Digest x',
      'Bearer null',
      'Bearer undefined',
    ),
    fc.constantFrom(...wrongKeys).map((k) => `Bearer ${k}`),
    key.map((k) => `Bearer ${k.slice(0, -1)}`),
    key.map((k) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`),
    key.map((k) => `Bearer ${k} extra`),
    key.map((k) => `Bearer ${k.toUpperCase()}`),
    key.map((k) => `Bearer ${k.slice(0, 4)}\u00e9${k.slice(5)}`),
    fc.string({ maxLength: 60 }).map((s) => `Bearer ${headerSafe(s)}`),
    fc.string({ maxLength: 60, unit: 'binary' }).map(headerSafe),
    fc.constant(`Bearer ${'A'.repeat(64 * 1024)}`),
  );
  return fc.oneof(
    {
      arbitrary: good.map((header) => ({ authorized: true, header, note: 'gateway key' })),
      weight: 85,
    },
    {
      arbitrary: bad.map((header) => ({
        authorized: false,
        ...(header === undefined ? {} : { header }),
        note: header === undefined ? 'no Authorization' : 'bad Authorization',
      })),
      weight: 15,
    },
  );
}
