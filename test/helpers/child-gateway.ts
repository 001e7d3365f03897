import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SecretScan, onFlush, secretsFromEnv } from './secret-scan.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildGateway {
  child: ChildProcess;
  url: string;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `src/server.ts` as a real process on 127.0.0.1, a free port and a memory store, plus `env`. */
function spawnGateway(env: Record<string, string>) {
  return spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      STORE_URL: 'memory:',
      MEDIA_STORE_URL: 'none',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Runs `src/server.ts` as a real process (what `npm start` runs, minus the build) on a free
 * port of 127.0.0.1, and resolves once it listens.
 */
export async function startChildGateway(
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<ChildGateway> {
  const child = spawnGateway(env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // The process's output is its log: no configured secret may appear in it (checked on stop).
  const scan = new SecretScan('the child gateway', secretsFromEnv(env));
  const scanOutput = async () => scan.check('child gateway output (stdout + stderr)', out);
  onFlush(scan, scanOutput);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), timeoutMs);
    const onData = () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      let code = child.exitCode;
      if (code === null && child.signalCode === null) {
        child.kill(signal);
        [code] = (await once(child, 'exit')) as [number | null];
      }
      await scanOutput();
      scan.assertClean();
      return code;
    },
  };
}

/** Runs the server with `env` and returns its exit code and output (for config failures). */
export async function runGatewayExpectingExit(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawnGateway(env);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  // Configuration errors name the bad variable, never its value when that value is a secret.
  const scan = new SecretScan('the gateway process', secretsFromEnv(env));
  scan.check('gateway output (stdout + stderr)', output);
  scan.assertClean();
  return { code, output };
}
