// Real-client probe: @azure/identity (an npm alias such as azure-identity-4-0 or
// azure-identity-latest) gets tokens the way an app would, from the environment it was given.
//
//   node azure-identity.mjs <package> <default|managed|workload> <scope> [<scope>…]
//
// The result goes to file descriptor 3 as one JSON object, never to stdout or stderr (those are
// logs, audited for secrets): {"results":[{"scope","token","expiresOnTimestamp"}]} or
// {"error":{"name","message"}}.
import { writeSync } from 'node:fs';

const [pkg, kind, ...scopes] = process.argv.slice(2);

function report(value) {
  writeSync(3, JSON.stringify(value));
}

try {
  const identity = await import(pkg);
  const credential =
    kind === 'default'
      ? new identity.DefaultAzureCredential()
      : kind === 'managed'
        ? process.env.AZURE_CLIENT_ID
          ? new identity.ManagedIdentityCredential(process.env.AZURE_CLIENT_ID)
          : new identity.ManagedIdentityCredential()
        : kind === 'workload'
          ? // instance discovery would ask login.microsoftonline.com about the emulator's host
            new identity.WorkloadIdentityCredential({ disableInstanceDiscovery: true })
          : undefined;
  if (!credential) throw new Error(`unknown credential kind ${kind}: use default, managed or workload`);
  const results = [];
  for (const scope of scopes) {
    const t = await credential.getToken(scope);
    results.push({ scope, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp });
  }
  report({ results });
} catch (err) {
  report({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  process.exitCode = 2;
}
