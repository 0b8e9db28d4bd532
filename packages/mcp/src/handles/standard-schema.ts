import { InvalidValueError } from '@mcp-session/core';

// The Standard Schema and Standard JSON Schema interfaces (https://standardschema.dev), copied as the
// specification recommends so this module depends on no validator and no SDK.

/** A Standard Schema v1 that can also describe itself as JSON Schema (what SDK 2.x `registerTool` takes). */
export interface StandardSchemaWithJson<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaWithJson.Props<Input, Output>;
}

export declare namespace StandardSchemaWithJson {
  /** The `~standard` property. */
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    readonly validate: (
      value: unknown,
      options?: { readonly libraryOptions?: Record<string, unknown> | undefined } | undefined,
    ) => Result<Output> | Promise<Result<Output>>;
    readonly jsonSchema: {
      readonly input: (options: JsonSchemaOptions) => Record<string, unknown>;
      readonly output: (options: JsonSchemaOptions) => Record<string, unknown>;
    };
  }
  /** Options of the JSON Schema converters. */
  interface JsonSchemaOptions {
    readonly target: 'draft-2020-12' | 'draft-07' | 'openapi-3.0' | (object & string);
    readonly libraryOptions?: Record<string, unknown> | undefined;
  }
  /** A validation result. */
  type Result<Output> = { readonly value: Output; readonly issues?: undefined } | FailureResult;
  /** A failed validation. */
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One validation issue. */
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  }
  /** The validated (output) type of a schema. */
  type InferOutput<S extends StandardSchemaWithJson> = NonNullable<
    S['~standard']['types']
  >['output'];
  /** The input type of a schema. */
  type InferInput<S extends StandardSchemaWithJson> = NonNullable<S['~standard']['types']>['input'];
}

/** Name of the argument the handle tool helpers add. */
export const HANDLE_ARGUMENT = 'handle';

type WithHandle<T> = T & { handle: string };

/**
 * `schema` (an object schema of any Standard Schema library with JSON Schema support: Zod ≥ 4.2, ArkType,
 * Valibot through `toStandardJsonSchema`; or undefined for a tool with no other argument) with a required
 * string `handle` argument added. Validation checks `handle` and hands the other arguments, without it, to
 * `schema`, so strict object schemas keep working; the JSON Schema lists `handle` first.
 * @throws InvalidValueError when `schema` cannot describe itself as JSON Schema, does not describe an object,
 *   or already has a `handle` property.
 */
export function withHandleArgument<S extends StandardSchemaWithJson | undefined>(
  schema: S,
  description: string,
): StandardSchemaWithJson<
  WithHandle<S extends StandardSchemaWithJson ? StandardSchemaWithJson.InferInput<S> : object>,
  WithHandle<S extends StandardSchemaWithJson ? StandardSchemaWithJson.InferOutput<S> : object>
> {
  const inner = schema?.['~standard'];
  if (schema !== undefined) {
    if (typeof inner?.validate !== 'function' || typeof inner.jsonSchema?.input !== 'function') {
      throw new InvalidValueError(
        'inputSchema of a handle tool must be a Standard Schema with JSON Schema support (e.g. z.object({...}) from zod ≥ 4.2)',
        'inputSchema',
      );
    }
    // Fail at registration, not at the first tools/list.
    withHandleProperty(inner.jsonSchema.input({ target: 'draft-2020-12' }));
  }

  function withHandleProperty(json: Record<string, unknown>): Record<string, unknown> {
    if (json.type !== undefined && json.type !== 'object') {
      throw new InvalidValueError(
        `inputSchema of a handle tool must describe an object, got type ${JSON.stringify(json.type)}`,
        'inputSchema',
      );
    }
    const properties = isRecord(json.properties) ? json.properties : {};
    if (Object.hasOwn(properties, HANDLE_ARGUMENT)) {
      throw new InvalidValueError(
        'inputSchema of a handle tool must not define "handle": the helper adds it',
        'inputSchema',
      );
    }
    const required = Array.isArray(json.required) ? json.required : [];
    return {
      ...json,
      type: 'object',
      properties: { [HANDLE_ARGUMENT]: { type: 'string', description }, ...properties },
      required: [HANDLE_ARGUMENT, ...required],
    };
  }

  const finish = (
    handle: unknown,
    handleIssues: StandardSchemaWithJson.Issue[],
    result: StandardSchemaWithJson.Result<unknown>,
  ): StandardSchemaWithJson.Result<never> => {
    if (result.issues) return { issues: [...handleIssues, ...result.issues] };
    if (handleIssues.length > 0) return { issues: handleIssues };
    if (!isRecord(result.value)) {
      return { issues: [{ message: 'The tool arguments must validate to an object' }] };
    }
    return { value: { ...result.value, [HANDLE_ARGUMENT]: handle } as never };
  };

  return {
    '~standard': {
      version: 1,
      vendor: 'mcp-session',
      validate(value) {
        if (!isRecord(value)) {
          return { issues: [{ message: 'Expected an object of arguments' }] };
        }
        const { [HANDLE_ARGUMENT]: handle, ...rest } = value;
        const handleIssues: StandardSchemaWithJson.Issue[] =
          typeof handle === 'string' && handle !== ''
            ? []
            : [
                {
                  message: `Expected a state handle string. ${description}`,
                  path: [HANDLE_ARGUMENT],
                },
              ];
        if (!inner) return finish(handle, handleIssues, { value: {} });
        const result = inner.validate(rest);
        return result instanceof Promise
          ? result.then((settled) => finish(handle, handleIssues, settled))
          : finish(handle, handleIssues, result);
      },
      jsonSchema: {
        input: (options) =>
          withHandleProperty(inner ? inner.jsonSchema.input(options) : { type: 'object' }),
        output: (options) =>
          withHandleProperty(inner ? inner.jsonSchema.output(options) : { type: 'object' }),
      },
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
