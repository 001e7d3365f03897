/**
 * The one rule for "may genway fetch this output URL on behalf of that provider": the
 * provider's configured origin(s) (which covers its emulator), or https on the default port to
 * one of its own domains (or a subdomain), or a host matching one of its CDN patterns. URLs
 * with credentials are never trusted.
 */
export function isTrustedOutputUrl(
  url: string,
  origin: string | readonly string[],
  domains: readonly string[],
  cdnHosts: readonly RegExp[] = [],
): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username !== '' || u.password !== '') return false;
  if ([origin].flat().includes(u.origin)) return true;
  if (u.protocol !== 'https:' || u.port !== '') return false;
  const host = u.hostname.toLowerCase();
  return (
    domains.some((d) => host === d || host.endsWith(`.${d}`)) ||
    cdnHosts.some((re) => re.test(host))
  );
}

/**
 * Extra trusted output hosts from the configuration file (`providers.<id>.output_hosts`): a
 * host name (https on the default port, subdomains included) or an origin
 * (`http(s)://host[:port]`, that origin only), split into the two lists isTrustedOutputUrl takes.
 */
export function outputHostRules(hosts: readonly string[]): {
  origins: string[];
  domains: string[];
} {
  const origins: string[] = [];
  const domains: string[] = [];
  for (const host of hosts) {
    if (/^https?:\/\//i.test(host)) origins.push(new URL(host).origin);
    else domains.push(host.toLowerCase());
  }
  return { origins, domains };
}

const HOST = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*';
/** A valid `output_hosts` entry: a host name, or an http(s) origin (`https://host[:port]`). */
export const OUTPUT_HOST = new RegExp(`^(?:https?://${HOST}(?::\\d{1,5})?|${HOST})$`, 'i');
