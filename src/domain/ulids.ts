import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/**
 * Cryptographic randomness in [0, 1) from a pooled buffer. ulid draws one byte per random
 * character (16 per id), by default each through its own getRandomValues call: a create paid
 * 16 system calls for its task id.
 */
export function pooledRandom(): number {
  if (used === POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  return pool[used++]! / 256;
}

/** A monotonic ULID generator (sortable within a millisecond) on pooled randomness. */
export const monotonicUlid = () => monotonicFactory(pooledRandom);
