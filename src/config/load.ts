import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { settingsIn, type ProviderModule } from '../providers/provider-module.js';
import { PROVIDERS } from '../providers/registry.js';
import { DEV_GATEWAY_KEY, type Config } from './config.js';
import { configSchema } from './schema.js';

export { tenantIdForKey } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Replaces `${VAR}` in every string of a parsed file; unknown variables are reported. */
function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: string,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) problems.push(`GATEWAY_CONFIG ${path}: variable \${${name}} is not set`);
      return v ?? '';
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => interpolate(v, env, problems, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        interpolate(v, env, problems, path ? `${path}.${k}` : k),
      ]),
    );
  }
  return value;
}

/** The file's content with `${VAR}`s replaced; undefined (and a problem) when unreadable. */
function readFileConfig(file: string, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`GATEWAY_CONFIG: cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  return interpolate(raw ?? {}, env, problems, '');
}

/** Each issue naming its variable, or `GATEWAY_CONFIG <path>` for the file's fields. */
function describe(issue: z.core.$ZodIssue): string {
  const [part, ...path] = issue.path;
  const where = part === 'file' ? `GATEWAY_CONFIG ${path.join('.') || '(root)'}` : String(path[0]);
  return `${where}: ${issue.message}`;
}

/** Every problem, in the order of the input: variables, then the file (read, then fields). */
function problemsOf(error: z.ZodError | undefined, fileProblems: string[]): string[] {
  const issues = error?.issues ?? [];
  const inFile = (issue: z.core.$ZodIssue) => issue.path[0] === 'file';
  return [
    ...issues.filter((i) => !inFile(i)).map(describe),
    ...fileProblems,
    ...issues.filter(inFile).map(describe),
  ];
}

/**
 * Reads and validates the whole configuration at once. Throws ConfigError listing every
 * problem, each naming its variable. `registry`: the providers whose variables and file
 * entries are read (tests add one).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  registry: readonly ProviderModule[] = PROVIDERS,
): Config {
  const fileProblems: string[] = [];
  const file = env.GATEWAY_CONFIG
    ? readFileConfig(env.GATEWAY_CONFIG, env, fileProblems)
    : undefined;
  const input = { env, providerEnv: env, file: file ?? {} };
  const schema = configSchema(registry);
  if (fileProblems.length > 0) {
    // A file that could not be read or names unset variables is not what the operator meant:
    // its values are checked, but no rule across fields runs over them.
    throw new ConfigError(problemsOf(schema.in.safeParse(input).error, fileProblems));
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error, []));
  return parsed.data;
}

/** Every secret in the configuration, for log redaction and the tests' secret scans. */
export function secretsOf(
  config: Config,
  registry: readonly ProviderModule[] = PROVIDERS,
): string[] {
  const credentialSecrets = Object.values(config.providers).flatMap((p) =>
    (p?.credentials ?? []).map((c) => c.secret),
  );
  const keys = config.tenants.flatMap((t) => t.keys).filter((k) => k !== DEV_GATEWAY_KEY);
  const providerSecrets = registry.flatMap((provider) => {
    const settings = settingsIn(config.providers, provider.id);
    return settings && provider.secrets ? provider.secrets(settings) : [];
  });
  return [
    ...credentialSecrets,
    ...keys,
    ...(config.webhookSecret ? [config.webhookSecret] : []),
    // Tenants' own signing secrets (configured or derived): never logged either.
    ...config.tenants.flatMap((t) => (t.webhookSecret ? [t.webhookSecret] : [])),
    ...providerSecrets,
    ...(config.metricsToken ? [config.metricsToken] : []),
    ...(config.adminToken ? [config.adminToken] : []),
    ...(config.media.signingKey ? [config.media.signingKey] : []),
  ];
}
