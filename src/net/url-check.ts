import { GatewayError } from '../errors/gateway-error.js';
import { OutboundRefusedError, type Outbound } from './outbound.js';

/** Why `url` may not be used, in words safe to show the caller; undefined when it may. */
async function refusalOf(outbound: Outbound, url: string): Promise<string | undefined> {
  try {
    await outbound.check(url);
    return undefined;
  } catch (err) {
    return err instanceof OutboundRefusedError
      ? `${err.reason} (private addresses need OUTBOUND_ALLOWLIST)`
      : 'the host cannot be resolved';
  }
}

/**
 * A caller-supplied URL genway will call later (a webhook): checked now with the outbound
 * rules, so a refused address is a 400 at create time rather than a silent failure later.
 */
export function callerUrlCheck(outbound: Outbound, field: string): (url: string) => Promise<void> {
  return async (url) => {
    const message = await refusalOf(outbound, url);
    if (message) throw GatewayError.invalid([{ path: field, message }], `${field}: ${message}`);
  };
}

export interface InputUrlCheckOptions {
  /**
   * Origins that are genway's own (PUBLIC_URL): links genway itself serves to upstreams, which
   * reach it there whatever address it has on its own network.
   */
  trustedOrigins?: readonly string[];
}

/**
 * A caller URL an upstream will fetch itself (`image`, `video`, URLs in a raw input): the same
 * address rules as the URLs genway fetches (DNS resolved, every address public unless
 * OUTBOUND_ALLOWLIST names it), so that no caller can point a provider, or a relay, into a
 * private network. Checked without connecting anywhere; a refusal is a 400 naming `field`.
 */
export function inputUrlCheck(
  outbound: Outbound,
  options: InputUrlCheckOptions = {},
): (field: string, url: string) => Promise<void> {
  const trusted = new Set(options.trustedOrigins ?? []);
  return async (field, url) => {
    if (trusted.size > 0 && trusted.has(originOf(url))) return;
    const message = await refusalOf(outbound, url);
    if (message) throw GatewayError.invalid([{ path: field, message }], `${field}: ${message}`);
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}
