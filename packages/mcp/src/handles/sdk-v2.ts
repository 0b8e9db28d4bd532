import type {
  CallToolResult,
  InputRequiredResult,
  McpServer,
  RegisteredTool,
  ServerContext,
  StandardSchemaWithJSON,
  ToolAnnotations,
} from '@modelcontextprotocol/server';
import { withHandleArgument } from './standard-schema.js';
import type { HandleState, MintedHandle, StateHandles } from './state-handles.js';
import {
  answerStoreOutagesAsRequestErrors,
  callWithHandle,
  callWithMintedHandle,
  handleArgumentDescription,
} from './tool-runtime.js';

/** What a tool returns under SDK 2.x. */
export type ToolResultV2 = CallToolResult | InputRequiredResult;

/** The tool's own arguments: the validated output of its input schema (an empty object without one). */
export type ToolArgsV2<Input extends StandardSchemaWithJSON | undefined> =
  Input extends StandardSchemaWithJSON
    ? StandardSchemaWithJSON.InferOutput<Input>
    : Record<string, never>;

/** Configuration of a handle tool under SDK 2.x: `registerTool`'s, plus the `handle` argument's text. */
export interface HandleToolConfigV2<Input extends StandardSchemaWithJSON | undefined> {
  title?: string;
  description?: string;
  /** The tool's own arguments, an object schema (`z.object({...})`); `handle` is added to it. */
  inputSchema?: Input;
  outputSchema?: StandardSchemaWithJSON;
  annotations?: ToolAnnotations;
  _meta?: Record<string, unknown>;
  /** What the model reads about the `handle` argument. Default: names the minting tool when known. */
  handleDescription?: string;
}

/** A handle tool's handler: its arguments (without `handle`), the resolved state, the SDK context. */
export type HandleToolCallbackV2<Input extends StandardSchemaWithJSON | undefined> = (
  args: ToolArgsV2<Input>,
  state: HandleState,
  ctx: ServerContext,
) => ToolResultV2 | Promise<ToolResultV2>;

/** A minting tool's handler: its arguments, the new handle, the SDK context. */
export type MintHandleToolCallbackV2<Input extends StandardSchemaWithJSON | undefined> = (
  args: ToolArgsV2<Input>,
  minted: MintedHandle,
  ctx: ServerContext,
) => ToolResultV2 | Promise<ToolResultV2>;

/**
 * Registers a tool that takes a state handle (SDK 2.x, `@modelcontextprotocol/server`). A required string
 * `handle` argument is added to the input schema; before `callback` runs, the handle is resolved for the
 * caller (owner from `ctx.http.authInfo` through the handles' owner resolver). A dead or foreign handle,
 * or a caller without an owner, gets a tool result with `isError: true` telling the model what to do, and
 * `callback` does not run. While the store is unavailable the call gets JSON-RPC error -32603 "Session
 * store unavailable; retry shortly." (see `answerStoreOutagesAsRequestErrors`).
 * @throws InvalidValueError when the input schema cannot take a `handle` argument.
 */
export function registerHandleTool<Input extends StandardSchemaWithJSON | undefined = undefined>(
  server: McpServer,
  handles: StateHandles,
  name: string,
  config: HandleToolConfigV2<Input>,
  callback: HandleToolCallbackV2<Input>,
): RegisteredTool {
  const { inputSchema, handleDescription, ...rest } = config;
  const schema = withHandleArgument(
    inputSchema as StandardSchemaWithJSON | undefined,
    handleDescription ?? handleArgumentDescription(handles),
  );
  answerStoreOutagesAsRequestErrors(server);
  return server.registerTool(
    name,
    { ...rest, inputSchema: schema },
    async ({ handle, ...args }, ctx) =>
      callWithHandle(handles, ctx.http?.authInfo, handle, (state) =>
        callback(args as ToolArgsV2<Input>, state, ctx),
      ),
  );
}

/**
 * Registers a tool that mints a state handle for the caller (SDK 2.x). Without `callback` it returns
 * `{ handle, expiresAt }` (text and structured content); with one, `callback` gets the new handle (to seed
 * its state) and returns the result, which must give the model `minted.handle`. If `callback` throws, the
 * handle is purged. A caller without an owner gets a tool error and nothing is minted; an unavailable
 * store, JSON-RPC error -32603.
 */
export function registerMintHandleTool<
  Input extends StandardSchemaWithJSON | undefined = undefined,
>(
  server: McpServer,
  handles: StateHandles,
  name: string,
  config: Omit<HandleToolConfigV2<Input>, 'handleDescription'>,
  callback?: MintHandleToolCallbackV2<Input>,
): RegisteredTool {
  const { inputSchema, ...rest } = config;
  answerStoreOutagesAsRequestErrors(server);
  const run = async (args: unknown, ctx: ServerContext): Promise<ToolResultV2> =>
    callWithMintedHandle(
      handles,
      ctx.http?.authInfo,
      callback && ((minted) => callback(args as ToolArgsV2<Input>, minted, ctx)),
    );
  return inputSchema === undefined
    ? server.registerTool(name, rest, (ctx) => run({}, ctx))
    : server.registerTool(
        name,
        { ...rest, inputSchema: inputSchema as StandardSchemaWithJSON },
        run,
      );
}
