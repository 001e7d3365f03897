import type { Logger } from './logger.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';

/**
 * Health of upstream credentials: a circuit breaker per credential.
 *
 * - `closed`: in rotation. `failureThreshold` consecutive transient failures (upstream_error,
 *   upstream_unavailable, upstream_timeout, upstream_bad_response, upstream_outcome_unknown, on a
 *   create or a poll), or a single refusal of the credential itself (upstream_auth_failed,
 *   upstream_credits_exhausted), open the circuit. Failures the error marks as no credential
 *   signal (`credentialSignal: false`: an answer too large or unreadable, which one tenant's
 *   model or input can cause) count for nothing.
 * - `open`: out of rotation for `coolDownMs`; new creates go to the other credentials. Tasks it
 *   already started keep being polled with it (a task pins its credential).
 * - `half_open`: the cool-down is over; ONE create may try the credential. Its success closes
 *   the circuit, its failure opens it again for another cool-down. Poll outcomes do not decide
 *   a trial (a revoked key may still read old jobs; an account without credits can still poll).
 *
 * A refusal is logged for the operator once per incident (at error level), not per request;
 * the credential's id is logged, never its secret.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface HealthPolicy {
  /** Consecutive transient failures that take a credential out of rotation. */
  failureThreshold: number;
  /** How long an open credential stays out of rotation before a trial request. */
  coolDownMs: number;
  /** Cluster mode: circuit transitions shared with the other instances. */
  shared?: SharedCircuits;
}

/** A circuit transition one instance tells the others. */
export type CircuitEvent =
  | { provider: string; credential: string; state: 'open'; openUntil: number; code: string }
  | { provider: string; credential: string; state: 'closed' };

/**
 * Circuit state shared by the instances of a cluster: each instance's transitions are
 * broadcast (an instance that opens a circuit takes the credential out of rotation on all),
 * and the one half-open trial is claimed over all instances.
 */
export interface SharedCircuits {
  publish(event: CircuitEvent): void;
  subscribe(listener: (event: CircuitEvent) => void): void;
  /** Claims the trial of the credential's incident for this instance (one claimant wins). */
  claimTrial(provider: string, credential: string, ttlMs: number): Promise<boolean>;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { failureThreshold: 5, coolDownMs: 60_000 };

/**
 * What one upstream call with a credential showed: `'success'` (the upstream answered, even
 * with a job failure or a refusal of the input), `'neutral'` (nothing learned about the
 * credential, e.g. the call was never made), or the error the call ended with (classified by
 * `verdictOf`).
 */
export type CredentialOutcome = 'success' | 'neutral' | { error: unknown };

/** Which call the outcome comes from: only creates decide a half-open trial. */
export type OutcomePhase = 'create' | 'poll';

type Verdict = 'success' | 'failure' | 'refused' | 'neutral';

/** Codes that say the credential itself was refused: the circuit opens at once. */
const REFUSED = new Set(['upstream_auth_failed', 'upstream_credits_exhausted']);
/** Transient upstream faults: counted, the circuit opens at `failureThreshold` in a row. */
const TRANSIENT = new Set([
  'upstream_error',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_bad_response',
  'upstream_outcome_unknown',
]);
/** The upstream answered and judged the input: the credential works. */
const ANSWERED = new Set(['upstream_rejected', 'moderation_failed']);

export function verdictOf(outcome: CredentialOutcome): { verdict: Verdict; code: string | null } {
  if (outcome === 'success' || outcome === 'neutral') return { verdict: outcome, code: null };
  const err = outcome.error;
  if (!isGatewayError(err)) return { verdict: 'neutral', code: null };
  // An answer shaped by the caller's input (too large, unreadable): the error says so.
  if (err.credentialSignal === false) return { verdict: 'neutral', code: err.code };
  if (REFUSED.has(err.code)) return { verdict: 'refused', code: err.code };
  if (TRANSIENT.has(err.code)) return { verdict: 'failure', code: err.code };
  if (ANSWERED.has(err.code)) return { verdict: 'success', code: null };
  // upstream_rate_limited, genway's own refusals, bugs: say nothing about the credential.
  return { verdict: 'neutral', code: err.code };
}

/**
 * True when a failed create provably started no job because the provider refused the
 * credential (auth or credits): the same create may be sent again with another credential.
 */
export function isCredentialRefusal(err: unknown): boolean {
  return isGatewayError(err) && REFUSED.has(err.code);
}

/** The public view of one credential's health (no secret: the id only). */
export interface HealthView {
  state: CircuitState;
  consecutiveFailures: number;
  totalFailures: number;
  lastErrorCode: string | null;
  lastErrorAt: number | null;
  /** When an open credential becomes eligible for a trial (ms epoch), else null. */
  openUntil: number | null;
}

interface Entry {
  state: 'closed' | 'open';
  consecutiveFailures: number;
  totalFailures: number;
  lastErrorCode: string | null;
  lastErrorAt: number | null;
  openUntil: number;
  /** The code that opened the circuit in the current incident (null while healthy). */
  incident: string | null;
  /** When the half-open trial was handed out, or null when none is in flight. */
  trialSince: number | null;
}

/** Circuit breakers of one provider's credentials. */
export class CredentialHealth {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly provider: string,
    private readonly policy: HealthPolicy,
    private readonly logger: Logger | undefined,
    private readonly now: () => number,
    /** Told about every state change (so waiting creates can be served or refused). */
    private readonly onChange: () => void = () => {},
  ) {
    policy.shared?.subscribe((event) => {
      if (event.provider === this.provider) this.applyRemote(event);
    });
  }

