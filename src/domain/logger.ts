/**
 * The logging the domain needs: structured fields first, then a message. pino's and
 * Fastify's loggers fit it as they are; the domain never imports a logging library.
 */
export interface Logger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}
