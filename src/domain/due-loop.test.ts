import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DueLoop } from './due-loop.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store of due item ids: each is claimed once. */
function queueOf(ids: string[]) {
  const due = [...ids];
  return {
    due,
    claim: async (_now: number, limit: number) => due.splice(0, limit),
    nextDueAt: async () => (due.length > 0 ? 0 : null),
  };
}

const loops: DueLoop<string>[] = [];
afterEach(async () => {
  for (const loop of loops.splice(0)) await loop.stop();
});

function loopOf(
  ids: string[],
  handle: (id: string) => Promise<void>,
  o: { concurrency: number; batchSize?: number },
) {
  const q = queueOf(ids);
  const loop = new DueLoop<string>({
    name: 'test',
    ...q,
    handle,
    idOf: (id) => id,
    logger,
    batchSize: o.batchSize ?? 10,
    concurrency: o.concurrency,
    idleMs: 20,
  });
  loops.push(loop);
  return { loop, q };
}

describe('DueLoop', () => {
  it('keeps handling other items while one hangs, never more than `concurrency` at once', async () => {
    const done: string[] = [];
    let active = 0;
    let most = 0;
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    const ids = ['slow', ...Array.from({ length: 9 }, (_, i) => `fast${i}`)];
    const { loop } = loopOf(
      ids,
      async (id) => {
        active++;
        most = Math.max(most, active);
        await (id === 'slow' ? hang : sleep(5));
        active--;
        done.push(id);
      },
      { concurrency: 3, batchSize: 2 },
    );
    loop.start();
    await sleep(300);
    expect(done).toHaveLength(9);
    expect(done).not.toContain('slow');
    expect(most).toBe(3);
    release();
    await sleep(50);
    expect(done).toContain('slow');
  });

  it('claims again as soon as a worker frees up when the pool was full', async () => {
    const started: number[] = [];
    const { loop } = loopOf(
      ['a', 'b', 'c'],
      async () => {
        started.push(Date.now());
        await sleep(30);
      },
      { concurrency: 1 },
    );
    loop.start();
    await sleep(200);
    expect(started).toHaveLength(3);
    // Not an idle wait (20 ms) between items, nor all at once: one after the other.
    expect(started[2]! - started[0]!).toBeGreaterThanOrEqual(55);
    expect(started[2]! - started[0]!).toBeLessThan(150);
  });

  it('stop() waits for the items in progress', async () => {
    let finished = false;
    const { loop } = loopOf(
      ['x'],
      async () => {
        await sleep(50);
        finished = true;
      },
      { concurrency: 2 },
    );
    loop.start();
    await sleep(10);
    await loop.stop();
    expect(finished).toBe(true);
  });
});
describe('DueLoop stopping', () => {
  /** A loop over `claim` that records what it handled and what it handed back. */
  function recordingLoop(claim: () => Promise<string[]>) {
    const handled: string[] = [];
    const released: string[] = [];
    const loop = new DueLoop<string>({
      name: 'test',
      claim,
      nextDueAt: async () => null,
      handle: async (item) => void handled.push(item),
      release: async (item) => void released.push(item),
      idOf: (item) => item,
      logger,
      batchSize: 10,
      idleMs: 60_000,
    });
    return { loop, handled, released };
  }

  it('hands back what a claim returned after stop() instead of handling it', async () => {
    let answerClaim: (items: string[]) => void = () => {};
    const claimed = new Promise<string[]>((resolve) => (answerClaim = resolve));
    let claims = 0;
    const { loop, handled, released } = recordingLoop(() =>
      claims++ === 0 ? claimed : Promise.resolve([]),
    );
    loop.start();
    await new Promise((r) => setTimeout(r, 5));
    expect(claims).toBe(1);
    // SIGTERM while the claim is on its way back: the claimed items are not started.
    const stopping = loop.stop();
    answerClaim(['a', 'b']);
    await stopping;
    expect(handled).toEqual([]);
    expect(released.sort()).toEqual(['a', 'b']);
  });

  it('handles what it claimed while running', async () => {
    let first = true;
    const { loop, handled, released } = recordingLoop(async () =>
      first ? ((first = false), ['a']) : [],
    );
    loop.start();
    await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(handled).toEqual(['a']);
    expect(released).toEqual([]);
  });
});
