/**
 * Java azure-identity as azure-sdk-bom pins it (MSAL4J's ManagedIdentityApplication inside), and
 * its legacy path (USE_AZURE_IDENTITY_CLIENT_LIBRARY_LEGACY_MI with MSI_ENDPOINT), Probe.java
 * compiled once by scripts/install-interop-clients.sh and run with `java` in a child process with
 * only the app container's environment.
 */
import { describe } from 'vitest';
import { describeMatrix, usePod } from './matrix.js';
import { java, requireInstalled } from './sdk-clients.js';

const { dirs, skip } = await requireInstalled('java');

describe.skipIf(skip)('Java azure-identity against the sidecar', () => {
  const pod = usePod();
  // Every error answer becomes a ClientAuthenticationException (MSAL4J's MsalServiceException
  // inside, carrying the sidecar's message), and DefaultAzureCredential stops there.
  const pins = {
    managedError: 'ClientAuthenticationException',
    defaultAfter4xx: 'stops',
    defaultImdsRequests: { 'imds 200': 1 },
    errorMarker: 'MsalServiceException',
  } as const;
  describeMatrix(java(dirs!), pins, pod);
  // 1.18.4 no longer reads USE_AZURE_IDENTITY_CLIENT_LIBRARY_LEGACY_MI: with it and MSI_ENDPOINT
  // set, the request still goes through MSAL4J (the MsalServiceException marker), App Service 2019.
  describeMatrix(java(dirs!, true), { ...pins, appServiceOnly: true }, pod);
});
