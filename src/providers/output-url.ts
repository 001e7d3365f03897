/**
 * The one rule for "may genway fetch this output URL on behalf of that provider": the
 * provider's configured origin (which covers its emulator), or https on the default port to
 * one of its own domains (or a subdomain), or a host matching one of its CDN patterns. URLs
 * with credentials are never trusted.
 */
export function isTrustedOutputUrl(
  url: string,
  origin: string,
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
  if (u.origin === origin) return true;
  if (u.protocol !== 'https:' || u.port !== '') return false;
  const host = u.hostname.toLowerCase();
  return (
    domains.some((d) => host === d || host.endsWith(`.${d}`)) ||
    cdnHosts.some((re) => re.test(host))
  );
}
