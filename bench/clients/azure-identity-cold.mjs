// Row 6's baseline: a process that gets the same token in-process with @azure/identity's
// WorkloadIdentityCredential (AZURE_* from the environment, like an app in a pod) and writes it
// to <dir>/<name>, as the sidecar writes its token file. Never prints the token.
// Instance discovery is turned off: it would ask login.microsoftonline.com, which the emulator
// is not (with real Entra it costs the baseline one more round trip; the sidecar makes none).
//   node azure-identity-cold.mjs <dir> <name> <scope>
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkloadIdentityCredential } from 'azure-identity-latest';

const [dir, name, scope] = process.argv.slice(2);
const token = await new WorkloadIdentityCredential({ disableInstanceDiscovery: true }).getToken(scope);
writeFileSync(join(dir, name), token.token);
