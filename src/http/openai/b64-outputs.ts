import type { Readable } from 'node:stream';
import type { TaskRecord } from '../../domain/task-record.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { RouteDeps } from '../route-deps.js';

/**
 * `response_format: b64_json` answers hold the files in memory to encode them: each output is
 * capped, so is their total in one answer, and so is the number of answers encoded at once
 * (per tenant and in all), so that a flood of them cannot exhaust the process's memory.
 */

/** Caps on reading one output (it is held in memory to encode it). */
export const B64_MAX_BYTES = 25 * 1024 * 1024;
/** Cap on the outputs of one answer together (raw bytes; base64 adds a third). */
export const B64_MAX_TOTAL_BYTES = 50 * 1024 * 1024;
export const B64_TIMEOUT_MS = 60_000;
/** Answers encoded at once, in all and per tenant; the others wait their turn. */
export const B64_CONCURRENT = 4;
export const B64_CONCURRENT_PER_TENANT = 2;

/** Places for b64_json answers being encoded; a waiter leaves when its client does. */
export class EncodingSlots {
  private total = 0;
  private readonly byTenant = new Map<string, number>();
  private readonly waiting: { tenant: string; wake: () => void }[] = [];

  constructor(
    private readonly caps = { total: B64_CONCURRENT, perTenant: B64_CONCURRENT_PER_TENANT },
  ) {}

  /** Waits for a place (at most `maxWaitMs`); resolves to the function that gives it back. */
  async take(tenant: string, signal: AbortSignal, maxWaitMs: number): Promise<() => void> {
    while (!this.free(tenant)) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const entry = { tenant, wake: () => done(resolve) };
        const timer = setTimeout(() => done(() => reject(busy())), maxWaitMs);
        const onAbort = () => done(() => reject(signal.reason as Error));
        const done = (then: () => void) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          const at = this.waiting.indexOf(entry);
          if (at !== -1) this.waiting.splice(at, 1);
          then();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(entry);
      });
    }
    this.total++;
    this.byTenant.set(tenant, (this.byTenant.get(tenant) ?? 0) + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total--;
      const left = (this.byTenant.get(tenant) ?? 1) - 1;
      if (left > 0) this.byTenant.set(tenant, left);
      else this.byTenant.delete(tenant);
      // Every waiter looks again; those still without a place wait anew.
      for (const w of this.waiting.slice()) w.wake();
    };
  }

  private free(tenant: string): boolean {
    return this.total < this.caps.total && (this.byTenant.get(tenant) ?? 0) < this.caps.perTenant;
  }
}

const busy = () =>
  new GatewayError(
    'rate_limited',
    'Too many b64_json answers are being encoded; ask for response_format=url, or retry later',
    { retryAfterMs: 1000 },
  );

/**
 * The outputs of a succeeded task, base64, read one at a time through the output service
 * (which only follows URLs the provider's adapter vouches for), each and all together capped.
 */
export async function encodeOutputs(
  deps: RouteDeps,
  task: TaskRecord,
  signal: AbortSignal,
): Promise<{ b64_json: string }[]> {
  const encoded: { b64_json: string }[] = [];
  let total = 0;
  for (let i = 0; i < task.outputs.length; i++) {
    const room = Math.min(B64_MAX_BYTES, B64_MAX_TOTAL_BYTES - total);
    const bytes = await readOutput(deps, task, i, signal, room, total);
    total += bytes.length;
    encoded.push({ b64_json: bytes.toString('base64') });
  }
  return encoded;
}

async function readOutput(
  deps: RouteDeps,
  task: TaskRecord,
  index: number,
  signal: AbortSignal,
  room: number,
  before: number,
): Promise<Buffer> {
  const timeout = AbortSignal.timeout(B64_TIMEOUT_MS);
  const both = AbortSignal.any([signal, timeout]);
  let out;
  try {
    out = await deps.outputs.open(task.tenant, task.id, index, { method: 'GET', signal: both });
  } catch (err) {
    if (timeout.aborted) throw tooSlow(task, index);
    throw err;
  }
  if (out.status !== 200) {
    throw new GatewayError(
      'upstream_bad_response',
      `${task.provider} answered ${out.status} for output ${index} of task ${task.id}`,
    );
  }
  try {
    return await collect(out.body, room, () => tooBig(task, index, before));
  } catch (err) {
    if (timeout.aborted) throw tooSlow(task, index);
    throw err;
  }
}

/** An output over its own cap, or one that takes the answer over the total cap. */
function tooBig(task: TaskRecord, index: number, before: number): GatewayError {
  const mb = (n: number) => `${n / 1024 / 1024} MB`;
  const where = `the task succeeded: its outputs are at GET /v1/tasks/${task.id}`;
  const why =
    B64_MAX_TOTAL_BYTES - before >= B64_MAX_BYTES
      ? `Output ${index} of task ${task.id} is larger than ${mb(B64_MAX_BYTES)}`
      : `The outputs of task ${task.id} exceed ${mb(B64_MAX_TOTAL_BYTES)} in all (at output ${index})`;
  return new GatewayError(
    'upstream_bad_response',
    `${why}, more than genway inlines as b64_json; ask for response_format=url (${where})`,
  );
}

const tooSlow = (task: TaskRecord, index: number) =>
  new GatewayError(
    'upstream_timeout',
    `${task.provider} did not deliver output ${index} of task ${task.id} within ${B64_TIMEOUT_MS / 1000} s`,
  );

async function collect(body: Readable, max: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      size += buf.length;
      if (size > max) throw tooLarge();
      chunks.push(buf);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}
