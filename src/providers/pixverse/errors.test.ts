import { describe, expect, it } from 'vitest';
import type { UpstreamResponse } from '../http-client.js';
import { pixverseErrCodeError, pixverseHttpError } from './errors.js';

const SECRET = 'px-secret-key-0123456789abcdef';
const res = (status: number, json: unknown, headers: UpstreamResponse['headers'] = {}) => ({
  status,
  json,
  headers,
});

describe('pixverse ErrCode mapping', () => {
  it.each([
    [400011, 'upstream_rejected', false],
    [400013, 'upstream_rejected', false],
    [400017, 'upstream_rejected', false],
    [400018, 'upstream_rejected', false],
    [400019, 'upstream_rejected', false],
    [400032, 'upstream_rejected', false],
    [500030, 'upstream_rejected', false],
    [500031, 'upstream_rejected', false],
    [500032, 'upstream_rejected', false],
    [500033, 'upstream_rejected', false],
    [500041, 'upstream_rejected', false],
    [500042, 'upstream_rejected', false],
    [500043, 'upstream_credits_exhausted', false],
    [500090, 'upstream_credits_exhausted', false],
    [500044, 'upstream_rate_limited', true],
    [500052, 'moderation_failed', false],
    [500054, 'moderation_failed', false],
    [500063, 'moderation_failed', false],
    [500069, 'upstream_error', true],
    [10001, 'upstream_auth_failed', false],
    [10005, 'upstream_auth_failed', false],
    [400012, 'upstream_auth_failed', false],
    [500020, 'upstream_auth_failed', false],
    [500008, 'upstream_error', false],
    [500070, 'upstream_rejected', false],
    [400033, 'upstream_rejected', false],
    [500100, 'upstream_error', true],
    [99999, 'upstream_error', true],
  ])('%i → %s (retryable %s)', (code, expected, retryable) => {
    const err = pixverseErrCodeError(code, 'some message', [SECRET]);
    expect(err.code).toBe(expected);
    expect(err.retryable).toBe(retryable);
    expect(err.message).toContain(`ErrCode ${code}`);
  });

  it('gives image problems their own message', () => {
    expect(pixverseErrCodeError(500032, 'invalid image format', []).message).toMatch(
      /could not use the image/,
    );
    expect(pixverseErrCodeError(400017, 'invalid parameter', []).message).toMatch(
      /rejected the parameters/,
    );
  });

  it('asks to retry later on the concurrency limit and on overload', () => {
    expect(pixverseErrCodeError(500044, null, []).retryAfterMs).toBeGreaterThan(0);
    expect(pixverseErrCodeError(500069, null, []).retryAfterMs).toBeGreaterThan(0);
  });

  it('never repeats a secret the upstream echoed', () => {
    const err = pixverseErrCodeError(10002, `Invalid API-KEY ${SECRET}`, [SECRET]);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain('[redacted]');
  });
});

describe('pixverse HTTP answers', () => {
  it('HTTP 200 with ErrCode != 0 maps by ErrCode', () => {
    const err = pixverseHttpError(res(200, { ErrCode: 500090, ErrMsg: 'x', Resp: null }), []);
    expect(err.code).toBe('upstream_credits_exhausted');
  });

  it('HTTP 500 with the lower-case upload envelope maps by err_code', () => {
    const err = pixverseHttpError(res(500, { err_code: 500054, err_msg: 'x', resp: '' }), []);
    expect(err.code).toBe('moderation_failed');
  });

  it('plain 5xx is a retryable upstream_error', () => {
    for (const status of [500, 502, 503]) {
      const err = pixverseHttpError(res(status, undefined), []);
      expect(err.code).toBe('upstream_error');
      expect(err.retryable).toBe(true);
    }
  });

  it('HTTP 429 is upstream_rate_limited with Retry-After', () => {
    const err = pixverseHttpError(res(429, undefined, { 'retry-after': '7' }), []);
    expect(err).toMatchObject({
      code: 'upstream_rate_limited',
      retryable: true,
      retryAfterMs: 7000,
    });
    expect(pixverseHttpError(res(429, undefined), []).retryAfterMs).toBeGreaterThan(0);
  });

  it('401/403 are auth failures, 404 a configuration problem, other 4xx rejections', () => {
    expect(pixverseHttpError(res(401, undefined), []).code).toBe('upstream_auth_failed');
    expect(pixverseHttpError(res(403, undefined), []).code).toBe('upstream_auth_failed');
    expect(pixverseHttpError(res(404, undefined), []).message).toMatch(/PIXVERSE_BASE_URL/);
    expect(pixverseHttpError(res(400, undefined), []).code).toBe('upstream_rejected');
  });

  it('HTTP 200 without an envelope is a bad response', () => {
    expect(pixverseHttpError(res(200, { hello: 1 }), []).code).toBe('upstream_bad_response');
  });
});
