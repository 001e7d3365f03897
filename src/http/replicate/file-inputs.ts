import { isGatewayError, GatewayError } from '../../errors/gateway-error.js';
import type { RouteDeps } from '../route-deps.js';
import { FILE_ID, findFile } from './file-object.js';

/** Files inlined as data: URIs when genway has no PUBLIC_URL (Replicate's inline limit). */
export const INLINE_MAX_BYTES = 10 * 1024 * 1024;

/**
 * The prediction input with every link to one of the tenant's uploaded files (`urls.get`, what
 * the official client puts in place of a Buffer or Blob) replaced by something the upstream can
 * fetch: a public, unguessable link under PUBLIC_URL that expires after an hour (MediaHost), or
 * without PUBLIC_URL a data: URI (files up to 10 MB). A link to a file the tenant does not have
 * (missing, expired, another tenant's) is a 422 naming the input field.
 */
export async function resolveFileInputs(
  deps: Pick<RouteDeps, 'store' | 'media' | 'config'>,
  tenant: string,
  base: string,
  input: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const prefix = `${base}/files/`;
  const resolve = async (value: unknown, path: string): Promise<unknown> => {
    if (typeof value === 'string') {
      const id = value.startsWith(prefix) ? value.slice(prefix.length) : undefined;
      return id !== undefined && FILE_ID.test(id) ? reachable(id, path) : value;
    }
    if (Array.isArray(value)) {
      return Promise.all(value.map((v, i) => resolve(v, `${path}.${i}`)));
    }
    if (value && typeof value === 'object') {
      const entries = await Promise.all(
        Object.entries(value).map(async ([k, v]) => [k, await resolve(v, `${path}.${k}`)]),
      );
      return Object.fromEntries(entries) as Record<string, unknown>;
    }
    return value;
  };
  const reachable = async (id: string, path: string): Promise<string> => {
    let file;
    try {
      file = await findFile(deps.store, tenant, id);
    } catch (err) {
      if (!isGatewayError(err) || err.code !== 'not_found') throw err;
      throw invalid(path, `no file ${id} (unknown, expired or deleted)`);
    }
    const bytes = file.bytes ?? Buffer.alloc(0);
    if (deps.config.publicUrl) return deps.media.publish(bytes, file.contentType, tenant);
    if (bytes.length > INLINE_MAX_BYTES) {
      throw invalid(
        path,
        `file ${id} is over ${INLINE_MAX_BYTES} bytes: genway needs PUBLIC_URL to hand it to the upstream as a link`,
      );
    }
    return `data:${file.contentType};base64,${bytes.toString('base64')}`;
  };
  return (await resolve(input, 'input')) as Record<string, unknown>;
}

const invalid = (path: string, message: string) =>
  GatewayError.invalid([{ path, message }], `${path}: ${message}`);
