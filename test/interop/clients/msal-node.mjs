// Real-client probe: @azure/msal-node ManagedIdentityApplication, source picked by msal-node from
// the environment (App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER; IMDS:
// AZURE_POD_IDENTITY_AUTHORITY_HOST).
//
//   node msal-node.mjs <resource> [<resource>…]
//
// With AZURE_CLIENT_ID set, it asks for that user-assigned identity. The result goes to file
// descriptor 3 (see azure-identity.mjs): {"results":[{"scope","token","expiresOnTimestamp","source"}]}.
import { writeSync } from 'node:fs';
import { ManagedIdentityApplication } from '@azure/msal-node';

const resources = process.argv.slice(2);

function report(value) {
  writeSync(3, JSON.stringify(value));
}

try {
  const clientId = process.env.AZURE_CLIENT_ID;
  const app = new ManagedIdentityApplication(clientId ? { managedIdentityIdParams: { userAssignedClientId: clientId } } : {});
  const results = [];
  for (const resource of resources) {
    const r = await app.acquireToken({ resource });
    results.push({ scope: resource, token: r.accessToken, expiresOnTimestamp: r.expiresOn?.getTime(), source: app.getManagedIdentitySource() });
  }
  report({ results });
} catch (err) {
  report({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  process.exitCode = 2;
}
