/**
 * Log lines are one event each. Error messages echo what clients sent (a protocol version, a tool name, a
 * header), so anything that goes into a line passes through `escapeLogText` first: a client cannot end the
 * line and forge the next one, nor hide text with terminal or bidi control characters.
 */

/**
 * `text` with backslashes doubled and every control character (C0, DEL, C1), format character (bidi
 * controls among them) and line or paragraph separator written as an escape: `\n`, `\r`, `\t`, else
 * `\xNN` or `\u{N}`.
 */
export function escapeLogText(text: string): string {
  return text.replace(/[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (char) => {
    switch (char) {
      case '\\':
        return '\\\\';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
    }
    const code = char.codePointAt(0) as number;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** An error as one escaped line: its stack when it has one (the message is its first line), else its text. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : error;
  return escapeLogText(String(text));
}

/** Where the reference server writes its log lines (console by default; tests pass their own). */
export type Log = Pick<Console, 'error' | 'warn'>;
