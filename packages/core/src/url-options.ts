import { InvalidStoreUrlError } from './errors.js';
import { redactUrl } from './registry.js';

/** Largest delay a Node timer takes; a larger one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** How one store URL query parameter is read. */
export type UrlOptionSpec =
  | { type: 'string'; pattern?: RegExp; description?: string }
  | { type: 'boolean' }
  | {
      /** Decimal digits only (no sign, `0x`, exponent or fraction). */
      type: 'integer';
      /** Smallest accepted value. Default 0. */
      min?: number;
      /** Largest accepted value. Default `Number.MAX_SAFE_INTEGER`; `MAX_TIMER_MS` for timer delays. */
      max?: number;
      /** Unit named in messages, e.g. "milliseconds". */
      unit?: string;
    };

/** The value type a spec reads to. */
export type UrlOptionValue<S extends UrlOptionSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'integer' }
    ? number
    : string;

/** What `readUrlOptions` returns: each option that was present, typed, and the parameters left over. */
export type UrlOptions<Spec extends Record<string, UrlOptionSpec>> = {
  -readonly [K in keyof Spec]?: UrlOptionValue<Spec[K]>;
};

/** Where the parameters came from, for messages. */
export interface UrlOptionsContext {
  /** The store, e.g. "Redis" → `Unknown Redis store URL option "x"`. */
  store: string;
  /** The URL, for messages; its secrets are hidden (`redactUrl`) before it is shown. */
  shownUrl?: string;
  /** Parameters accepted and left for someone else (a driver), returned in `rest` unread. */
  passThrough?: readonly string[];
}

/**
 * Reads a store URL's query parameters by one rule for every adapter: an unknown key is an error naming it
 * and the known ones; a key given twice is an error; values are typed (`true`/`false`; decimal integers
 * within bounds, so `0x10`, `1e3`, `-1` and `2.5` are refused; strings matching a pattern). Parameters in
 * `passThrough` are returned in `rest`, untouched.
 * @throws InvalidStoreUrlError saying which parameter is wrong and why (never the password).
 */
export function readUrlOptions<Spec extends Record<string, UrlOptionSpec>>(
  params: URLSearchParams,
  spec: Spec,
  context: UrlOptionsContext,
): { options: UrlOptions<Spec>; rest: URLSearchParams } {
  const where = context.shownUrl === undefined ? '' : ` in "${redactUrl(context.shownUrl)}"`;
  const passThrough = context.passThrough ?? [];
  const options: Record<string, unknown> = {};
  const rest = new URLSearchParams();
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    const own = Object.hasOwn(spec, key);
    if (!own && !passThrough.includes(key)) {
      const known = [...Object.keys(spec), ...passThrough];
      throw new InvalidStoreUrlError(
        `Unknown ${context.store} store option "${key}"${where} (known: ${known.length > 0 ? known.join(', ') : 'none'})`,
      );
    }
    if (values.length > 1) {
      throw new InvalidStoreUrlError(
        `${context.store} store option "${key}" is given ${values.length === 2 ? 'twice' : `${values.length} times`}${where}; give it once`,
      );
    }
    const value = values[0] as string;
    if (!own) {
      rest.append(key, value);
      continue;
    }
    options[key] = readValue(
      key,
      value,
      spec[key] as UrlOptionSpec,
      `${context.store} store option`,
      where,
    );
  }
  return { options: options as UrlOptions<Spec>, rest };
}

function readValue(
  key: string,
  value: string,
  spec: UrlOptionSpec,
  what: string,
  where: string,
): string | number | boolean {
  switch (spec.type) {
    case 'boolean':
      if (value === 'true') return true;
      if (value === 'false') return false;
      throw new InvalidStoreUrlError(
        `${what} ${key} must be true or false, got ${JSON.stringify(value)}${where}`,
      );
    case 'integer': {
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      const number = Number(value);
      const unit = spec.unit === undefined ? '' : ` (${spec.unit})`;
      if (
        !/^[0-9]+$/.test(value) ||
        !Number.isSafeInteger(number) ||
        number < min ||
        number > max
      ) {
        throw new InvalidStoreUrlError(
          `${what} ${key} must be a whole number from ${min} to ${max}${unit}, got ${JSON.stringify(value)}${where}`,
        );
      }
      return number;
    }
    case 'string':
      if (spec.pattern !== undefined && !spec.pattern.test(value)) {
        throw new InvalidStoreUrlError(
          `${what} ${key} must be ${spec.description ?? `a string matching ${spec.pattern}`}, got ${JSON.stringify(value)}${where}`,
        );
      }
      return value;
  }
}
