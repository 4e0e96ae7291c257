/** A configuration problem, phrased for an operator: variable, what it got, what it wants. */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIGURATION';

  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}
