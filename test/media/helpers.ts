import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { auth, waitForTerminal } from '../helpers/test-app.js';

export type Json = Record<string, unknown>;
export interface StoredOutput {
  url: string;
  content_type: string;
  bytes?: number;
  sha256?: string;
  expires_at: string | null;
  stored?: boolean;
  store_error?: string;
  poster_url?: string;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A signed link as a path for `inject` (links are absolute). */
export const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

export async function createAndFinish(
  app: FastifyInstance,
  route: string,
  payload: Json,
): Promise<Json & { id: string; outputs: StoredOutput[] }> {
  const res = await app.inject({ method: 'POST', url: route, headers: auth(), payload });
  expect(res.statusCode).toBe(201);
  const id = (res.json() as { id: string }).id;
  const task = await waitForTerminal(app, id, undefined, 20_000);
  expect(task.status).toBe('succeeded');
  return task as Json & { id: string; outputs: StoredOutput[] };
}
