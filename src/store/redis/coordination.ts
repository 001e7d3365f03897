import type { RedisAdminStore } from '../admin/redis-admin.js';
import type { StoreCoordination } from '../coordination.js';
import { RedisChangeFeed } from './change-feed.js';
import { RedisCircuits } from './circuits.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import { RedisPollBudget } from './poll-budget.js';
import { RedisSharedSlots } from './slots.js';
import { EpochWatch, warnAboutRedisSettings, type RedisWatchOptions } from './server-checks.js';
import { RedisSubscriber } from './subscriber.js';

export interface RedisCoordinationOptions extends RedisWatchOptions {
  /** Safety-net re-read interval of waiters (default 1 s). */
  rereadMs?: number;
  /** How long a create's slot reservation lasts before its task is stored (default 30 s). */
  slotLeaseMs?: number;
}

const DEFAULT_SLOT_LEASE_MS = 30_000;

/**
 * What makes several instances on one Redis one gateway besides the shared data: one
 * subscriber connection carrying task changes and circuit transitions, the client the
 * tenant rate limit and the poll budgets count in, the credential slots, the data-loss watch and the start-up
 * check of the server's settings.
 */
export function redisCoordination(
  url: string,
  connection: RedisConnection,
  keys: RedisKeys,
  options: RedisCoordinationOptions = {},
  /** The store's admin part: keeps tenant and key lookups while this subscriber hears changes. */
  admin?: RedisAdminStore,
): StoreCoordination {
  const client = connection.client;
  const subscriber = new RedisSubscriber(url, options.logger);
  admin?.followChanges(subscriber);
  const feed = new RedisChangeFeed({
    publisher: client,
    subscriber,
    channel: keys.changes,
    rereadMs: options.rereadMs,
  });
  const circuits = new RedisCircuits(client, subscriber, keys.circuits, (p, c) =>
    keys.circuitTrial(p, c),
  );
  const epoch = new EpochWatch(client, keys.epoch, options);
  const logger = options.logger;
  if (logger) {
    const warn = () => void warnAboutRedisSettings(client, logger);
    if (client.status === 'ready') warn();
    else client.once('ready', warn);
  }
  return {
    feed,
    circuits,
    slots: new RedisSharedSlots(
      connection,
      (p) => keys.active(p),
      (p) => keys.activeTenants(p),
      (p, c) => keys.reservedSlots(p, c),
      options.slotLeaseMs ?? DEFAULT_SLOT_LEASE_MS,
    ),
    sharedRedis: { client, keyPrefix: `${keys.base}limits:` },
    pollBudget: (rateOf) =>
      new RedisPollBudget(connection, (p, c) => keys.pollBudget(p, c), rateOf),
    close: async () => {
      epoch.stop();
      await feed.close();
      subscriber.close();
    },
  };
}
