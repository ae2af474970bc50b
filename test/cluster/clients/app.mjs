// An app container's process: @azure/identity's DefaultAzureCredential with nothing but the
// environment the webhook gave the container, and a read of the token file it asked for.
//
//   node app.mjs <scope> <token-name>
//
// The result goes to file descriptor 3 as one JSON object (stdout and stderr are logs, audited for
// secrets): {"sdk":{"token","expiresOnTimestamp"},"file":"<content>"} or {"error":{"name","message"}}.
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [scope, tokenName] = process.argv.slice(2);
try {
  const { DefaultAzureCredential } = await import('azure-identity-latest');
  const t = await new DefaultAzureCredential().getToken(scope);
  const file = readFileSync(join(process.env.ENTRA_TOKEN_DIR ?? '/var/run/secrets/entra', tokenName), 'utf8');
  writeSync(3, JSON.stringify({ sdk: { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp }, file }));
} catch (err) {
  writeSync(3, JSON.stringify({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } }));
  process.exitCode = 2;
}
