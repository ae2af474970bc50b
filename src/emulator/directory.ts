import { TOKEN_EXCHANGE_AUDIENCE } from './service-account-token.js';
import type { FederatedCredential } from './types.js';

/**
 * The emulated Entra directory: tenants, application registrations in them, and each
 * application's federated identity credentials. Matching is exact and case-sensitive for issuer,
 * subject and audience (as Entra does since 2025); tenant and client ids are GUIDs, compared
 * case-insensitively.
 */
export class Directory {
  private readonly apps = new Map<string, Set<string>>(); // clientId → tenants
  private readonly credentials = new Map<string, Required<FederatedCredential>[]>();

  /** Registers an application (and its tenant). */
  addApplication(clientId: string, tenantId: string): void {
    const key = clientId.toLowerCase();
    const tenants = this.apps.get(key) ?? new Set<string>();
    tenants.add(tenantId.toLowerCase());
    this.apps.set(key, tenants);
  }

  /** Adds a federated identity credential to a registered application. */
  addFederatedCredential(r: FederatedCredential): void {
    const key = r.clientId.toLowerCase();
    if (!this.apps.has(key)) throw new Error(`application ${r.clientId} is not registered: call addApplication first`);
    const list = this.credentials.get(key) ?? [];
    list.push({ clientId: r.clientId, issuer: r.issuer, subject: r.subject, audience: r.audience ?? TOKEN_EXCHANGE_AUDIENCE });
    this.credentials.set(key, list);
  }

  /** Removes every federated identity credential of an application. */
  removeFederatedCredentials(clientId: string): void {
    this.credentials.delete(clientId.toLowerCase());
  }

  /** True when some application is registered in the tenant. */
  hasTenant(tenantId: string): boolean {
    const t = tenantId.toLowerCase();
    for (const tenants of this.apps.values()) if (tenants.has(t)) return true;
    return false;
  }

  /** True when the application is registered in the tenant. */
  hasApplication(tenantId: string, clientId: string): boolean {
    return this.apps.get(clientId.toLowerCase())?.has(tenantId.toLowerCase()) ?? false;
  }

  /** True when a federated credential of the application matches the assertion's iss, sub and one of its audiences. */
  matchesCredential(clientId: string, issuer: string, subject: string, audiences: string[]): boolean {
    const list = this.credentials.get(clientId.toLowerCase()) ?? [];
    return list.some((c) => c.issuer === issuer && c.subject === subject && audiences.includes(c.audience));
  }
}
