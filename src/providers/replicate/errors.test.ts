import { describe, expect, it } from 'vitest';
import type { UpstreamResponse } from '../http-client.js';
import { replicateError } from './errors.js';

const TOKEN = 'r8_secret_token_abcdef0123456789';
const res = (
  status: number,
  json: unknown,
  headers: UpstreamResponse['headers'] = {},
): UpstreamResponse => ({ status, json, headers });

describe('replicateError', () => {
  it('401/403 → upstream_auth_failed (502), not retryable', () => {
    const err = replicateError(
      res(401, {
        title: 'Unauthenticated',
        detail: 'You did not pass a valid authentication token',
        status: 401,
      }),
      'create',
      [TOKEN],
    );
    expect(err).toMatchObject({ code: 'upstream_auth_failed', status: 502, retryable: false });
    expect(err.message).toContain('You did not pass a valid authentication token');
    expect(replicateError(res(403, {}), 'poll', []).code).toBe('upstream_auth_failed');
  });

  it('402 → upstream_credits_exhausted', () => {
    const err = replicateError(
      res(402, { title: 'Billing required', detail: 'You need to set up billing.', status: 402 }),
      'create',
      [],
    );
    expect(err.code).toBe('upstream_credits_exhausted');
    expect(err.message).toContain('Billing required: You need to set up billing.');
  });

  it('404 → model_not_found on create, upstream_rejected on a poll', () => {
    const body = { title: 'Not found', detail: 'Not found.', status: 404 };
    const create = replicateError(res(404, body), 'create', []);
    expect(create.code).toBe('model_not_found');
    expect(create.errors?.[0]?.path).toBe('model');
    expect(replicateError(res(404, body), 'poll', [])).toMatchObject({
      code: 'upstream_rejected',
      retryable: false,
    });
  });

  it('422 → upstream_rejected with the detail (or the invalid fields)', () => {
    const err = replicateError(
      res(422, {
        title: 'Invalid version or not permitted',
        detail:
          "The specified version does not exist (or perhaps you don't have permission to use it?)",
        status: 422,
      }),
      'create',
      [],
    );
    expect(err).toMatchObject({ code: 'upstream_rejected', status: 422 });
    expect(err.message).toContain('The specified version does not exist');
    const fields = replicateError(
      res(422, {
        title: 'Input validation failed',
        invalid_fields: [
          { type: 'x', field: 'input.width', description: 'Must be a multiple of 64' },
        ],
      }),
      'create',
      [],
    );
    expect(fields.message).toContain('input.width: Must be a multiple of 64');
  });

  it('429 → upstream_rate_limited, retryable, waiting per Retry-After, the detail, or 10 s', () => {
    const header = replicateError(
      res(429, { detail: 'Request was throttled.' }, { 'retry-after': '3' }),
      'poll',
      [],
    );
    expect(header).toMatchObject({
      code: 'upstream_rate_limited',
      retryable: true,
      retryAfterMs: 3000,
    });
    expect(
      replicateError(
        res(429, { detail: 'Request was throttled. Expected available in 7 seconds.' }),
        'poll',
        [],
      ).retryAfterMs,
    ).toBe(7000);
    expect(
      replicateError(res(429, { detail: 'Your rate limit resets in ~30s.' }), 'poll', [])
        .retryAfterMs,
    ).toBe(30_000);
    expect(replicateError(res(429, undefined), 'poll', []).retryAfterMs).toBe(10_000);
  });

  it('5xx → upstream_error, retryable; bodies that are not JSON still give a message', () => {
    const err = replicateError(res(503, undefined), 'poll', []);
    expect(err).toMatchObject({ code: 'upstream_error', retryable: true });
    expect(err.message).toContain('HTTP 503');
  });

  it('other 4xx → upstream_rejected', () => {
    expect(
      replicateError(res(400, { status: 400, detail: 'Invalid input' }), 'create', []).code,
    ).toBe('upstream_rejected');
  });

  it('never repeats a secret the upstream echoed', () => {
    const err = replicateError(res(401, { detail: `token ${TOKEN} is not valid` }), 'poll', [
      TOKEN,
    ]);
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).toContain('[redacted]');
  });
});
