import fastifyMultipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import type { GatewayApp } from './route-deps.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, tooDeeplyNested } from './json-depth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The multipart bodies this route takes (else its scope's default, else 415). */
    multipart?: MultipartPolicy;
  }
}

/**
 * What a multipart body of one route may carry. Fastify's `bodyLimit` does not apply to
 * multipart, so each part is capped here by what it carries, and the whole body is counted as
 * it arrives: a flood of oversized bodies costs at most `totalBytesOf(policy)` each.
 */
export interface MultipartPolicy {
  /** Fields that may be a file part, with the most bytes that file may have. */
  readonly files: Readonly<Record<string, number>>;
  /** Bytes of a text field, by its name as sent (`input_reference[image_url]`). */
  readonly fieldBytes: Readonly<Record<string, number>>;
  /** Bytes of any other text field. */
  readonly otherFieldBytes: number;
  /** Parts (fields and files together) a body may have. */
  readonly maxParts: number;
}

/** Room for boundaries, part headers and the small fields around the largest part. */
const FRAMING_BYTES = 256 * 1024;

/** A prompt of 10,000 characters in UTF-8 (up to 4 bytes each). */
export const PROMPT_FIELD_BYTES = 40_000;
/** Every other plain field (model, size, seed, a provider option...). */
export const SMALL_FIELD_BYTES = 4096;

/** Base64 length of `bytes` bytes in a `data:` URL, with room for its prefix. */
export const dataUrlBytes = (bytes: number) => Math.ceil(bytes / 3) * 4 + 256;

/** The most bytes a body may have under `policy`: its largest part plus framing. */
export function totalBytesOf(policy: MultipartPolicy): number {
  const largest = Math.max(
    policy.otherFieldBytes,
    ...Object.values(policy.files),
    ...Object.values(policy.fieldBytes),
  );
  return largest + FRAMING_BYTES;
}

const tooLarge = (detail: string) => new GatewayError('payload_too_large', detail);

/** Errors of @fastify/multipart and busboy, as genway's. */
function multipartError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT' || code === 'FST_FILES_LIMIT') {
    return tooLarge('The multipart body has too many parts or files');
  }
  if (code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge('The file part is too large');
  if (typeof code === 'string' && code.startsWith('FST_')) {
    return new GatewayError('invalid_request', (error as Error).message);
  }
  if (error instanceof GatewayError) return error;
  // busboy's own (malformed multipart data).
  return new GatewayError('invalid_request', `The multipart body cannot be read: ${String(error)}`);
}

/**
 * Reads a multipart body under `policy` into flat key/values (files as Buffers, repeated names
 * as arrays), like `attachFieldsToBody: 'keyValues'` but bounded. Over a cap: 413.
 */
export async function readMultipart(
  request: FastifyRequest,
  policy: MultipartPolicy,
): Promise<Record<string, unknown>> {
  const total = totalBytesOf(policy);
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > total) {
    throw tooLarge(`The multipart body has ${declared} bytes; at most ${total} are accepted`);
  }
  const fileCount = Object.keys(policy.files).length;
  const largestField = Math.max(policy.otherFieldBytes, ...Object.values(policy.fieldBytes));
  const parts = request.parts({
    limits: {
      // 100 bytes: bracketed names (`a[b][c]`) cannot nest deeper than ~33 levels.
      fieldNameSize: 100,
      fieldSize: largestField + 1,
      fields: policy.maxParts,
      files: fileCount,
      fileSize: Math.max(0, ...Object.values(policy.files)) + 1,
      parts: policy.maxParts,
      headerPairs: 20,
    },
  });

  // Counted on the raw stream: busboy discards a truncated part's rest but keeps reading it.
  const raw = request.raw;
  let received = 0;
  let overflow!: (error: Error) => void;
  const overflowed = new Promise<never>((_, reject) => (overflow = reject));
  overflowed.catch(() => {});
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= total) return;
    raw.off('data', onData);
    raw.unpipe();
    overflow(tooLarge(`The multipart body exceeds ${total} bytes`));
  };
  raw.on('data', onData);

  const body: Record<string, unknown> = {};
  const add = (name: string, value: unknown) => {
    const prior = body[name];
    body[name] = prior === undefined ? value : [prior, value].flat();
  };
  const read = async () => {
    for await (const part of parts) {
      if (part.type === 'file') {
        const cap = policy.files[part.fieldname];
        if (cap === undefined) {
          part.file.resume();
          throw new GatewayError('invalid_request', `${part.fieldname} does not take a file`, {
            errors: [{ path: part.fieldname, message: 'expected a text field, not a file' }],
          });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of part.file as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > cap) throw tooLarge(`The ${part.fieldname} file exceeds ${cap} bytes`);
          chunks.push(chunk);
        }
        if (part.file.truncated) throw tooLarge(`The ${part.fieldname} file exceeds ${cap} bytes`);
        add(part.fieldname, Buffer.concat(chunks));
        continue;
      }
      const cap = policy.fieldBytes[part.fieldname] ?? policy.otherFieldBytes;
      const value = part.value;
      const size =
        typeof value === 'string' ? Buffer.byteLength(value) : JSON.stringify(value).length;
      if (part.valueTruncated || part.fieldnameTruncated || size > cap) {
        throw tooLarge(`The ${part.fieldname.slice(0, 100)} field exceeds ${cap} bytes`);
      }
      if (nestedDeeperThan(value, MAX_JSON_DEPTH)) throw tooDeeplyNested();
      add(part.fieldname, value);
    }
  };
  try {
    await Promise.race([read(), overflowed]);
  } catch (error) {
    throw multipartError(error);
  } finally {
    raw.off('data', onData);
  }
  return body;
}

/** How long the rest of a refused body is read and dropped before its connection is cut. */
const LINGER_MS = 3000;

/**
 * The answer to a refused body goes out while the sender is still sending. Reading the rest
 * and dropping it (no memory kept) lets the sender see the answer: closing at once would reset
 * the connection under it. A sender still going after LINGER_MS loses the connection.
 */
function lingerThenClose(raw: FastifyRequest['raw']): void {
  raw.resume();
  // Destroying the request destroys its socket.
  const cut = setTimeout(() => raw.destroy(), LINGER_MS);
  cut.unref();
  raw.once('end', () => clearTimeout(cut));
  raw.once('close', () => clearTimeout(cut));
}

/**
 * Lets a scope take multipart bodies, all through `readMultipart`: a route's
 * `config.multipart` policy, else `scopeDefault`, else 415 (that route takes JSON only).
 */
export async function registerMultipartGuard(
  scope: GatewayApp,
  scopeDefault?: MultipartPolicy,
): Promise<void> {
  await scope.register(fastifyMultipart);
  const readBody = async (request: FastifyRequest) => {
    const policy = request.routeOptions.config?.multipart ?? scopeDefault;
    try {
      if (!policy) {
        throw new GatewayError(
          'unsupported_media_type',
          'This route takes application/json bodies',
        );
      }
      request.body = await readMultipart(request, policy);
    } catch (error) {
      if (!request.raw.complete) lingerThenClose(request.raw);
      throw error;
    }
  };
  // A callback hook: the requests without a multipart body (nearly all) cost no promise.
  scope.addHook('preValidation', (request, _reply, done) => {
    if (!request.isMultipart()) return done();
    readBody(request).then(() => done(), done);
  });
}
