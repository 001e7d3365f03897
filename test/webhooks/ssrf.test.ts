import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOutbound } from '../../src/net/outbound.js';
import { startSuite, type Json, type Suite } from '../modelslab/harness.js';
import { WEBHOOK_SECRET, startReceiver, until, type Receiver } from './receiver.js';

/**
 * The SSRF rules on webhook URLs: checked at create (400, nothing spent), checked again at
 * every attempt (DNS may have changed), and a redirect answer is never followed. Every
 * connection these tests allow goes to 127.0.0.1.
 */

const webhooks = { scheduleMs: [30, 60], attemptTimeoutMs: 1000, idleMs: 50 };
const deliveryOf = async (s: Suite, id: string) =>
  until(async () => {
    const task = await s.getTask(id);
    const [d] = ((task.webhook as Json | null)?.deliveries ?? []) as Json[];
    return d && d.status !== 'pending' ? d : undefined;
  }, `the webhook of ${id}`);

describe('webhook URL refused at create without allow-listing', () => {
  let s: Suite;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    s = await startSuite({ app: { env: { WEBHOOK_SECRET }, webhooks } });
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
  });

  it.each([
    ['loopback', (url: string) => `${url}/hook`],
    ['loopback by a numeric shorthand', (url: string) => url.replace('127.0.0.1', '2130706433')],
    ['localhost', (url: string) => url.replace('127.0.0.1', 'localhost')],
    ['the metadata address', () => 'http://169.254.169.254/latest/meta-data'],
  ])('%s: 400 naming webhook.url, no upstream call, nothing sent', async (_name, make) => {
    const creates = s.emu.creates;
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: make(rx.url) },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    const body = res.json<Json>();
    expect(body.code).toBe('invalid_request');
    expect((body.errors as Json[])[0]).toMatchObject({ path: 'webhook.url' });
    expect(String((body.errors as Json[])[0]!.message)).toMatch(/OUTBOUND_ALLOWLIST/);
    expect(s.emu.creates).toBe(creates);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received).toHaveLength(0);
  });

  it('leaks no secret', () => expect(s.leaks()).toEqual([]));
});

describe('webhook URL checked again at every attempt', () => {
  let s: Suite;
  let rx: Receiver;
  let lookups = 0;
  let rebound = false;
  afterEach(() => {
    rebound = false;
  });
  beforeAll(async () => {
    rx = await startReceiver();
    // hooks.example.test resolves to the (allow-listed) receiver, until it is "rebound" to a
    // private address that is not allow-listed.
    const outbound = createOutbound({
      allowlist: ['127.0.0.1'],
      resolve: async (host) => {
        lookups++;
        if (host !== 'hooks.example.test') throw new Error('unknown host');
        return [{ address: rebound ? '10.1.2.3' : '127.0.0.1', family: 4 }];
      },
    });
    s = await startSuite({ app: { env: { WEBHOOK_SECRET }, webhooks, outbound } });
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
  });

  const hostUrl = () => rx.url.replace('127.0.0.1', 'hooks.example.test');

  it('an allowed host is delivered to (resolved and pinned at send time)', async () => {
    const before = lookups;
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${hostUrl()}/ok` },
    });
    expect(res.statusCode).toBe(201);
    const d = await deliveryOf(s, res.json<Json>().id as string);
    expect(d).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200 });
    expect(rx.received.filter((r) => r.path === '/ok')).toHaveLength(1);
    // Once at create, once at the attempt.
    expect(lookups - before).toBe(2);
  });

  it('a host that resolves to a private address by the time of the attempt is refused', async () => {
    s.emu.scriptNext({ processing: 1, eta: 0 });
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${hostUrl()}/rebound` },
    });
    expect(res.statusCode).toBe(201);
    rebound = true;
    const d = await deliveryOf(s, res.json<Json>().id as string);
    expect(d).toMatchObject({ status: 'failed', attempts: 3, last_status: null });
    expect(d.last_error).toMatch(/^Refused outbound request to hooks\.example\.test:\d+: /);
    expect(d.last_error).toMatch(/private address.*OUTBOUND_ALLOWLIST/);
    // The address itself is not disclosed.
    expect(d.last_error).not.toContain('10.1.2.3');
    expect(rx.received.filter((r) => r.path === '/rebound')).toHaveLength(0);
  });

  it('leaks no secret', () => expect(s.leaks()).toEqual([]));
});

describe('redirect answers', () => {
  let s: Suite;
  let rx: Receiver;
  let other: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    other = await startReceiver();
    s = await startSuite({
      app: { env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' }, webhooks },
    });
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
    await other.close();
  });

  it('a 302 to a private address is not followed and counts as a failed attempt', async () => {
    const to = { status: 302, headers: { location: 'http://10.0.0.7/internal' } };
    rx.answerNext(to, to, to);
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${rx.url}/redirecting` },
    });
    const d = await deliveryOf(s, res.json<Json>().id as string);
    expect(d).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_status: 302,
      last_error: 'The receiver answered HTTP 302; redirects are not followed',
    });
    expect(rx.received.filter((r) => r.path === '/redirecting')).toHaveLength(3);
  });

  it('a 307 to another (even allowed) receiver is not followed either; a later 200 delivers', async () => {
    rx.answerNext({ status: 307, headers: { location: `${other.url}/elsewhere` } }, 200);
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${rx.url}/moved` },
    });
    const d = await deliveryOf(s, res.json<Json>().id as string);
    expect(d).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });
    expect(rx.received.filter((r) => r.path === '/moved')).toHaveLength(2);
    expect(other.received).toHaveLength(0);
  });

  it('leaks no secret', () => expect(s.leaks()).toEqual([]));
});
