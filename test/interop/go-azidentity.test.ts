/**
 * Go azidentity, the newest release (MSAL Go's managedidentity inside) and v1.8.2 (its own
 * managed-identity client, before the move to MSAL Go), each compiled once from
 * clients/go/main.go by scripts/install-interop-clients.sh and run in a child process with only
 * the app container's environment. azidentity's IMDS address is fixed: the probe's transport sends
 * 169.254.169.254 to the sidecar.
 */
import { describe } from 'vitest';
import { describeMatrix, usePod } from './matrix.js';
import { go, requireInstalled } from './sdk-clients.js';

const { dirs, skip } = await requireInstalled('go');

describe.skipIf(skip)('Go azidentity against the sidecar', () => {
  const pod = usePod();
  // Any 4xx other than IMDS's "no identity" is an AuthenticationFailedError, and
  // DefaultAzureCredential stops there. In the IMDS flavour DefaultAzureCredential first probes
  // (GET without Metadata: true, answered 400) and then asks for the token.
  const pins = { managedError: 'AuthenticationFailedError', defaultAfter4xx: 'stops', defaultImdsRequests: { 'imds 400': 1, 'imds 200': 1 } } as const;
  describeMatrix(go(dirs!, 'new'), pins, pod);
  describeMatrix(go(dirs!, 'old'), pins, pod);
});
