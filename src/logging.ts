import { Writable } from 'node:stream';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';

/** Header and field names that may carry a credential, wherever they appear in a log object. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["api-key"]',
  '*.key',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.accessKey',
];

/**
 * A destination that removes every configured secret from each line before it is written:
 * the last line of defence for values that slip into messages or error causes.
 */
export function scrubbingDestination(
  secrets: readonly string[],
  target: DestinationStream = pino.destination(1),
): DestinationStream {
  const active = secrets.filter((s) => s.length >= 4);
  if (active.length === 0) return target;
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      let line = chunk.toString();
      for (const s of active) if (line.includes(s)) line = line.split(s).join('[redacted]');
      target.write(line);
      done();
    },
  });
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'genway' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}
