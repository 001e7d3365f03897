import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino, {
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger,
  type LoggerOptions,
} from 'pino';

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

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * `request.log` that builds its pino child on the first call at an enabled level. Fastify
 * builds one per request (its bindings stringified and run through the redaction, the largest
 * allocation of a task read), while at `warn` nearly every request logs nothing.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  #child: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  private real(): Logger {
    return (this.#child ??= this.parent.child(this.bindings));
  }

  get level(): string {
    return (this.#child ?? this.parent).level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.parent).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  // Methods on the prototype, not arrow fields: nothing allocated per request but the object.
  fatal(...args: unknown[]): void {
    this.log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.log('error', args);
  }
  warn(...args: unknown[]): void {
    this.log('warn', args);
  }
  info(...args: unknown[]): void {
    this.log('info', args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.log('trace', args);
  }
  silent(): void {}

  private log(level: LevelName, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    const child = this.real();
    (child[level] as (...a: unknown[]) => void).apply(child, args);
  }
}

/**
 * Fastify's `childLoggerFactory`: a lazy child, unless the route asks for its own level or
 * serializers (none of genway's do), which only a real child can carry.
 */
export function requestLoggerFactory(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined) {
    return parent.child(bindings, options);
  }
  return new LazyRequestLogger(parent as Logger, bindings);
}
