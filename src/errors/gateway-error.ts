import { ERROR_CATALOGUE, type ErrorCode } from './catalogue.js';

export interface FieldError {
  path: string;
  message: string;
}

export interface GatewayErrorOptions {
  errors?: FieldError[];
  /** For 429/503: when a retry makes sense. */
  retryAfterMs?: number;
  /** Whether repeating the same call later may succeed (used for polls, never for creates). */
  retryable?: boolean;
  /**
   * For upstream calls: false when the request provably never left (connect refused, DNS),
   * so even a create may be sent again. Unknown (undefined) counts as "may have been sent".
   */
  requestSent?: boolean;
  /**
   * For an upstream answer to a create: true when it definitively refused the job (so none
   * was started), false when the job may have started anyway. Unset: decided by the code
   * (see domain/start-outcome.ts). Set it where the code alone would say otherwise.
   */
  definitive?: boolean;
  /**
   * For a failed upstream call: whether it says something about the credential or the API
   * host behind it (auth refusal, transport failure, 5xx). `false` marks a failure of one
   * answer whose shape the caller's input may have decided (a body too large, unparseable, or
   * not the expected schema): the credential's circuit breaker ignores it, so one tenant's
   * tasks cannot take a credential out of rotation for everyone. Unset: decided by the code
   * (see domain/credential-health.ts).
   */
  credentialSignal?: boolean;
  cause?: unknown;
}

/**
 * Bad fields an error lists at most: a body of 5,000 bad keys would otherwise get an answer
 * several times its size.
 */
export const MAX_FIELD_ERRORS = 50;

/** The one error class of genway. `detail` must be safe to show callers: never a secret. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly errors?: FieldError[];
  readonly retryAfterMs?: number;
  readonly retryable: boolean;
  readonly requestSent?: boolean;
  readonly definitive?: boolean;
  readonly credentialSignal?: boolean;

  constructor(code: ErrorCode, detail?: string, options: GatewayErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(
      detail ?? entry.title,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'GatewayError';
    this.code = code;
    this.status = entry.status;
    this.title = entry.title;
    this.errors = options.errors?.slice(0, MAX_FIELD_ERRORS);
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? false;
    this.requestSent = options.requestSent;
    this.definitive = options.definitive;
    this.credentialSignal = options.credentialSignal;
  }

  static invalid(errors: FieldError[], detail?: string): GatewayError {
    const more = errors.length - MAX_FIELD_ERRORS;
    const listed = errors.slice(0, MAX_FIELD_ERRORS).map((e) => `${e.path}: ${e.message}`);
    return new GatewayError(
      'invalid_request',
      detail ?? [...listed, ...(more > 0 ? [`and ${more} more`] : [])].join('; '),
      { errors },
    );
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
