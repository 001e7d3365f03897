/**
 * The suite-wide secret scan (architecture §5: secrets never reach logs, responses, metrics or
 * error messages; the tests prove it by searching everything they captured).
 *
 * Every app built by `buildTestApp` (and every child gateway of `child-gateway.ts`) gets a
 * `SecretScan` that checks each response, log line and /metrics scrape as it is captured, and
 * remembers only WHERE a secret showed up, never the secret itself. `close()` / `stop()` fail on
 * a hit; the vitest setup file (`secret-scan.setup.ts`) fails the file for scans that were never
 * closed. This module imports nothing of the app, so the setup file stays cheap for unit tests.
 */
import { DEV_GATEWAY_KEY } from '../../src/config/config.js';

/** A configured secret and what it is (the label is printed; the value never is). */
export interface LabelledSecret {
  label: string;
  value: string;
}

/** Shorter values would match by accident (and no config accepts them as a credential). */
const MIN_SECRET_LENGTH = 6;
const CONTEXT = 40;

export class SecretScan {
  private readonly secrets: LabelledSecret[];
  private readonly hits = new Set<string>();
  private reported = false;

  constructor(
    readonly name: string,
    secrets: readonly LabelledSecret[],
  ) {
    this.secrets = [];
    for (const s of secrets) this.add(s);
    live.add(this);
  }

  private readonly seen = new Set<string>();

  /**
   * Adds a secret made while the app runs (a gateway key created through the admin API):
   * from now on it is searched for like the configured ones.
   */
  add(s: LabelledSecret): void {
    if (s.value.length < MIN_SECRET_LENGTH || s.value === DEV_GATEWAY_KEY) return;
    // The secret as written, and URL-encoded (a query string or a redirect would carry it so).
    for (const value of new Set([s.value, encodeURIComponent(s.value)])) {
      if (this.seen.has(value)) continue;
      this.seen.add(value);
      this.secrets.push({ label: s.label, value });
    }
    // Longest first, so masking a snippet never leaves the tail of a longer secret behind.
    this.secrets.sort((a, b) => b.value.length - a.value.length);
  }

  /** `text` with every secret replaced by `<label>`: safe to print. */
  mask(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s.value)) out = out.split(s.value).join(`<${s.label}>`);
    }
    return out;
  }

  /** Records a hit for every secret found in `text`; `where` says what the text was. */
  check(where: string, text: string | undefined | null): void {
    if (!text) return;
    for (const s of this.secrets) {
      const at = text.indexOf(s.value);
      if (at === -1) continue;
      const before = this.mask(text.slice(Math.max(0, at - CONTEXT), at));
      this.hits.add(
        `${shorten(this.mask(where))}: ${s.label} found after ${JSON.stringify(`…${before}`)}`,
      );
    }
  }

  /** Where secrets showed up so far (descriptions only). */
  leaks(): string[] {
    return [...this.hits];
  }

  /** Throws a readable error when a secret showed up; at most once per scan. */
  assertClean(): void {
    live.delete(this);
    if (this.reported) return;
    const leaks = this.leaks();
    if (leaks.length === 0) return;
    this.reported = true;
    throw new SecretLeakError(this.name, leaks);
  }

  /** For the setup file: the report of a scan whose owner never called `assertClean`. */
  takeUnreported(): string[] {
    live.delete(this);
    if (this.reported) return [];
    this.reported = true;
    return this.leaks();
  }
}

/** Long descriptions (a fuzzed URL) cut in the middle; masked before, so no secret shows. */
function shorten(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max / 2)}…${text.slice(-max / 2)}`;
}

export class SecretLeakError extends Error {
  constructor(name: string, leaks: readonly string[]) {
    super(
      `A configured secret appeared in what ${name} exposed (values not shown):\n` +
        leaks.map((l) => `  - ${l}`).join('\n'),
    );
    this.name = 'SecretLeakError';
  }
}

/** Scans not yet closed; the setup file's afterAll checks them (and runs their flush). */
const live = new Set<SecretScan>();
const flushers = new WeakMap<SecretScan, () => Promise<void>>();

/** Work to do before an unclosed scan is judged (scan the remaining logs, scrape /metrics). */
export function onFlush(scan: SecretScan, flush: () => Promise<void>): void {
  flushers.set(scan, flush);
}

/** Every leak of the scans still open at the end of a test file. */
export async function unreportedLeaks(): Promise<string[]> {
  const out: string[] = [];
  for (const scan of [...live]) {
    await flushers
      .get(scan)?.()
      .catch(() => {});
    out.push(...scan.takeUnreported().map((l) => `${scan.name}: ${l}`));
  }
  return out;
}

/**
 * Gateway secrets named by an environment (child processes, env-only configs): gateway keys,
 * upstream keys and tokens, webhook secrets (ours and the upstreams'), the metrics and admin
 * tokens.
 */
export function secretsFromEnv(env: Record<string, string | undefined>): LabelledSecret[] {
  const names: Record<string, string> = {
    GATEWAY_API_KEYS: 'a gateway key',
    MODELSLAB_API_KEYS: 'a ModelsLab upstream key',
    REPLICATE_API_TOKEN: 'the Replicate upstream token',
    PIXVERSE_API_KEY: 'the PixVerse upstream key',
    HAIPER_ACCESS_KEY: 'the Haiper access key',
    WEBHOOK_SECRET: 'WEBHOOK_SECRET',
    REPLICATE_WEBHOOK_SECRET: 'a Replicate webhook secret',
    PIXVERSE_WEBHOOK_SECRET: 'the PixVerse webhook secret',
    METRICS_TOKEN: 'METRICS_TOKEN',
    ADMIN_TOKEN: 'ADMIN_TOKEN',
  };
  return Object.entries(names).flatMap(([name, label]) =>
    (env[name] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean)
      .map((value) => ({ label: `${label} (${name})`, value })),
  );
}
