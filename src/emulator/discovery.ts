/**
 * Entra's discovery documents, with the emulator's URL in place of login.microsoftonline.com.
 * Field names follow the real v2.0 metadata and msal's instance-discovery shape.
 */

/**
 * `GET /{tenant}/v2.0/.well-known/openid-configuration`.
 *
 * @example
 * openIdConfiguration('https://127.0.0.1:4443', tenantId).token_endpoint
 */
export function openIdConfiguration(baseUrl: string, tenant: string): Record<string, unknown> {
  const t = `${baseUrl}/${tenant}`;
  return {
    token_endpoint: `${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${t}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${t}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${t}/kerberos`,
    tenant_region_scope: 'NA',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/**
 * `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`; the tenant of the
 * given authorization endpoint (default `common`) goes into `tenant_discovery_endpoint`.
 *
 * @example
 * instanceDiscovery('https://127.0.0.1:4443', 'https://127.0.0.1:4443/tid/oauth2/v2.0/authorize')
 */
export function instanceDiscovery(baseUrl: string, authorizationEndpoint: string | null): Record<string, unknown> {
  let tenant = 'common';
  if (authorizationEndpoint) {
    try {
      const first = new URL(authorizationEndpoint).pathname.split('/').filter((s) => s !== '')[0];
      if (first) tenant = first;
    } catch {
      /* keep common */
    }
  }
  const host = new URL(baseUrl).host;
  return {
    tenant_discovery_endpoint: `${baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}

/**
 * `GET /{tenant}/discovery/v2.0/keys`: the access-token signing key as a JWKS.
 *
 * @example
 * jsonWebKeySet(baseUrl, tenant, { kid, x5t, n, e, x5c })
 */
export function jsonWebKeySet(
  baseUrl: string,
  tenant: string,
  key: { kid: string; x5t: string; n: string; e: string; x5c: string },
): { keys: Record<string, unknown>[] } {
  return {
    keys: [{ kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.x5t, n: key.n, e: key.e, x5c: [key.x5c], issuer: `${baseUrl}/${tenant}/v2.0` }],
  };
}
