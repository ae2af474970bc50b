// The guide's storage snippet for JavaScript, as an app in a pod would run it:
// new BlobServiceClient(accountUrl, new DefaultAzureCredential()) creates a container, uploads a
// blob and reads it back.
//
//   node guide-storage.mjs <storage install dir> <account_url> <container>
//
// @azure/identity and @azure/storage-blob come from the storage component's install folder
// (scripts/install-interop-clients.sh storage). The result goes to file descriptor 3:
// {"blob":{"container","downloaded"}} or {"error":{"name","message"}}.
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, accountUrl, containerName] = process.argv.slice(2);
const CONTENT = 'written through a token from the entra-sidecar';

function report(value) {
  writeSync(3, JSON.stringify(value));
}

try {
  const require = createRequire(join(dir, 'package.json'));
  const { DefaultAzureCredential } = await import(pathToFileURL(require.resolve('@azure/identity')).href);
  const { BlobServiceClient } = await import(pathToFileURL(require.resolve('@azure/storage-blob')).href);

  const blobServiceClient = new BlobServiceClient(accountUrl, new DefaultAzureCredential());
  const { containerClient } = await blobServiceClient.createContainer(containerName);
  await containerClient.getBlockBlobClient('hello.txt').upload(CONTENT, Buffer.byteLength(CONTENT));
  const downloaded = (await containerClient.getBlobClient('hello.txt').downloadToBuffer()).toString('utf8');
  report({ blob: { container: containerName, downloaded } });
} catch (err) {
  report({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  process.exitCode = 2;
}
