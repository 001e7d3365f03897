import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

// No Docker engine runs here: these tests check what can be checked by reading the files.
const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const dockerfile = read('Dockerfile');
// Instructions with their continuation lines joined.
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (line.startsWith('FROM ')) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const defaults = loadConfig({});

describe('Dockerfile', () => {
  it('is multi-stage and the runtime stage copies the build output from the build stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.some((l) => /^COPY --from=build .* \/app\/dist \.\/dist$/.test(l))).toBe(true);
  });

  it('uses a Node version that package.json engines allow', () => {
    const major = Number(/^FROM node:(\d+)/.exec(runtime[0] ?? '')?.[1]);
    const engines = JSON.parse(read('package.json')).engines.node as string;
    expect(engines).toContain(`>=${major}.`);
  });

  it('runs as a non-root user, set before the command', () => {
    const user = runtime.findIndex((l) => l.startsWith('USER '));
    expect(user).toBeGreaterThan(-1);
    expect(runtime[user]).not.toMatch(/^USER (root|0)\b/);
    expect(user).toBeLessThan(runtime.findIndex((l) => l.startsWith('CMD ')));
  });

  it('starts dist/server.js, which the build config produces from src/server.ts', () => {
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/server.js"]');
    const build = JSON.parse(read('tsconfig.build.json')).compilerOptions;
    expect(build).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(new URL('src/server.ts', root))).toBe(true);
  });

  it('exposes and health-checks the port the gateway listens on', () => {
    expect(runtime).toContain(`EXPOSE ${defaults.port}`);
    const health = runtime.find((l) => l.startsWith('HEALTHCHECK ')) ?? '';
    expect(health).toContain('/healthz');
    expect(health).toContain(`process.env.PORT || ${defaults.port}`);
  });

  it('keeps the SQLite store on the declared volume', () => {
    expect(runtime.some((l) => l.includes('STORE_URL=sqlite:/data/'))).toBe(true);
    expect(runtime).toContain('VOLUME ["/data"]');
  });

  it('copies only files that exist in the repository', () => {
    for (const line of stages[0] ?? []) {
      const m = /^COPY (?!--from)(.+) \S+$/.exec(line);
      for (const src of m?.[1]?.split(' ') ?? [])
        expect(existsSync(new URL(src, root)), src).toBe(true);
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml'));
  const service = compose.services.genway;

  it('builds this Dockerfile and publishes the gateway port', () => {
    expect(service.build).toBe('.');
    expect(service.ports).toContain(`${defaults.port}:${defaults.port}`);
  });

  it('mounts a named volume where STORE_URL points', () => {
    expect(service.environment.STORE_URL).toBe('sqlite:/data/genway.db');
    expect(service.volumes).toContain('genway-data:/data');
    expect(compose.volumes).toHaveProperty('genway-data');
  });

  it('reads an optional env file, whose example names real configuration variables', () => {
    expect(service.env_file).toEqual([{ path: '.env', required: false }]);
    const example = read('.env.example');
    // genway's own variables, and each provider's in its module.
    const schemas = [
      read('src/config/schema.ts'),
      ...readdirSync(new URL('src/providers/', root), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => read(`src/providers/${entry.name}/index.ts`)),
    ].join('\n');
    // Declared as a schema key (`NAME:`), or named as a string where a helper declares it.
    for (const name of example.matchAll(/^#?\s*([A-Z_]+)=/gm)) {
      expect(schemas, name[1]).toMatch(new RegExp(`\\b${name[1]}:|'${name[1]}'`));
    }
  });
});

describe('docker-compose.yml profile cluster', () => {
  // Compose resolves YAML merge keys (`<<: *cluster-instance`).
  const services = parseYaml(read('docker-compose.yml'), { merge: true }).services as Record<
    string,
    Record<string, unknown> & { profiles?: string[]; environment?: Record<string, string> }
  >;
  const inProfile = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster'));
  const instances = inProfile.filter(([, s]) => s.build === '.');

  it('runs Redis with AOF and noeviction, several genway instances and a load balancer', () => {
    const redis = services.redis!;
    expect(redis.profiles).toEqual(['cluster']);
    const command = (redis.command as string[]).join(' ');
    expect(command).toMatch(/--appendonly yes\b/);
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    expect(instances.length).toBeGreaterThanOrEqual(3);
    expect(services.lb?.profiles).toEqual(['cluster']);
    // The default service stays the single-instance one.
    expect(services.genway?.profiles).toBeUndefined();
  });

  it('every instance shares one STORE_URL on that Redis and one key prefix', () => {
    const urls = new Set(instances.map(([, s]) => s.environment?.STORE_URL));
    expect([...urls]).toEqual(['redis://redis:6379']);
    expect(new Set(instances.map(([, s]) => s.environment?.REDIS_KEY_PREFIX)).size).toBe(1);
    for (const [, s] of instances) expect(s.depends_on).toHaveProperty('redis');
    expect(loadConfig({ STORE_URL: 'redis://redis:6379' }).storeUrl).toBe('redis://redis:6379');
  });

  it('the load balancer config it mounts exists and names every instance', () => {
    const mount = (services.lb!.volumes as string[])[0]!;
    const file = mount.split(':')[0]!.replace(/^\.\//, '');
    const conf = read(file);
    for (const [name] of instances) expect(conf).toContain(`server ${name}:8080`);
    expect(conf).toMatch(/listen 8090;/);
    expect(services.lb!.ports).toContain('8090:8090');
  });
});
