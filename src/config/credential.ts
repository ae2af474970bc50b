import { ENVIRONMENT_CREDENTIAL_ENV as AZ, SIDECAR_ENV as E } from '../contract/sidecar-env.js';
import type { CredentialSource } from '../identity/credential-source.js';
import { ConfigError } from './errors.js';
import { parseBoolean, type OptionSpec, type RawOptions } from './options.js';

/** The flags and variables that choose the sidecar's credential (the federated token file is among the sidecar's options). */
export const CREDENTIAL_OPTIONS: OptionSpec[] = [
  {
    flag: 'client-secret-file',
    env: E.clientSecretFile,
    help: `file holding the app's client secret, read afresh for every exchange (clusters without federation; or ${AZ.clientSecret})`,
  },
  {
    flag: 'client-certificate-file',
    env: E.clientCertificateFile,
    help: `PEM file with the app's certificate and private key, or a PKCS#12 file; re-read when it changes (or ${AZ.clientCertificatePath})`,
  },
  {
    flag: 'client-certificate-key-file',
    env: E.clientCertificateKeyFile,
    help: 'PEM private key of the certificate when it is in a file of its own (tls.key of a kubernetes.io/tls Secret)',
  },
  {
    flag: 'client-certificate-password-file',
    env: E.clientCertificatePasswordFile,
    help: `file holding the password of an encrypted private key or PKCS#12 file (or ${AZ.clientCertificatePassword})`,
  },
  {
    flag: 'send-certificate-chain',
    env: E.sendCertificateChain,
    boolean: true,
    help: `send the certificate chain (x5c) for subject name and issuer authentication (or ${AZ.sendCertificateChain}=true)`,
  },
];

const FIX_NONE =
  `set exactly one credential: ${E.federatedTokenFile} (--federated-token-file, the projected service-account token: federation), ` +
  `${E.clientSecretFile} (--client-secret-file) or ${E.clientCertificateFile} (--client-certificate-file) ` +
  `(or ${AZ.clientSecret} / ${AZ.clientCertificatePath}, as EnvironmentCredential reads them)`;

/**
 * Chooses the sidecar's one credential source from its options and the `EnvironmentCredential`
 * variables. None, or more than one, is a ConfigError naming every setting involved and the fix;
 * a setting that only applies to another source is refused too. Never echoes a secret.
 *
 * @example
 * parseCredentialSource({ 'client-secret-file': '/var/run/secrets/entra-sidecar/client-secret/client-secret' }, {}, 'AZURE_FEDERATED_TOKEN_FILE (--federated-token-file)')
 */
export function parseCredentialSource(raw: RawOptions, env: NodeJS.ProcessEnv, federatedSetting: string): CredentialSource {
  const str = (flag: string): string | undefined => {
    const v = raw[flag];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  const envValue = (name: string): string | undefined => (env[name] !== undefined && (env[name] as string).trim() !== '' ? env[name] : undefined);
  const name = (flag: string): string => {
    const s = CREDENTIAL_OPTIONS.find((o) => o.flag === flag) as OptionSpec;
    return `${s.env} (--${s.flag})`;
  };

  const federated = str('federated-token-file');
  const secretFile = str('client-secret-file');
  const secretEnv = envValue(AZ.clientSecret);
  const certFile = str('client-certificate-file');
  const certEnv = envValue(AZ.clientCertificatePath)?.trim() || undefined;
  const keyFile = str('client-certificate-key-file');
  const passwordFile = str('client-certificate-password-file');
  const passwordEnv = envValue(AZ.clientCertificatePassword);
  const chainFlag = raw['send-certificate-chain'] === true;
  const chainEnvText = envValue(AZ.sendCertificateChain);
  const chainEnv = chainEnvText !== undefined ? parseBoolean(chainEnvText, AZ.sendCertificateChain) : false;

  if (secretFile && secretEnv)
    throw new ConfigError(
      `${name('client-secret-file')} and ${AZ.clientSecret}`,
      `are both set: keep the file (a file can be rotated without a restart and stays out of the process environment) and remove ${AZ.clientSecret}`,
    );
  if (certFile && certEnv)
    throw new ConfigError(
      `${name('client-certificate-file')} and ${AZ.clientCertificatePath}`,
      `are both set: keep one (${E.clientCertificateFile} is the sidecar's own name)`,
    );
  if (passwordFile && passwordEnv)
    throw new ConfigError(
      `${name('client-certificate-password-file')} and ${AZ.clientCertificatePassword}`,
      'are both set: keep the file and remove the variable',
    );

  const chosen: string[] = [];
  if (federated) chosen.push(federatedSetting);
  if (secretFile) chosen.push(name('client-secret-file'));
  if (secretEnv) chosen.push(AZ.clientSecret);
  if (certFile) chosen.push(name('client-certificate-file'));
  if (certEnv) chosen.push(AZ.clientCertificatePath);
  if (chosen.length === 0) throw new ConfigError('credential', `is missing: ${FIX_NONE}`);
  if (chosen.length > 1) {
    throw new ConfigError(
      chosen.join(' and '),
      `are all set, but a sidecar uses exactly one credential: keep one and remove the others${federated ? ` (a pod injected with entra-sidecar.io/client-secret or entra-sidecar.io/client-certificate gets no ${E.federatedTokenFile})` : ''}`,
    );
  }

  const isCertificate = Boolean(certFile || certEnv);
  if (!isCertificate) {
    const certOnly: string[] = [];
    if (keyFile) certOnly.push(name('client-certificate-key-file'));
    if (passwordFile) certOnly.push(name('client-certificate-password-file'));
    if (passwordEnv) certOnly.push(AZ.clientCertificatePassword);
    if (chainFlag) certOnly.push(name('send-certificate-chain'));
    if (chainEnvText !== undefined && chainEnv) certOnly.push(AZ.sendCertificateChain);
    if (certOnly.length > 0)
      throw new ConfigError(
        certOnly.join(' and '),
        `only ${certOnly.length > 1 ? 'apply' : 'applies'} to a client certificate, but the credential is ${chosen[0]}: remove ${certOnly.length > 1 ? 'them' : 'it'}`,
      );
  }

  if (federated) return { kind: 'federated', tokenFile: federated, setting: federatedSetting };
  if (secretFile) return { kind: 'client_secret', file: secretFile, setting: name('client-secret-file') };
  if (secretEnv) return { kind: 'client_secret', value: secretEnv, setting: AZ.clientSecret };
  const file = (certFile ?? certEnv) as string;
  return {
    kind: 'client_certificate',
    file,
    keyFile,
    passwordFile,
    password: passwordEnv,
    sendChain: chainFlag || chainEnv,
    setting: certFile ? name('client-certificate-file') : AZ.clientCertificatePath,
  };
}
