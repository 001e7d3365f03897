import { GatewayError } from '../errors/gateway-error.js';
import { OutboundRefusedError, type Outbound } from './outbound.js';

/**
 * A caller-supplied URL genway will call later (a webhook): checked now with the outbound
 * rules, so a refused address is a 400 at create time rather than a silent failure later.
 */
export function callerUrlCheck(outbound: Outbound, field: string): (url: string) => Promise<void> {
  return async (url) => {
    try {
      await outbound.check(url);
    } catch (err) {
      const message =
        err instanceof OutboundRefusedError
          ? `${err.reason} (private addresses need OUTBOUND_ALLOWLIST)`
          : 'the host cannot be resolved';
      throw GatewayError.invalid([{ path: field, message }], `${field}: ${message}`);
    }
  };
}
