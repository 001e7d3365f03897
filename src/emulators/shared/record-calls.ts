import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RecordedCall } from './types.js';

/**
 * Records every request an emulator receives into `calls`. A call is recorded at onRequest,
 * so requests whose body fails to parse still show up; the parsed body is filled in before
 * the handler runs. Returns the lookup from a request to its record.
 */
export function recordCalls(
  app: FastifyInstance,
  calls: RecordedCall[],
): (req: FastifyRequest) => RecordedCall | undefined {
  const callOf = new WeakMap<FastifyRequest, RecordedCall>();
  app.addHook('onRequest', async (req) => {
    const call: RecordedCall = {
      method: req.method,
      path: req.url,
      headers: { ...req.headers },
      body: undefined,
      at: Date.now(),
    };
    calls.push(call);
    callOf.set(req, call);
  });
  app.addHook('preValidation', async (req) => {
    const call = callOf.get(req);
    if (call) call.body = req.body;
  });
  return (req) => callOf.get(req);
}