  /** Another instance's transition: taken over without telling anyone again. */
  private applyRemote(event: CircuitEvent): void {
    const e = this.entry(event.credential);
    if (event.state === 'closed') {
      if (e.state === 'closed') return;
      this.close(event.credential, e, false);
      return;
    }
    if (e.state === 'open' && e.openUntil >= event.openUntil) return;
    e.state = 'open';
    e.openUntil = event.openUntil;
    e.incident = event.code;
    this.awaitTrial(event.credential, e);
    this.onChange();
  }

  /**
   * Shared circuits: no local trial until this instance has claimed the incident's one trial
   * over all instances (claimed when the cool-down ends); an instance that lost the claim
   * waits for the winner's outcome (or a cool-down, should the winner die).
   */
  private awaitTrial(id: string, e: Entry): void {
    const shared = this.policy.shared;
    if (!shared) return;
    e.trialSince = e.openUntil;
    const openUntil = e.openUntil;
    const timer = setTimeout(
      () => {
        if (e.state !== 'open' || e.openUntil !== openUntil) return;
        shared
          .claimTrial(this.provider, id, this.policy.coolDownMs)
          .catch(() => false)
          .then((mine) => {
            if (e.state !== 'open' || e.openUntil !== openUntil) return;
            e.trialSince = mine ? null : this.now();
            if (mine) this.onChange();
          });
      },
      Math.max(0, openUntil - this.now()),
    );
    timer.unref?.();
  }

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = {
        state: 'closed',
        consecutiveFailures: 0,
        totalFailures: 0,
        lastErrorCode: null,
        lastErrorAt: null,
        openUntil: 0,
        incident: null,
        trialSince: null,
      };
      this.entries.set(id, e);
    }
    return e;
  }

  state(id: string): CircuitState {
    const e = this.entries.get(id);
    if (!e || e.state === 'closed') return 'closed';
    return this.now() >= e.openUntil ? 'half_open' : 'open';
  }

  /** Whether a new create may use the credential now (a half-open one: if no trial runs). */
  usable(id: string): boolean {
    const e = this.entries.get(id);
    if (!e || e.state === 'closed') return true;
    const now = this.now();
    if (now < e.openUntil) return false;
    // A trial whose outcome never came back (the create crashed) is given up after a cool-down.
    return e.trialSince === null || now - e.trialSince >= this.policy.coolDownMs;
  }

  /**
   * Whether the credential can take creates, now or once its tasks in flight finish: closed,
   * or half-open with no trial running. Open, or on trial: not before its state changes.
   */
  servable(id: string): boolean {
    return this.state(id) === 'closed' || this.usable(id);
  }

  /** When a credential that is not servable may be again (ms epoch; a trial: in about 1 s). */
  retryAt(id: string): number {
    const e = this.entries.get(id);
    if (!e || e.state === 'closed') return this.now();
    return this.now() < e.openUntil ? e.openUntil : this.now() + 1000;
  }

  /**
   * 503 `no_credential_available` when none of `candidates` (credential ids) can serve creates
   * until a cool-down ends, with the time the first may again; undefined when one can.
   */
  refusal(candidates: readonly string[]): GatewayError | undefined {
    if (candidates.some((id) => this.servable(id))) return undefined;
    const now = this.now();
    const next = Math.min(...candidates.map((id) => this.retryAt(id)));
    const detail =
      candidates.length === 0
        ? `No ${this.provider} credential left to try`
        : `Every ${this.provider} credential is out of rotation after failures or refusals by ${this.provider}; the gateway operator has been alerted`;
    return new GatewayError('no_credential_available', detail, {
      requestSent: false,
      ...(Number.isFinite(next) ? { retryAfterMs: Math.max(1000, next - now) } : {}),
    });
  }

  /** When an open credential becomes eligible for a trial (ms epoch), or 0 when it is not open. */
  openUntil(id: string): number {
    const e = this.entries.get(id);
    return e?.state === 'open' && this.now() < e.openUntil ? e.openUntil : 0;
  }

  /** A create was handed the credential; in half-open state this is the trial. */
  taken(id: string): boolean {
    if (this.state(id) !== 'half_open') return false;
    this.entry(id).trialSince = this.now();
    return true;
  }

  report(id: string, outcome: CredentialOutcome, phase: OutcomePhase = 'create'): void {
    const { verdict, code } = verdictOf(outcome);
    const state = this.state(id);
    const e = this.entry(id);
    const now = this.now();
    if (verdict === 'failure' || verdict === 'refused') {
      e.totalFailures++;
      e.lastErrorCode = code;
      e.lastErrorAt = now;
    }
    // While open, nothing changes the state: the credential is out of rotation until its trial.
    if (state === 'open') return;
    if (state === 'half_open') {
      // Only the trial (a create) decides; polls of older tasks prove nothing about creates.
      if (phase !== 'create' || e.trialSince === null) return;
      e.trialSince = null;
      if (verdict === 'success') this.close(id, e);
      else if (verdict === 'failure' || verdict === 'refused') this.open(id, e, code ?? 'unknown');
      else this.onChange(); // neutral: the next create may try again
      return;
    }
    if (verdict === 'success') {
      e.consecutiveFailures = 0;
    } else if (verdict === 'refused') {
      e.consecutiveFailures++;
      this.open(id, e, code ?? 'unknown');
    } else if (verdict === 'failure') {
      e.consecutiveFailures++;
      if (e.consecutiveFailures >= this.policy.failureThreshold)
        this.open(id, e, code ?? 'unknown');
    }
  }

  private open(id: string, e: Entry, code: string): void {
    e.state = 'open';
    e.openUntil = this.now() + this.policy.coolDownMs;
    e.trialSince = null;
    const shared = this.policy.shared;
    shared?.publish({
      provider: this.provider,
      credential: id,
      state: 'open',
      openUntil: e.openUntil,
      code,
    });
    this.awaitTrial(id, e);
    const fields = {
      provider: this.provider,
      credential: id,
      code,
      retryInSeconds: Math.ceil(this.policy.coolDownMs / 1000),
    };
    if (e.incident === code) {
      // A failed trial of the same incident: the operator has been told already.
      this.logger?.debug(fields, 'credential trial failed; still out of rotation');
    } else if (REFUSED.has(code)) {
      this.logger?.error(
        fields,
        code === 'upstream_auth_failed'
          ? 'provider refused the credential (authentication): taken out of rotation, check the key'
          : 'provider account of the credential has no credits left: taken out of rotation, top it up',
      );
    } else {
      this.logger?.warn(
        { ...fields, consecutiveFailures: e.consecutiveFailures },
        'credential failed repeatedly: taken out of rotation',
      );
    }
    e.incident = code;
    this.onChange();
  }

  private close(id: string, e: Entry, tell = true): void {
    const incident = e.incident;
    e.state = 'closed';
    e.consecutiveFailures = 0;
    e.incident = null;
    e.openUntil = 0;
    e.trialSince = null;
    if (tell)
      this.policy.shared?.publish({ provider: this.provider, credential: id, state: 'closed' });
    this.logger?.info(
      { provider: this.provider, credential: id, after: incident },
      'credential trial succeeded: back in rotation',
    );
    this.onChange();
  }

  view(id: string): HealthView {
    const e = this.entries.get(id);
    const state = this.state(id);
    return {
      state,
      consecutiveFailures: e?.consecutiveFailures ?? 0,
      totalFailures: e?.totalFailures ?? 0,
      lastErrorCode: e?.lastErrorCode ?? null,
      lastErrorAt: e?.lastErrorAt ?? null,
      openUntil: e && e.state === 'open' ? e.openUntil : null,
    };
  }
}

/** One credential as /readyz and the admin view show it (never the secret). */
export interface CredentialStatus {
  id: string;
  state: CircuitState;
  in_flight: number;
  /** Cap on tasks in flight; null: unlimited. */
  cap: number | null;
  consecutive_failures: number;
  total_failures: number;
  last_error_code: string | null;
  last_error_at: string | null;
  /** When an open credential gets its trial request (ISO time); null otherwise. */
  open_until: string | null;
}
