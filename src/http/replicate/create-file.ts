import { createHash } from 'node:crypto';
import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { monotonicUlid } from '../../domain/ulids.js';
import { ReplicateFileSchema } from '../../contracts/replicate.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { replicateProblemResponses } from './errors.js';
import {
  FILE_MAX_BYTES,
  FILE_METADATA_MAX_BYTES,
  FILE_TTL_MS,
  toFileObject,
} from './file-object.js';
import { surfaceBase } from './prediction.js';

/** Multipart caps of an upload: the file, its metadata (a field or a small file part), 2 fields. */
export const FILE_MULTIPART_LIMITS = {
  fileSize: FILE_MAX_BYTES,
  files: 2,
  fields: 4,
  parts: 6,
  fieldSize: FILE_METADATA_MAX_BYTES,
};

const newUlid = monotonicUlid();
const CONTENT_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/i;

/** Errors of @fastify/multipart, in the catalogue's terms. */
const MULTIPART_ERRORS: Record<string, GatewayError['code']> = {
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_PARTS_LIMIT: 'payload_too_large',
  FST_FILES_LIMIT: 'payload_too_large',
  FST_FIELDS_LIMIT: 'payload_too_large',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_PROTO_VIOLATION: 'invalid_request',
};

interface Upload {
  bytes: Buffer;
  sha256: string;
  /** The part's own filename and content type, used when the fields do not say. */
  partName: string;
  partType: string;
}

/** Reads the `content` part chunk by chunk, hashing as it goes; over the cap is a 413. */
async function readContent(part: MultipartFile): Promise<Upload> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    hash.update(chunk);
    chunks.push(chunk);
  }
  if (part.file.truncated) throw tooLarge();
  return {
    bytes: Buffer.concat(chunks),
    sha256: hash.digest('hex'),
    partName: part.filename,
    partType: part.mimetype,
  };
}

const tooLarge = () =>
  new GatewayError('payload_too_large', `Files must be at most ${FILE_MAX_BYTES} bytes`);

const invalid = (path: string, message: string) =>
  GatewayError.invalid([{ path, message }], `${path}: ${message}`);

/** `metadata`: a JSON object of at most FILE_METADATA_MAX_BYTES. */
function parseMetadata(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text) > FILE_METADATA_MAX_BYTES) {
    throw invalid('metadata', `at most ${FILE_METADATA_MAX_BYTES} bytes of JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('metadata', 'not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('metadata', 'must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** The parts of an upload: `content` (a file), `filename`, `type`, `metadata` (field or file). */
async function readUpload(request: FastifyRequest) {
  let content: Upload | undefined;
  const fields: Record<string, string> = {};
  try {
    for await (const part of request.parts() as AsyncIterable<Multipart>) {
      if (part.type === 'file') {
        if (part.fieldname === 'content' && !content) {
          content = await readContent(part);
        } else if (part.fieldname === 'metadata') {
          // The official client sends metadata as a JSON blob (a file part).
          const text = (await part.toBuffer()).toString('utf8');
          fields.metadata = text;
        } else {
          part.file.resume();
          throw invalid(part.fieldname, 'unexpected file part (only `content` is a file)');
        }
      } else if (['filename', 'type', 'metadata'].includes(part.fieldname)) {
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    const mapped = code ? MULTIPART_ERRORS[code] : undefined;
    if (mapped === 'payload_too_large') throw tooLarge();
    if (mapped) throw new GatewayError(mapped, 'Send the file as multipart/form-data');
    throw err;
  }
  if (!content) throw invalid('content', 'required: the file, as a multipart file part');
  return { content, fields };
}

/** Replicate's `POST /v1/files`: stores the file for the caller's tenant (24 h). */
export function createFileRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/files',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Create a file (Replicate API)',
        description: `Uploads a file as \`multipart/form-data\`: \`content\` (the file, required, at most ${FILE_MAX_BYTES / 1024 / 1024} MB), \`filename\` (at most 255 bytes; default: the part's filename), \`type\` (its content type; default: the part's, else application/octet-stream) and \`metadata\` (a JSON object of at most ${FILE_METADATA_MAX_BYTES / 1024} KB, as a field or a JSON part). What the official client does with a Buffer or Blob input before a prediction. Visible to the caller's tenant only; kept 24 h. A prediction whose input holds its \`urls.get\` gets the file: genway hands the upstream an unguessable link under PUBLIC_URL that expires after an hour (without PUBLIC_URL, a data: URI for files up to 10 MB).`,
        security: [{ gatewayKey: [] }],
        consumes: ['multipart/form-data'],
        response: {
          201: ReplicateFileSchema.describe('The file'),
          ...replicateProblemResponses(400, 401, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const { content, fields } = await readUpload(request);
      const filename = fields.filename ?? (content.partName || `upload_${Date.now()}`);
      if (Buffer.byteLength(filename) > 255) throw invalid('filename', 'at most 255 bytes');
      const type = fields.type ?? content.partType;
      const now = Date.now();
      const file = {
        id: `file_${newUlid()}`,
        tenant: request.tenant,
        filename,
        contentType: type && CONTENT_TYPE.test(type) ? type : 'application/octet-stream',
        size: content.bytes.length,
        sha256: content.sha256,
        metadata: fields.metadata === undefined ? {} : parseMetadata(fields.metadata),
        createdAt: now,
        expiresAt: now + FILE_TTL_MS,
      };
      await deps.store.putFile({ ...file, bytes: content.bytes });
      return reply.code(201).send(toFileObject(file, surfaceBase(deps.config, request)));
    },
  );
}
