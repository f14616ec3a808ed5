/** An operator mistake in configuration: printed as one line, no stack trace, exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
