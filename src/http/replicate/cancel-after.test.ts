import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors/gateway-error.js';
import { cancelAfterSeconds } from './cancel-after.js';

describe("Cancel-After (Replicate's duration syntax)", () => {
  it('reads seconds, minutes, hours and their combinations; a bare number is seconds', () => {
    expect(cancelAfterSeconds('30s')).toBe(30);
    expect(cancelAfterSeconds('5m')).toBe(300);
    expect(cancelAfterSeconds('1h30m')).toBe(5400);
    expect(cancelAfterSeconds('1h2m3s')).toBe(3723);
    expect(cancelAfterSeconds(' 90 ')).toBe(90);
    expect(cancelAfterSeconds(undefined)).toBeUndefined();
  });

  it('refuses malformed values, values under 5 s and over a day, naming the header', () => {
    for (const bad of ['', 'soon', '4s', '0', '5 m', '1.5m', '-30s', '25h', 'm', '30s30s']) {
      let error: unknown;
      try {
        cancelAfterSeconds(bad);
      } catch (err) {
        error = err;
      }
      expect(error, bad).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).errors?.[0]?.path).toBe('headers.cancel-after');
    }
  });
});
