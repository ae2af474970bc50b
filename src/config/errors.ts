import { EntraSidecarError } from '../errors.js';

/**
 * A configuration value is missing or invalid. `setting` names the variable (and flag) the user
 * must fix; the message says what is wrong and what is accepted. Never carries a secret value.
 *
 * @example
 * throw new ConfigError('AZURE_CLIENT_ID (--client-id)', 'is required: set it to the client id of the Entra app');
 */
export class ConfigError extends EntraSidecarError {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(
    readonly setting: string,
    readonly problem: string,
  ) {
    super(`${setting} ${problem}`, 'ConfigError');
  }
}
