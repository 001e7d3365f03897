import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { OPERATIONS, type Operation } from '../../src/contracts/common.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig, tenantIdForKey } from '../../src/config/load.js';
import type {
  ModelDescriptor,
  PollCall,
  ProviderAdapter,
  StartCall,
  UpstreamSnapshot,
} from '../../src/domain/ports.js';
import type { TaskOutput, TaskRecord } from '../../src/domain/task-record.js';
import type { TaskStore } from '../../src/domain/task-store.js';
import { KEY_A, KEY_B } from './test-app.js';
import { testOutbound } from './test-dns.js';

export const TENANT_A = tenantIdForKey(KEY_A);
export const TENANT_B = tenantIdForKey(KEY_B);

export interface FakeAdapterOptions {
  /** What `start` answers; default: succeeded with `outputs`. */
  onStart?: (
    call: StartCall,
  ) => Promise<UpstreamSnapshot | undefined> | UpstreamSnapshot | undefined;
  outputs?: TaskOutput[];
  isOutputUrl?: (url: string) => boolean;
}

/** A provider adapter with one model for every operation that records each StartCall. */
export class FakeAdapter implements ProviderAdapter {
  readonly id = 'fake';
  readonly starts: StartCall[] = [];
  private n = 0;

  constructor(private readonly opts: FakeAdapterOptions = {}) {}

  models(): ModelDescriptor[] {
    return [{ name: 'm1', operations: [...OPERATIONS], limits: {}, isDefault: true }];
  }

  validate() {
    return [];
  }

  async start(call: StartCall): Promise<UpstreamSnapshot> {
    this.starts.push(call);
    const custom = await this.opts.onStart?.(call);
    return (
      custom ?? {
        upstreamId: `up_${++this.n}`,
        upstreamStatus: 'done',
        status: 'succeeded',
        outputs: this.opts.outputs ?? [],
      }
    );
  }

  async poll(call: PollCall): Promise<UpstreamSnapshot> {
    return { upstreamId: call.upstreamId, upstreamStatus: 'running', status: 'running' };
  }

  isOutputUrl(url: string): boolean {
    return this.opts.isOutputUrl?.(url) ?? false;
  }
}

export interface FakeApp {
  app: FastifyInstance;
  config: Config;
  logs: string[];
  close(): Promise<void>;
}

/** The real app with `adapter` registered as provider `fake` (buildApp's `deps.providers`). */
export async function buildFakeApp(
  adapter: ProviderAdapter,
  options: { env?: Record<string, string>; store?: TaskStore } & Pick<AppDeps, 'poller'> = {},
): Promise<FakeApp> {
  const config = loadConfig({
    GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`,
    STORE_URL: 'memory:',
    LOG_LEVEL: 'info',
    MEDIA_STORE_URL: 'none',
    ...options.env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const providers = new Map([
    [
      'fake',
      {
        adapter,
        credentials: [{ id: 'fake-1', secret: 'fake-upstream-secret-0123' }],
        strategy: 'first' as const,
        emulated: true,
      },
    ],
  ]);
  const outbound = testOutbound(config.outboundAllowlist);
  const app = await buildApp(config, {
    providers,
    outbound,
    logStream,
    store: options.store,
    poller: options.poller ?? false,
  });
  app.addHook('onClose', () => outbound.close());
  await app.ready();
  return { app, config, logs, close: () => app.close() };
}

let seq = 0;

/** A task record written straight into a store (states the API cannot produce on demand). */
export function taskRecord(fields: Partial<TaskRecord> & Pick<TaskRecord, 'provider'>): TaskRecord {
  const now = Date.now();
  const id = `task_01JTEST${String(++seq).padStart(19, '0')}`;
  return {
    id,
    tenant: TENANT_A,
    type: 'text-to-image' as Operation,
    model: `${fields.provider}/m1`,
    status: 'succeeded',
    progress: 1,
    outputs: [],
    error: null,
    upstreamId: 'up_1',
    upstreamStatus: 'success',
    metadata: {},
    createdAt: now,
    updatedAt: now,
    completedAt: now,
    credentialId: `${fields.provider}-1`,
    upstreamState: {},
    nextPollAt: null,
    pollAttempts: 0,
    lastContactAt: now,
    changeSeq: 0,
    changes: [],
    webhook: null,
    nextWebhookAt: null,
    version: 1,
    ...fields,
  };
}
