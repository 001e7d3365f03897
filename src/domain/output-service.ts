import { Readable } from 'node:stream';
import { GatewayError } from '../errors/gateway-error.js';
import { outputKey, type MediaStore } from './media-store.js';
import type { ModelRegistry } from './models.js';
import { parseRange } from './byte-range.js';
import type { OutputFetcher, OutputFetchResponse } from './ports.js';
import type { TaskOutput, TaskRecord } from './task-record.js';
import type { TaskService } from './task-service.js';
import type { TaskStore } from './task-store.js';

export interface OutputRequest {
  method: 'GET' | 'HEAD';
  /** The client's `Range` header, passed on as is. */
  range?: string;
  ifRange?: string;
  /** Aborts the upstream request (the client hung up). */
  signal?: AbortSignal;
}

/** What the route sends back: the upstream's status and file headers, and its body as a stream. */
export type OutputResponse =
  | { status: 200 | 206; headers: Record<string, string>; body: Readable }
  /** The upstream refused the range; `contentRange` is its `bytes *\/size` when it sent one. */
  | { status: 416; contentRange?: string };

/** File headers passed back to the client; everything else from the upstream is dropped. */
const PASSED_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'etag',
  'last-modified',
] as const;
const GENERIC_TYPES = new Set(['application/octet-stream', 'binary/octet-stream']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Statuses a CDN answers for a link that has expired or was deleted. */
const GONE = new Set([403, 404, 410]);
const MAX_REDIRECTS = 3;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
};

export interface OutputServiceDeps {
  tasks: TaskService;
  models: ModelRegistry;
  fetcher: OutputFetcher;
  /** Media storage (MEDIA_STORE_URL); stored outputs are served from it. */
  media?: MediaStore;
  /** For signed links, which name a task without a tenant. */
  store?: TaskStore;
  now?: () => number;
}

/**
 * GET /v1/tasks/{id}/outputs/{index}: finds the caller's output and streams it from the
 * provider, following only URLs the provider's adapter vouches for (`isOutputUrl`).
 */
export class OutputService {
  private readonly now: () => number;

  constructor(private readonly deps: OutputServiceDeps) {
    this.now = deps.now ?? (() => Date.now());
  }

  async open(
    tenant: string,
    id: string,
    index: number,
    req: OutputRequest,
  ): Promise<OutputResponse> {
    const task = await this.deps.tasks.get(tenant, id);
    if (task.status !== 'succeeded') {
      throw new GatewayError(
        'output_not_ready',
        `Task ${id} is ${task.status}; its outputs can be fetched once it has succeeded`,
      );
    }
    const output = task.outputs[index];
    if (!output) {
      throw new GatewayError(
        'output_not_found',
        `Task ${id} has ${task.outputs.length} output(s); there is no output ${index} (indexes start at 0)`,
      );
    }
    if (output.stored) return this.openStored(task, index, 'file', req);
    if (output.expiresAt !== null && output.expiresAt <= this.now()) {
      throw new GatewayError(
        'output_expired',
        `Output ${index} of task ${id} expired at ${new Date(output.expiresAt).toISOString()}; ${task.provider} no longer serves it`,
      );
    }

    const headers: Record<string, string> = { accept: '*/*' };
    if (req.range) headers.range = req.range;
    if (req.range && req.ifRange) headers['if-range'] = req.ifRange;
    const res = await this.fetchUpstream(task, index, req.method, headers, req.signal);
    if (res.status === 416) {
      return { status: 416, contentRange: first(res.headers['content-range']) };
    }
    return { status: res.status as 200 | 206, headers: fileHeaders(res, output), body: res.body };
  }

  /**
   * A signed link's file (no tenant: the signature was checked by the route). Only stored
   * outputs have links; a deleted task, an unknown output or one past retention is gone.
   */
  async openLinked(
    taskId: string,
    index: number,
    variant: 'file' | 'poster',
    req: OutputRequest,
  ): Promise<OutputResponse> {
    const task = await this.deps.store?.get(taskId);
    const stored = task && !task.deletedAt ? task.outputs[index]?.stored : undefined;
    if (!task || !stored || (variant === 'poster' && !stored.poster)) {
      throw new GatewayError('output_expired', 'This file is no longer available');
    }
    return this.openStored(task, index, variant, req);
  }

  /** The upstream's body of output `index` for a copy into storage (200 only). */
  readonly download = async (task: TaskRecord, index: number, signal: AbortSignal) => {
    const res = await this.fetchUpstream(task, index, 'GET', { accept: '*/*' }, signal);
    if (res.status !== 200) {
      discard(res);
      throw new GatewayError('upstream_bad_response', `HTTP ${res.status} for a whole file`);
    }
    return res.body;
  };

