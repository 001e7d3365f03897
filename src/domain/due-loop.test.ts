import { describe, expect, it } from 'vitest';
import { DueLoop } from './due-loop.js';

const silent = { error() {}, warn() {}, info() {}, debug() {} };

describe('DueLoop stopping', () => {
  it('hands back what a claim returned after stop() instead of handling it', async () => {
    let answerClaim: (items: string[]) => void = () => {};
    const claimed = new Promise<string[]>((resolve) => (answerClaim = resolve));
    let claims = 0;
    const handled: string[] = [];
    const released: string[] = [];
    const loop = new DueLoop<string>({
      name: 'test',
      claim: () => (claims++ === 0 ? claimed : Promise.resolve([])),
      nextDueAt: async () => null,
      handle: async (item) => void handled.push(item),
      release: async (item) => void released.push(item),
      idOf: (item) => item,
      logger: silent,
      batchSize: 10,
      idleMs: 60_000,
    });
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
    const handled: string[] = [];
    const released: string[] = [];
    let first = true;
    const loop = new DueLoop<string>({
      name: 'test',
      claim: async () => (first ? ((first = false), ['a']) : []),
      nextDueAt: async () => null,
      handle: async (item) => void handled.push(item),
      release: async (item) => void released.push(item),
      idOf: (item) => item,
      logger: silent,
      batchSize: 10,
      idleMs: 60_000,
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(handled).toEqual(['a']);
    expect(released).toEqual([]);
  });
});
