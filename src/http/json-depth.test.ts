import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json-depth.js';

const nest = (depth: number, array: boolean): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = array ? [v] : { a: v };
  return v;
};

describe('nestedDeeperThan', () => {
  it.each([true, false])('counts levels of arrays and objects (arrays: %s)', (array) => {
    expect(nestedDeeperThan(nest(MAX_JSON_DEPTH, array), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nest(MAX_JSON_DEPTH + 1, array), MAX_JSON_DEPTH)).toBe(true);
  });

  it('walks 100,000 levels without recursion, and wide values quickly', () => {
    expect(nestedDeeperThan(nest(100_000, true), MAX_JSON_DEPTH)).toBe(true);
    const wide = { a: Array.from({ length: 100_000 }, (_, i) => ({ i, s: 'x' })) };
    expect(nestedDeeperThan(wide, MAX_JSON_DEPTH)).toBe(false);
    for (const scalar of [null, 1, 'x', true, undefined]) {
      expect(nestedDeeperThan(scalar, 0)).toBe(false);
    }
  });
});
