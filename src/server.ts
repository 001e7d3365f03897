import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/config.js';
import { startEmulators, withEmulators, type RunningEmulators } from './emulators/index.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  let emulators: RunningEmulators | undefined;
  if (config.useEmulators) {
    emulators = await startEmulators(undefined, { publicUrl: config.publicUrl });
    config = withEmulators(config, emulators);
  }
  const app = await buildApp(config);
  if (emulators) {
    app.log.warn(
      { emulators: emulators.handles.map((h) => h.url) },
      'No provider credentials configured: serving against the built-in emulators on loopback (GET /v1/models shows emulated: true)',
    );
  }
  if (config.devKey) {
    app.log.warn('No GATEWAY_API_KEYS configured: the development key from the README is accepted');
  }

  // SIGTERM/SIGINT: stop accepting, let in-flight requests finish, then close store and pools.
  closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    await emulators?.close();
  });

  await app.listen({ port: config.port, host: config.host });
}

void main();
