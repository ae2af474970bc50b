import { randomUUID } from 'node:crypto';

/** What an Entra error message may mention; unknown parts print as Entra would print an empty value. */
export interface ErrorDetails {
  tenant?: string;
  clientId?: string;
  issuer?: string;
  subject?: string;
  audience?: string;
  resource?: string;
  scope?: string;
  /** a missing or invalid form parameter */
  parameter?: string;
  grantType?: string;
  method?: string;
  keyId?: string;
  /** assertion `nbf` and `exp`, seconds since the epoch */
  notBefore?: number;
  expiry?: number;
  /** client certificate: the thumbprint the assertion named (hex) and why its key was refused */
  thumbprint?: string;
  keyProblem?: string;
}

/** The JSON body Entra sends with an error (field names and order as captured from the service). */
export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

interface CatalogueEntry {
  error: string;
  status: number;
  message: (d: ErrorDetails, nowMs: number) => string;
}

const WIF_DOCS = 'https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation';

/** Every AADSTS code the emulator emits: its OAuth error, HTTP status and message text. */
export const ENTRA_ERRORS: Record<number, CatalogueEntry> = {
  90002: {
    error: 'invalid_tenant',
    status: 400,
    message: (d) =>
      `Tenant '${d.tenant ?? ''}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  },
  700016: {
    error: 'unauthorized_client',
    status: 400,
    message: (d) =>
      `Application with identifier '${d.clientId ?? ''}' was not found in the directory '${d.tenant ?? ''}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  },
  70021: {
    error: 'invalid_request',
    status: 400,
    message: (d) =>
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${d.issuer ?? ''}'. Assertion Subject: '${d.subject ?? ''}'. Assertion Audience: '${d.audience ?? ''}'. ${WIF_DOCS}`,
  },
  700024: {
    error: 'invalid_client',
    status: 400,
    message: (d, nowMs) =>
      `Client assertion is not within its valid time range. Current time: ${entraInstant(nowMs)}, assertion valid from ${entraInstant((d.notBefore ?? 0) * 1000)}, expiry time of assertion ${entraInstant((d.expiry ?? 0) * 1000)}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
  },
  7000272: {
    error: 'invalid_client',
    status: 401,
    message: (d) =>
      `The certificate with identifier ${d.keyId ?? ''} used to sign the federated credential could not be found in the metadata of identity provider ${d.issuer ?? ''}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
  },
  7000215: {
    error: 'invalid_client',
    status: 401,
    message: (d) =>
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${d.clientId ?? ''}'.`,
  },
  7000222: {
    error: 'invalid_client',
    status: 401,
    message: (d) =>
      `The provided client secret keys for app '${d.clientId ?? ''}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  },
  700027: {
    error: 'invalid_client',
    status: 401,
    message: (d) => {
      const tail = `Thumbprint of key used by client: '${d.thumbprint ?? ''}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${d.clientId ?? ''}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${d.clientId ?? ''}']`;
      return d.keyProblem === undefined || d.keyProblem === 'The key was not found.'
        ? `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., ${tail}.`
        : `Client assertion contains an invalid signature. [Reason - ${d.keyProblem}, ${tail}.`;
    },
  },
  700021: {
    error: 'invalid_client',
    status: 401,
    message: () =>
      "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
  },
  700023: {
    error: 'invalid_client',
    status: 401,
    message: () =>
      'Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .',
  },
  50027: {
    error: 'invalid_client',
    status: 401,
    message: () => 'JWT token is invalid or malformed.',
  },
  1002012: {
    error: 'invalid_scope',
    status: 400,
    message: (d) =>
      `The provided value for scope ${d.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  },
  500011: {
    error: 'invalid_resource',
    status: 400,
    message: (d) =>
      `The resource principal named ${d.resource ?? ''} was not found in the tenant named ${d.tenant ?? ''}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
  },
  900144: {
    error: 'invalid_request',
    status: 400,
    message: (d) => `The request body must contain the following parameter: '${d.parameter ?? ''}'.`,
  },
  70003: {
    error: 'unsupported_grant_type',
    status: 400,
    message: (d) => `The app requested an unsupported grant type '${d.grantType ?? ''}'.`,
  },
  7000218: {
    error: 'invalid_client',
    status: 401,
    message: () => "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  },
  90014: {
    error: 'invalid_request',
    status: 400,
    message: (d) =>
      `The required field '${d.parameter ?? ''}' is missing from the credential. Ensure that you have all the necessary parameters for the login request.`,
  },
  900561: {
    error: 'invalid_request',
    status: 400,
    message: (d) => `The endpoint only accepts POST, OPTIONS requests. Received a ${d.method ?? 'GET'} request.`,
  },
  90033: {
    error: 'temporarily_unavailable',
    status: 503,
    message: () => 'A transient error has occurred. Please try again.',
  },
};

/** `2022-10-27 23:39:22Z`, the format of Entra's `timestamp` field. */
export function entraTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `2024-10-02T22:05:03.6750000Z`, the 7-digit format Entra prints in messages. */
export function entraInstant(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-10-02T22:05:03.675Z
  return `${iso.slice(0, 23)}0000Z`;
}

/** A trace id in Entra's style (a GUID whose last byte is 00). */
export function traceId(): string {
  return `${randomUUID().slice(0, 34)}00`;
}

/**
 * Builds Entra's error response for an AADSTS code. Unknown codes get a generic
 * `invalid_request` message. `correlationId` is the client's `client-request-id` when it sent one.
 *
 * @example
 * const { status, body } = entraError(70021, { issuer, subject, audience }, { nowMs: Date.now(), baseUrl });
 */
export function entraError(
  code: number,
  details: ErrorDetails,
  ctx: { nowMs: number; baseUrl: string; correlationId?: string; traceId?: string },
): { status: number; body: EntraErrorBody } {
  const entry = ENTRA_ERRORS[code] ?? { error: 'invalid_request', status: 400, message: () => 'The request could not be processed (injected error).' };
  const trace = ctx.traceId ?? traceId();
  const correlation = ctx.correlationId ?? randomUUID();
  const timestamp = entraTimestamp(ctx.nowMs);
  return {
    status: entry.status,
    body: {
      error: entry.error,
      error_description: `AADSTS${code}: ${entry.message(details, ctx.nowMs)}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `${ctx.baseUrl}/error?code=${code}`,
    },
  };
}
