/**
 * The environment configures the reference server wrongly. The message names the variable and says what
 * is wrong, never a secret it holds (a token, a password, a key).
 */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG' as const;

  constructor(
    /** The environment variable at fault, e.g. `MCP_TOKENS_FILE`. */
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}
