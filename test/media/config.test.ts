import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('media storage configuration', () => {
  it('defaults: file:./data/media, 24 h links, 30 days of retention', () => {
    const { media } = loadConfig({});
    expect(media).toMatchObject({
      storeUrl: 'file:./data/media',
      linkTtlMs: 86_400_000,
      retentionMs: 30 * 86_400_000,
      signingKey: null,
      s3: { endpoint: null, region: 'us-east-1', forcePathStyle: false },
    });
  });

  it('reads s3:// with its endpoint, and durations in days', () => {
    const { media } = loadConfig({
      MEDIA_STORE_URL: 's3://my-bucket/genway/outputs',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'true',
      MEDIA_RETENTION: '7d',
      MEDIA_LINK_TTL: '1h',
    });
    expect(media).toMatchObject({
      storeUrl: 's3://my-bucket/genway/outputs',
      s3: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true },
      retentionMs: 7 * 86_400_000,
      linkTtlMs: 3_600_000,
    });
  });

  it('names every bad media variable at once', () => {
    const problems = problemsOf({
      MEDIA_STORE_URL: 'ftp://somewhere',
      MEDIA_SIGNING_KEY: 'short',
      MEDIA_RETENTION: 'forever',
    }).join('\n');
    expect(problems).toMatch(/MEDIA_STORE_URL/);
    expect(problems).toMatch(/MEDIA_SIGNING_KEY/);
    expect(problems).toMatch(/MEDIA_RETENTION/);
  });
});
