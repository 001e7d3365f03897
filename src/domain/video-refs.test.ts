import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.js';
import type { TaskOutput, TaskRecord } from './task-record.js';
import { videoRefOf, videoRefUrl } from './video-refs.js';

const NOW = Date.UTC(2026, 0, 1);
const VIDEO: TaskOutput = {
  url: 'https://cdn.example/v.mp4',
  contentType: 'video/mp4',
  expiresAt: null,
};

function source(over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: 'task_src',
    tenant: 'me',
    status: 'succeeded',
    outputs: [VIDEO],
    deletedAt: null,
    ...over,
  } as TaskRecord;
}

/** The code of the GatewayError `run` throws. */
function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isGatewayError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('videoRefOf', () => {
  it('only task ids, only for operations that take a video', () => {
    expect(videoRefOf('video-upscale', 'task_01')).toBe('task_01');
    expect(videoRefOf('video-extend', 'task_01')).toBe('task_01');
    expect(videoRefOf('video-upscale', 'https://cdn.example/v.mp4')).toBeUndefined();
    expect(videoRefOf('image-to-video', 'task_01')).toBeUndefined();
    expect(videoRefOf('video-upscale', undefined)).toBeUndefined();
  });
});

describe('videoRefUrl', () => {
  it("is the first output of the caller's succeeded task", () => {
    expect(videoRefUrl('task_src', source(), 'me', NOW)).toBe(VIDEO.url);
  });

  it("unknown, deleted and other tenants' tasks are not found alike", () => {
    expect(codeOf(() => videoRefUrl('task_src', undefined, 'me', NOW))).toBe('task_not_found');
    expect(codeOf(() => videoRefUrl('task_src', source(), 'other', NOW))).toBe('task_not_found');
    const deleted = source({ deletedAt: NOW - 1 });
    expect(codeOf(() => videoRefUrl('task_src', deleted, 'me', NOW))).toBe('task_not_found');
  });

  it('a task that has not succeeded, or has no outputs, is not ready', () => {
    const running = source({ status: 'running', outputs: [] });
    expect(codeOf(() => videoRefUrl('task_src', running, 'me', NOW))).toBe('output_not_ready');
    const empty = source({ outputs: [] });
    expect(codeOf(() => videoRefUrl('task_src', empty, 'me', NOW))).toBe('output_not_ready');
  });

  it('the first output must be a video whose link has not expired', () => {
    const image = source({ outputs: [{ ...VIDEO, contentType: 'image/png' }] });
    expect(codeOf(() => videoRefUrl('task_src', image, 'me', NOW))).toBe('invalid_request');
    const expired = source({ outputs: [{ ...VIDEO, expiresAt: NOW }] });
    expect(codeOf(() => videoRefUrl('task_src', expired, 'me', NOW))).toBe('output_expired');
  });
});

describe('videoRefUrl with stored copies', () => {
  const links = {
    link: (id: string, i: number) => `https://genway.example/media/tasks/${id}/${i}?s`,
  };
  const stored = (expiresAt: number) => ({
    bytes: 10,
    sha256: 'ab',
    contentType: 'video/mp4',
    storedAt: NOW - 1000,
    expiresAt,
  });
  const deadLink = { ...VIDEO, expiresAt: NOW - 1 };

  it("gives genway's link to the copy while it is retained, whatever the upstream link", () => {
    const task = source({ outputs: [{ ...deadLink, stored: stored(NOW + 1000) }] });
    expect(videoRefUrl('task_src', task, 'me', NOW, links)).toBe(
      'https://genway.example/media/tasks/task_src/0?s',
    );
  });

  it("falls back to the upstream's link without links to give or once the copy is purged", () => {
    const live = source({ outputs: [{ ...VIDEO, stored: stored(NOW + 1000) }] });
    expect(videoRefUrl('task_src', live, 'me', NOW)).toBe(VIDEO.url);
    const purged = source({ outputs: [{ ...deadLink, stored: stored(NOW - 1) }] });
    expect(codeOf(() => videoRefUrl('task_src', purged, 'me', NOW, links))).toBe('output_expired');
  });
});
