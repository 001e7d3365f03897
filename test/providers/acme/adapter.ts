import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type {
  CallbackRequest,
  CallbackTarget,
  ModelDescriptor,
  PollCall,
  ProviderAdapter,
  StartCall,
  UpstreamCallbacks,
  UpstreamSnapshot,
  VerifiedCallback,
} from '../../../src/domain/ports.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { UpstreamClient } from '../../../src/providers/http-client.js';
import { acmeSignature } from './emulator.js';
import type { AcmeSettings } from './index.js';

const JobSchema = z.object({
  id: z.string(),
  status: z.enum(['running', 'done']),
  output: z.string().optional(),
});

const snapshotOf = (job: z.infer<typeof JobSchema>): UpstreamSnapshot =>
  job.status === 'done' && job.output
    ? {
        upstreamId: job.id,
        upstreamStatus: job.status,
        status: 'succeeded',
        progress: 1,
        outputs: [{ url: job.output, contentType: 'image/png', expiresAt: null }],
      }
    : { upstreamId: job.id, upstreamStatus: job.status, status: 'running' };

/** Acme's signed callbacks: one per job, to the URL of the task. */
class AcmeCallbacks implements UpstreamCallbacks {
  readonly routing = 'task';

  constructor(private readonly secret: string) {}

  prepare(target: CallbackTarget) {
    return { fields: { callback_url: target.url } };
  }

  verify(request: CallbackRequest): VerifiedCallback {
    const expected = Buffer.from(acmeSignature(this.secret, request.rawBody));
    const given = Buffer.from(request.headers['x-acme-signature'] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GatewayError('callback_unauthorized', 'The Acme signature does not match');
    }
    const job = JobSchema.safeParse(JSON.parse(request.rawBody));
    if (!job.success) throw GatewayError.invalid([], 'The callback body is not an Acme job');
    return { upstreamId: job.data.id, snapshot: () => snapshotOf(job.data) };
  }
}

/** A one-model image provider: create a job, poll it, or be called back. */
export class AcmeAdapter implements ProviderAdapter {
  readonly id = 'acme';
  readonly callbacks?: AcmeCallbacks;

  constructor(
    private readonly settings: AcmeSettings,
    private readonly client: UpstreamClient,
  ) {
    if (settings.webhookSecret) this.callbacks = new AcmeCallbacks(settings.webhookSecret);
  }

  models(): ModelDescriptor[] {
    return [{ name: 'painter', operations: ['text-to-image'], limits: {}, isDefault: true }];
  }

  validate() {
    return [];
  }

  async start(call: StartCall): Promise<UpstreamSnapshot> {
    const json = { prompt: call.input.prompt, ...call.callbackFields };
    return this.send('POST', '/v1/jobs', call.credential.secret, json);
  }

  async poll(call: PollCall): Promise<UpstreamSnapshot> {
    return this.send('GET', `/v1/jobs/${call.upstreamId}`, call.credential.secret);
  }

  isOutputUrl(url: string): boolean {
    return url.startsWith(`${this.settings.baseUrl}/files/`);
  }

  private async send(method: 'GET' | 'POST', path: string, key: string, json?: unknown) {
    const res = await this.client.send(`${this.settings.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}` },
      json,
    });
    const job = JobSchema.safeParse(res.json);
    if (res.status >= 400 || !job.success) {
      throw new GatewayError('upstream_error', `Acme answered HTTP ${res.status}`);
    }
    return snapshotOf(job.data);
  }
}
