import { describe, expect, it } from 'vitest';
import { preferWaitSeconds, preferredWait } from './wait.js';

describe('preferredWait', () => {
  it('finds the wait preference among others, by RFC 7240 tokens', () => {
    expect(preferredWait(undefined)).toBeUndefined();
    expect(preferredWait('respond-async')).toBeUndefined();
    expect(preferredWait('wait=10')).toBe(10);
    expect(preferredWait('respond-async, wait=3')).toBe(3);
    expect(preferredWait('handling=lenient; WAIT = 7')).toBe(7);
    expect(preferredWait(['respond-async', 'wait=2'])).toBe(2);
    expect(preferredWait('wait')).toBeNull();
  });

  it('ignores malformed values instead of guessing', () => {
    expect(preferredWait('wait=banana')).toBeUndefined();
    expect(preferredWait('wait=99999999999999999999')).toBeUndefined();
    expect(preferredWait('wait=-1')).toBeUndefined();
    expect(preferredWait('nowait=5')).toBeUndefined();
  });
});

describe('preferWaitSeconds (/v1)', () => {
  it('holds N seconds up to the cap; a bare wait or none holds nothing', () => {
    expect(preferWaitSeconds('wait=5', 60)).toBe(5);
    expect(preferWaitSeconds('wait=500', 60)).toBe(60);
    expect(preferWaitSeconds('wait=0', 60)).toBe(0);
    expect(preferWaitSeconds('wait', 60)).toBe(0);
    expect(preferWaitSeconds(undefined, 60)).toBe(0);
  });
});