  private async openStored(
    task: TaskRecord,
    index: number,
    variant: 'file' | 'poster',
    req: OutputRequest,
  ): Promise<OutputResponse> {
    const stored = task.outputs[index]!.stored!;
    const media = this.deps.media;
    const key = outputKey(task.id, index, variant === 'poster');
    const info = stored.expiresAt > this.now() ? await media?.stat(key) : undefined;
    if (!media || !info) {
      throw new GatewayError(
        'output_expired',
        `Output ${index} of task ${task.id} was kept until ${new Date(stored.expiresAt).toISOString()} and has been deleted`,
      );
    }
    const etag = `"${stored.sha256.slice(0, 32)}${variant === 'poster' ? '-p' : ''}"`;
    const contentType = variant === 'poster' ? stored.poster!.contentType : stored.contentType;
    const headers: Record<string, string> = {
      'content-type': contentType,
      'accept-ranges': 'bytes',
      etag,
      'last-modified': new Date(stored.storedAt).toUTCString(),
    };
    const wantsRange = req.range !== undefined && (!req.ifRange || req.ifRange === etag);
    const range = wantsRange ? parseRange(req.range!, info.bytes) : undefined;
    if (range === 'unsatisfiable') return { status: 416, contentRange: `bytes */${info.bytes}` };
    if (req.method === 'HEAD') {
      headers['content-length'] = String(info.bytes);
      return { status: 200, headers, body: Readable.from([]) };
    }
    const body = await media.get(key, range);
    if (!body)
      throw new GatewayError(
        'output_expired',
        `Output ${index} of task ${task.id} has been deleted`,
      );
    if (!range)
      return { status: 200, headers: { ...headers, 'content-length': String(info.bytes) }, body };
    headers['content-length'] = String(range.end - range.start + 1);
    headers['content-range'] = `bytes ${range.start}-${range.end}/${info.bytes}`;
    return { status: 206, headers, body };
  }

  /** Output `index` from its provider, following redirects only to hosts the provider vouches for. */
  private async fetchUpstream(
    task: TaskRecord,
    index: number,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<OutputFetchResponse> {
    const id = task.id;
    let url = task.outputs[index]?.url ?? task.copy?.outputs[index]?.url ?? '';
    for (let hop = 0; ; hop++) {
      this.assertTrusted(task, index, url);
      const res = await this.deps.fetcher.fetch({ url, method, headers, signal });
      const location = first(res.headers.location);
      if (REDIRECTS.has(res.status) && location) {
        discard(res);
        if (hop === MAX_REDIRECTS) {
          throw new GatewayError(
            'upstream_bad_response',
            `${task.provider} redirected output ${index} of task ${id} more than ${MAX_REDIRECTS} times`,
          );
        }
        try {
          url = new URL(location, url).href;
        } catch {
          throw new GatewayError(
            'upstream_bad_response',
            `${task.provider} redirected output ${index} of task ${id} to an invalid location`,
          );
        }
        continue;
      }
      if (res.status === 200 || res.status === 206) return res;
      if (res.status === 416) {
        discard(res);
        return res;
      }
      discard(res);
      if (GONE.has(res.status)) {
        throw new GatewayError(
          'output_expired',
          `${task.provider} no longer serves output ${index} of task ${id} (HTTP ${res.status}): the link has expired or the file was deleted`,
        );
      }
      throw new GatewayError(
        'upstream_error',
        `${task.provider} answered HTTP ${res.status} for output ${index} of task ${id}`,
      );
    }
  }

  /** Output URLs come from upstream answers: only the provider's own hosts are fetched. */
  private assertTrusted(task: TaskRecord, index: number, url: string): void {
    const adapter = this.deps.models.adapter(task.provider);
    if (adapter?.isOutputUrl?.(url)) return;
    throw new GatewayError(
      'upstream_bad_response',
      adapter
        ? `Output ${index} of task ${task.id} points at ${hostOf(url)}, which is not a host of ${task.provider}; genway does not fetch it`
        : `Provider ${task.provider} is no longer configured; genway cannot vouch for output ${index} of task ${task.id}`,
    );
  }
}

function fileHeaders(res: OutputFetchResponse, output: TaskOutput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = first(res.headers[name]);
    if (value !== undefined) out[name] = value;
  }
  const type = out['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (!type || GENERIC_TYPES.has(type)) out['content-type'] = output.contentType;
  return out;
}

/** Drops a body nobody will read (its HTTP client reports that as an abort nobody waits for). */
function discard(res: OutputFetchResponse): void {
  res.body.on('error', () => {}).destroy();
}
