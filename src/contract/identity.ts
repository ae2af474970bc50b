/**
 * What identifies the Entra application a sidecar acts as: client id, tenant id and authority host.
 * One rule for each, used by the webhook (annotations, flags) and by the sidecar (env, flags), so a
 * value the webhook accepts is a value its sidecar starts with.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A DNS name with at least two labels: `contoso.onmicrosoft.com`. Never `.`, `..` or a path. */
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** Either the checked value or what is wrong with it (never echoing more than the caller chooses). */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The public cloud's authority host, the default on both sides. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * A GUID, as Entra client ids, object ids and tenant ids are.
 *
 * @example
 * isGuid('00000000-0000-0000-0000-000000000000') // true
 */
export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/**
 * A tenant id: a GUID or a verified domain name (at least two labels). `.`, `..`, `common` and
 * anything with a `/` are refused: the tenant becomes a path segment of the token endpoint.
 *
 * @example
 * isTenantId('contoso.onmicrosoft.com') // true
 * isTenantId('..') // false
 */
export function isTenantId(value: string): boolean {
  return GUID.test(value) || DOMAIN.test(value);
}

/**
 * Checks a client id (the application (client) id of an Entra app or user-assigned identity).
 *
 * @example
 * checkClientId(' 00000000-0000-0000-0000-000000000000 ') // { ok: true, value: '00000000-…' }
 */
export function checkClientId(raw: string): Checked<string> {
  const value = raw.trim();
  if (isGuid(value)) return { ok: true, value };
  return { ok: false, problem: 'must be a GUID (the application (client) id), e.g. 00000000-0000-0000-0000-000000000000' };
}

/**
 * Checks a tenant id: a GUID or a verified domain.
 *
 * @example
 * checkTenantId('contoso.onmicrosoft.com') // { ok: true, value: 'contoso.onmicrosoft.com' }
 */
export function checkTenantId(raw: string): Checked<string> {
  const value = raw.trim();
  if (isTenantId(value)) return { ok: true, value };
  return { ok: false, problem: 'must be a tenant GUID or domain (a verified domain such as contoso.onmicrosoft.com)' };
}

/**
 * Checks an authority host and returns it as `https://host[:port]`: https only (Entra and msal-node
 * require it), no path, query or fragment; one trailing `/` is accepted (Azure Workload Identity
 * injects one).
 *
 * @example
 * checkAuthorityHost('https://login.microsoftonline.us/') // { ok: true, value: 'https://login.microsoftonline.us' }
 */
export function checkAuthorityHost(raw: string): Checked<string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, problem: 'must be a URL such as https://login.microsoftonline.com' };
  }
  if (url.protocol !== 'https:') return { ok: false, problem: 'must use https (Entra and msal-node require it)' };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, problem: 'must be a bare host such as https://login.microsoftonline.com (no path, query or credentials)' };
  }
  return { ok: true, value: `${url.protocol}//${url.host}` };
}
