import type { Redis } from 'ioredis';
import type { CircuitEvent, SharedCircuits } from '../../domain/credential-health.js';
import type { RedisSubscriber } from './subscriber.js';

/**
 * Circuit-breaker state over all instances: transitions go out on one pub/sub channel (JSON
 * events), and the half-open trial of an incident is a key set with SET NX PX: whoever sets
 * it runs the trial; the key expires after a cool-down, should that instance die.
 */
export class RedisCircuits implements SharedCircuits {
  private readonly listeners = new Set<(event: CircuitEvent) => void>();

  constructor(
    private readonly publisher: Redis,
    subscriber: RedisSubscriber,
    private readonly channel: string,
    private readonly trialKey: (provider: string, credential: string) => string,
  ) {
    subscriber.on(channel, (message) => {
      let event: CircuitEvent;
      try {
        event = JSON.parse(message) as CircuitEvent;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener(event);
    });
  }

  publish(event: CircuitEvent): void {
    if (this.publisher.status !== 'ready') return;
    // The publishing instance hears its own event too: applying it again changes nothing.
    this.publisher.publish(this.channel, JSON.stringify(event)).catch(() => {});
  }

  subscribe(listener: (event: CircuitEvent) => void): void {
    this.listeners.add(listener);
  }

  async claimTrial(provider: string, credential: string, ttlMs: number): Promise<boolean> {
    if (this.publisher.status !== 'ready') return false;
    const set = await this.publisher.set(
      this.trialKey(provider, credential),
      '1',
      'PX',
      Math.max(1, ttlMs),
      'NX',
    );
    return set === 'OK';
  }
}
