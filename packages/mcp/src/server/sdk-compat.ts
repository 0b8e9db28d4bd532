import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The `@modelcontextprotocol/sdk` versions this package is tested with (the peer dependency range). The
 * lower bound runs in CI through the `sdk-1-26` alias; the upper bound is the next major, whose
 * sessionful transport has not been checked.
 */
export const SUPPORTED_SDK_RANGE = '>=1.26.0 <2';

/**
 * The installed SDK does not behave the way session rebuilding relies on. Rebuilding uses only public
 * API, but it depends on behaviour the SDK does not document as a contract: an `initialize` request
 * pushed through `handleRequest` on a fresh transport sets its session id from `sessionIdGenerator`, and
 * the server takes the client's capabilities from it. If a future SDK changes that, this error says so
 * instead of letting rebuilt sessions misbehave silently.
 */
export class SdkCompatibilityError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'SDK_INCOMPATIBLE' as const;

  constructor(detail: string) {
    super(
      `@mcp-session/mcp cannot rebuild MCP sessions with the installed @modelcontextprotocol/sdk ` +
        `(${installedSdkVersion() ?? 'version unknown'}): ${detail}. ` +
        `Supported: @modelcontextprotocol/sdk ${SUPPORTED_SDK_RANGE}. Install a version in that range, ` +
        'or report the SDK change to @mcp-session/mcp.',
    );
    this.name = 'SdkCompatibilityError';
  }
}

/**
 * Whether `error` is an `SdkCompatibilityError`, by its code: `instanceof` is false for one made by another
 * copy of this package.
 */
export function isSdkCompatibilityError(error: unknown): error is SdkCompatibilityError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === 'SDK_INCOMPATIBLE'
  );
}

let cachedVersion: string | null | undefined;

/** The version of the SDK that resolves from this package, or null when it cannot be read. */
export function installedSdkVersion(): string | null {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = null;
  try {
    // The SDK does not export its package.json; walk up from a module it does export.
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve('@modelcontextprotocol/sdk/types.js'));
    for (let i = 0; i < 5; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === '@modelcontextprotocol/sdk' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // Not the package root yet (or a nested {"type":"module"} marker): keep walking up.
      }
      dir = dirname(dir);
    }
  } catch {
    // Version is only used in error messages.
  }
  return cachedVersion;
}
