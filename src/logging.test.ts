import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LazyRequestLogger, loggerOptions, requestLoggerFactory } from './logging.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino(loggerOptions(level), stream), lines };
}

describe('LazyRequestLogger', () => {
  it('builds no child for calls below the level, one child for all calls at it', () => {
    const { logger, lines } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const log = new LazyRequestLogger(logger, { reqId: 'req_1' });

    log.info({ a: 1 }, 'not written');
    log.debug('not written either');
    expect(child).not.toHaveBeenCalled();
    expect(log.level).toBe('warn');

    log.warn({ headers: { authorization: 'Bearer sk-secret' } }, 'first');
    log.error('second %s', 'line');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['req_1', 'first'],
      ['req_1', 'second line'],
    ]);
    // The parent's redaction still applies to what the child writes.
    expect(lines[0]!.headers).toEqual({ authorization: '[redacted]' });
  });

  it('takes a level of its own once set, without changing the parent', () => {
    const { logger, lines } = capture('warn');
    const log = new LazyRequestLogger(logger, { reqId: 'req_2' });
    log.level = 'debug';
    log.debug('now written');
    expect(logger.level).toBe('warn');
    expect(lines.map((l) => l.msg)).toEqual(['now written']);
  });

  it("is each request's log in a Fastify app: its lines carry the request id", async () => {
    const { logger, lines } = capture('info');
    const app = Fastify({
      loggerInstance: logger,
      childLoggerFactory: requestLoggerFactory,
      genReqId: () => 'req_fixed',
    });
    app.get('/', async (request) => {
      expect(request.log).toBeInstanceOf(LazyRequestLogger);
      request.log.info('in the handler');
      return 'ok';
    });
    const res = await app.inject('/');
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(lines.find((l) => l.msg === 'in the handler')?.reqId).toBe('req_fixed');
  });
});
