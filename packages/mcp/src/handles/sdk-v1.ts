import { InvalidValueError } from '@mcp-session/core';
import type { McpServer, RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type AnySchema,
  getObjectShape,
  isZ4Schema,
  normalizeObjectSchema,
  type SchemaOutput,
  type ShapeOutput,
  type ZodRawShapeCompat,
} from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import * as z3 from 'zod/v3';
import * as z4 from 'zod/v4';
import * as z4mini from 'zod/v4-mini';
import { HANDLE_ARGUMENT } from './standard-schema.js';
import type { HandleState, MintedHandle, StateHandles } from './state-handles.js';
import {
  answerStoreOutagesAsRequestErrors,
  callWithHandle,
  callWithMintedHandle,
  handleArgumentDescription,
} from './tool-runtime.js';

/** The `extra` an SDK 1.x tool handler gets. */
export type ToolExtraV1 = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The tool's own arguments: the output of its Zod raw shape or object schema (empty without one). */
export type ToolArgsV1<Input extends ZodRawShapeCompat | AnySchema | undefined> =
  Input extends ZodRawShapeCompat
    ? ShapeOutput<Input>
    : Input extends AnySchema
      ? SchemaOutput<Input>
      : Record<string, never>;

/** Configuration of a handle tool under SDK 1.x: `registerTool`'s, plus the `handle` argument's text. */
export interface HandleToolConfigV1<Input extends ZodRawShapeCompat | AnySchema | undefined> {
  title?: string;
  description?: string;
  /** The tool's own arguments: a Zod (3 or 4) raw shape or object schema; `handle` is added to it. */
  inputSchema?: Input;
  outputSchema?: ZodRawShapeCompat | AnySchema;
  annotations?: ToolAnnotations;
  _meta?: Record<string, unknown>;
  /** What the model reads about the `handle` argument. Default: names the minting tool when known. */
  handleDescription?: string;
}

/** A handle tool's handler under SDK 1.x: its arguments (without `handle`), the state, the SDK `extra`. */
export type HandleToolCallbackV1<Input extends ZodRawShapeCompat | AnySchema | undefined> = (
  args: ToolArgsV1<Input>,
  state: HandleState,
  extra: ToolExtraV1,
) => CallToolResult | Promise<CallToolResult>;

/** A minting tool's handler under SDK 1.x. */
export type MintHandleToolCallbackV1<Input extends ZodRawShapeCompat | AnySchema | undefined> = (
  args: ToolArgsV1<Input>,
  minted: MintedHandle,
  extra: ToolExtraV1,
) => CallToolResult | Promise<CallToolResult>;

// The SDK's generic `registerTool` cannot infer argument types through the extended schema; the callback
// types come from `HandleToolCallbackV1` instead, so registration goes through this untyped view.
type LooseToolCallback = (
  args: Record<string, unknown>,
  extra: ToolExtraV1,
) => Promise<CallToolResult>;
type LooseRegisterTool = (
  name: string,
  config: Record<string, unknown>,
  callback: LooseToolCallback | ((extra: ToolExtraV1) => Promise<CallToolResult>),
) => RegisteredTool;

/**
 * Registers a tool that takes a state handle on an SDK 1.x `McpServer` — typically one in stateless mode
 * (`sessionIdGenerator: undefined`), where handles replace the MCP session; it works on a sessionful server
 * too. A required string `handle` is added to the Zod input schema (3 or 4, raw shape or object); before
 * `callback` runs, the handle is resolved for the caller (owner from `extra.authInfo`, i.e. `req.auth`). A
 * dead or foreign handle, or a caller without an owner, gets a tool result with `isError: true` telling the
 * model what to do, and `callback` does not run. While the store is unavailable the call gets JSON-RPC
 * error -32603 "Session store unavailable; retry shortly." (see `answerStoreOutagesAsRequestErrors`).
 * @throws InvalidValueError when the input schema is not a Zod object or raw shape, or defines `handle`.
 */
export function registerHandleToolV1<
  Input extends ZodRawShapeCompat | AnySchema | undefined = undefined,
>(
  server: McpServer,
  handles: StateHandles,
  name: string,
  config: HandleToolConfigV1<Input>,
  callback: HandleToolCallbackV1<Input>,
): RegisteredTool {
  const { inputSchema, handleDescription, ...rest } = config;
  const schema = withHandleZod(
    inputSchema,
    handleDescription ?? handleArgumentDescription(handles),
  );
  answerStoreOutagesAsRequestErrors(server);
  const register = server.registerTool.bind(server) as unknown as LooseRegisterTool;
  return register(name, { ...rest, inputSchema: schema }, async (args, extra) => {
    const { [HANDLE_ARGUMENT]: handle, ...toolArgs } = args;
    return callWithHandle(handles, extra.authInfo, handle as string, (state) =>
      callback(toolArgs as ToolArgsV1<Input>, state, extra),
    );
  });
}

/**
 * Registers a tool that mints a state handle for the caller on an SDK 1.x `McpServer`. Without `callback`
 * it returns `{ handle, expiresAt }` (text and structured content); with one, `callback` gets the new
 * handle and returns the result, which must give the model `minted.handle`. If `callback` throws, the
 * handle is purged. A caller without an owner gets a tool error and nothing is minted; an unavailable
 * store, JSON-RPC error -32603.
 */
export function registerMintHandleToolV1<
  Input extends ZodRawShapeCompat | AnySchema | undefined = undefined,
>(
  server: McpServer,
  handles: StateHandles,
  name: string,
  config: Omit<HandleToolConfigV1<Input>, 'handleDescription'>,
  callback?: MintHandleToolCallbackV1<Input>,
): RegisteredTool {
  const { inputSchema, ...rest } = config;
  answerStoreOutagesAsRequestErrors(server);
  const register = server.registerTool.bind(server) as unknown as LooseRegisterTool;
  const run = async (args: Record<string, unknown>, extra: ToolExtraV1) =>
    (await callWithMintedHandle(
      handles,
      extra.authInfo,
      callback && ((minted) => callback(args as ToolArgsV1<Input>, minted, extra)),
    )) as CallToolResult;
  return inputSchema === undefined
    ? register(name, rest, (extra: ToolExtraV1) => run({}, extra))
    : register(name, { ...rest, inputSchema }, run);
}

/**
 * The input schema with a required `handle` string added, in the Zod flavour the schema already uses (the
 * SDK refuses shapes that mix Zod 3 and Zod 4). Object-level settings (strict, passthrough) are kept.
 */
function withHandleZod(
  inputSchema: ZodRawShapeCompat | AnySchema | undefined,
  description: string,
): AnySchema {
  if (inputSchema === undefined) {
    return z4.object({ [HANDLE_ARGUMENT]: z4.string().min(1).describe(description) });
  }
  const object = normalizeObjectSchema(inputSchema);
  if (object === undefined) {
    throw new InvalidValueError(
      'inputSchema of a handle tool must be a Zod object schema or raw shape',
      'inputSchema',
    );
  }
  if (Object.hasOwn(getObjectShape(object) ?? {}, HANDLE_ARGUMENT)) {
    throw new InvalidValueError(
      'inputSchema of a handle tool must not define "handle": the helper adds it',
      'inputSchema',
    );
  }
  if (isZ4Schema(object)) {
    return z4mini.extend(object as z4mini.ZodMiniObject, {
      [HANDLE_ARGUMENT]: z4.string().min(1).describe(description),
    });
  }
  return (object as z3.AnyZodObject).extend({
    [HANDLE_ARGUMENT]: z3.string().min(1).describe(description),
  });
}
