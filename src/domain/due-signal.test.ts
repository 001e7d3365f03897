import { describe, expect, it, vi } from 'vitest';
import { DueLoop } from './due-loop.js';
import { DueSignal } from './due-signal.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('DueSignal', () => {
  it('tells every listener each due time until it stops listening', () => {
    const signal = new DueSignal();
    const a: number[] = [];
    const b: number[] = [];
    const stopA = signal.listen((at) => a.push(at));
    signal.listen((at) => b.push(at));
    signal.raise(10);
    stopA();
    signal.raise(20);
    expect(a).toEqual([10]);
    expect(b).toEqual([10, 20]);
  });

  it('raising with nobody listening is harmless (the loop is off)', () => {
    expect(() => new DueSignal().raise(1)).not.toThrow();
  });

  it('wakes a DueLoop listening to it only while the loop runs', async () => {
    const signal = new DueSignal();
    let dueAt = Infinity;
    const handled: number[] = [];
    const loop = new DueLoop<number>({
      name: 'test',
      claim: async (now) => (now >= dueAt ? [dueAt] : []),
      nextDueAt: async () => null,
      handle: async (item) => {
        handled.push(item);
        dueAt = Infinity;
      },
      idOf: String,
      logger: silent,
      batchSize: 10,
      // Without the signal, new work would wait this long.
      idleMs: 60_000,
      wakeOn: signal,
    });
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const first = (dueAt = Date.now());
    signal.raise(first);
    await vi.waitFor(() => expect(handled).toEqual([first]));
    await loop.stop();
    dueAt = Date.now();
    signal.raise(dueAt);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toHaveLength(1);
  });
});
