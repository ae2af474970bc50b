/**
 * The newest Python azure-identity from PyPI (pinned in scripts/install-interop-clients.sh), sync
 * (App Service through msal-python's ManagedIdentityClient) and azure.identity.aio (still
 * azure-identity's own client), each in a child process with only the app container's environment.
 */
import { describe } from 'vitest';
import { describeMatrix, usePod } from './matrix.js';
import { pythonCurrent, requireInstalled } from './sdk-clients.js';

const { dirs, skip } = await requireInstalled('python');

describe.skipIf(skip)('Python azure-identity (current, PyPI) against the sidecar', () => {
  const pod = usePod();
  // msal-python turns every error answer into "App Service managed identity configuration not
  // found" (CredentialUnavailableError, the sidecar's message appended), so DefaultAzureCredential
  // moves on to the developer credentials; the aio client raises ClientAuthenticationError and stops.
  describeMatrix(
    pythonCurrent(dirs!),
    { managedError: 'CredentialUnavailableError', defaultAfter4xx: 'continues', defaultImdsRequests: { 'imds 200': 1 } },
    pod,
  );
  describeMatrix(
    pythonCurrent(dirs!, true),
    { managedError: 'ClientAuthenticationError', defaultAfter4xx: 'stops', defaultImdsRequests: { 'imds 200': 1 } },
    pod,
  );
});
