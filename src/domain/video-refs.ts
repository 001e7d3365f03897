import type { Operation } from '../contracts/common.js';
import { GatewayError } from '../errors/gateway-error.js';
import { isVisibleTo, type OutputLinks, type TaskRecord } from './task-record.js';

/** Operations whose `video` may name an earlier task of the caller instead of a URL. */
const VIDEO_REF_OPERATIONS: ReadonlySet<Operation> = new Set(['video-upscale', 'video-extend']);

/** The task id `video` names, when the operation takes one and it is one; else undefined. */
export function videoRefOf(operation: Operation, video: string | undefined): string | undefined {
  return VIDEO_REF_OPERATIONS.has(operation) && video?.startsWith('task_') ? video : undefined;
}

/**
 * The URL a `video: "task_…"` reference stands for: the first output of that task, which must
 * be the caller's own and succeeded. Unknown or another tenant's → 404 task_not_found; not
 * succeeded or without outputs → 409 output_not_ready; first output not a video → 400. Its
 * stored copy while retained, given `storedLinks` (public links the upstream can fetch); else
 * the upstream's link, past its `expires_at` → 410 output_expired.
 */
export function videoRefUrl(
  ref: string,
  source: TaskRecord | undefined,
  tenant: string,
  now: number,
  storedLinks?: OutputLinks,
): string {
  const field = (message: string) => ({ errors: [{ path: 'video', message }] });
  if (!isVisibleTo(source, tenant)) {
    const message = `No task ${ref}: video must be a URL or the id of one of your succeeded tasks`;
    throw new GatewayError('task_not_found', message, field(message));
  }
  const first = source.outputs[0];
  if (source.status !== 'succeeded' || !first) {
    const message =
      source.status === 'succeeded'
        ? `Task ${ref} succeeded without outputs; there is no video to use`
        : `Task ${ref} is ${source.status}; video can only name a succeeded task (wait for it to finish)`;
    throw new GatewayError('output_not_ready', message, field(message));
  }
  if (!first.contentType.startsWith('video/')) {
    const message = `The first output of task ${ref} is ${first.contentType}, not a video`;
    throw GatewayError.invalid([{ path: 'video', message }], message);
  }
  if (storedLinks && first.stored && first.stored.expiresAt > now) {
    return storedLinks.link(source.id, 0, 'file');
  }
  if (first.expiresAt !== null && first.expiresAt <= now) {
    const message = `The first output of task ${ref} expired at ${new Date(first.expiresAt).toISOString()}; the provider no longer serves it`;
    throw new GatewayError('output_expired', message, field(message));
  }
  return first.url;
}
