/**
 * The same matrix as the Go, Java and current-Python files, for the clients that were proven
 * first: @azure/identity 4.0.1 and 4.13.1 (npm aliases from package.json) and Debian's Python
 * azure-identity 1.13, each in a child process with only the app container's environment.
 */
import { describe } from 'vitest';
import { describeMatrix, usePod } from './matrix.js';
import { javascript, pythonDebian } from './sdk-clients.js';
import { requireClients } from './setup.js';

const skip = await requireClients('python-azure-identity', 'azure-identity-4-0', 'azure-identity-latest');

describe.skipIf(skip)("@azure/identity and Debian's Python azure-identity: the full matrix", () => {
  const pod = usePod();
  // 4.0.1 reads a 400 as "no identity here" (CredentialUnavailableError, DefaultAzureCredential
  // moves on) but a 401 as AuthenticationError; 4.13.1 (msal-node inside) makes every failure
  // CredentialUnavailableError, so DefaultAzureCredential always moves on to the developer credentials.
  describeMatrix(
    javascript('azure-identity-4-0'),
    {
      managedError: 'CredentialUnavailableError',
      managedError401: 'AuthenticationError',
      defaultAfter4xx: 'continues',
      defaultImdsRequests: { 'imds 200': 1 },
    },
    pod,
  );
  describeMatrix(
    javascript('azure-identity-latest'),
    { managedError: 'CredentialUnavailableError', defaultAfter4xx: 'continues', defaultImdsRequests: { 'imds 200': 1 } },
    pod,
  );
  describeMatrix(pythonDebian(), { managedError: 'ClientAuthenticationError', defaultAfter4xx: 'stops', defaultImdsRequests: { 'imds 200': 1 } }, pod);
});
