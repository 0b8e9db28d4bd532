import { type StandardSchemaWithJson, withHandleArgument } from './standard-schema.js';
import type { HandleAuthInfo, HandleState, MintedHandle, StateHandles } from './state-handles.js';
import {
  answerStoreOutagesAsRequestErrors,
  callWithHandle,
  callWithMintedHandle,
  handleArgumentDescription,
} from './tool-runtime.js';

// These helpers take SDK 2.x's McpServer but name none of `@modelcontextprotocol/server`'s types: this entry
// is also where SDK 1.x applications get `StateHandles`, and a strict TypeScript consumer (skipLibCheck off)
// must not need a package it does not use. The callback's context and what registration returns are read
// from the server type passed in, so SDK 2.x users get the SDK's own types there.

/** SDK 2.x's `McpServer`, as far as these helpers use it: something with `registerTool`. */
export interface ToolServerV2 {
  registerTool(name: string, config: never, callback: never): unknown;
}

/** The tool callback `Server.registerTool` takes. */
type ToolCallbackOf<Server> = Server extends {
  registerTool(name: string, config: never, callback: infer Callback): unknown;
}
  ? Callback
  : never;

/** The SDK context a tool callback of `Server` receives (SDK 2.x: `ServerContext`). */
export type ToolContextV2<Server extends ToolServerV2> =
  ToolCallbackOf<Server> extends (args: never, ctx: infer Context) => unknown
    ? Context
    : { http?: { authInfo?: HandleAuthInfo } };

/**
 * What a handle tool returns: an MCP tool result (`content`, `structuredContent`, `isError`…) or SDK 2.x's
 * `InputRequiredResult`. Typed loosely, not from the server: TypeScript cannot keep a literal such as
 * `type: 'text'` while it still infers the server's type, and the SDK validates results itself.
 */
export interface ToolResultV2 {
  [key: string]: unknown;
  content?: { [key: string]: unknown; type: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** What `Server.registerTool` returns (SDK 2.x: `RegisteredTool`). */
export type RegisteredToolV2<Server extends ToolServerV2> = Server extends {
  registerTool(...args: never): infer Registered;
}
  ? Registered
  : unknown;

/** The tool's own arguments: the validated output of its input schema (an empty object without one). */
export type ToolArgsV2<Input extends StandardSchemaWithJson | undefined> =
  Input extends StandardSchemaWithJson
    ? StandardSchemaWithJson.InferOutput<Input>
    : Record<string, never>;

/** MCP tool annotations (hints for clients), as the protocol defines them. */
export interface ToolAnnotationsV2 {
  [key: string]: unknown;
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** Configuration of a handle tool under SDK 2.x: `registerTool`'s, plus the `handle` argument's text. */
export interface HandleToolConfigV2<Input extends StandardSchemaWithJson | undefined> {
  title?: string;
  description?: string;
  /** The tool's own arguments, an object schema (`z.object({...})`); `handle` is added to it. */
  inputSchema?: Input;
  outputSchema?: StandardSchemaWithJson;
  annotations?: ToolAnnotationsV2;
  _meta?: Record<string, unknown>;
  /** What the model reads about the `handle` argument. Default: names the minting tool when known. */
  handleDescription?: string;
}

/** A handle tool's handler: its arguments (without `handle`), the resolved state, the SDK context. */
export type HandleToolCallbackV2<
  Input extends StandardSchemaWithJson | undefined,
  Server extends ToolServerV2 = ToolServerV2,
> = (
  args: ToolArgsV2<Input>,
  state: HandleState,
  ctx: ToolContextV2<Server>,
) => ToolResultV2 | Promise<ToolResultV2>;

/** A minting tool's handler: its arguments, the new handle, the SDK context. */
export type MintHandleToolCallbackV2<
  Input extends StandardSchemaWithJson | undefined,
  Server extends ToolServerV2 = ToolServerV2,
> = (
  args: ToolArgsV2<Input>,
  minted: MintedHandle,
  ctx: ToolContextV2<Server>,
) => ToolResultV2 | Promise<ToolResultV2>;

/** `registerTool` as these helpers call it. */
type RegisterTool = (
  name: string,
  config: Record<string, unknown>,
  callback: (...args: never[]) => unknown,
) => unknown;

/** What the helpers read from a callback's context. */
interface CallContext {
  http?: { authInfo?: HandleAuthInfo };
}

function registerOn(server: ToolServerV2): RegisterTool {
  const register = (server as unknown as { registerTool: RegisterTool }).registerTool;
  return register.bind(server);
}

/**
 * Registers a tool that takes a state handle (SDK 2.x, `@modelcontextprotocol/server`). A required string
 * `handle` argument is added to the input schema; before `callback` runs, the handle is resolved for the
 * caller (owner from `ctx.http.authInfo` through the handles' owner resolver). A dead or foreign handle,
 * or a caller without an owner, gets a tool result with `isError: true` telling the model what to do, and
 * `callback` does not run. While the store is unavailable the call gets JSON-RPC error -32603 "Session
 * store unavailable; retry shortly." (see `answerStoreOutagesAsRequestErrors`).
 * @throws InvalidValueError when the input schema cannot take a `handle` argument.
 */
export function registerHandleTool<
  Server extends ToolServerV2,
  Input extends StandardSchemaWithJson | undefined = undefined,
>(
  server: Server,
  handles: StateHandles,
  name: string,
  config: HandleToolConfigV2<Input>,
  callback: HandleToolCallbackV2<Input, Server>,
): RegisteredToolV2<Server> {
  const { inputSchema, handleDescription, ...rest } = config;
  const schema = withHandleArgument(
    inputSchema as StandardSchemaWithJson | undefined,
    handleDescription ?? handleArgumentDescription(handles),
  );
  answerStoreOutagesAsRequestErrors(server);
  return registerOn(server)(
    name,
    { ...rest, inputSchema: schema },
    async ({ handle, ...args }: { handle: string }, ctx: CallContext) =>
      callWithHandle(handles, ctx.http?.authInfo, handle, (state) =>
        callback(args as ToolArgsV2<Input>, state, ctx as ToolContextV2<Server>),
      ),
  ) as RegisteredToolV2<Server>;
}

/**
 * Registers a tool that mints a state handle for the caller (SDK 2.x). Without `callback` it returns
 * `{ handle, expiresAt }` (text and structured content); with one, `callback` gets the new handle (to seed
 * its state) and returns the result, which must give the model `minted.handle`. If `callback` throws, the
 * handle is purged. A caller without an owner gets a tool error and nothing is minted; an unavailable
 * store, JSON-RPC error -32603.
 */
export function registerMintHandleTool<
  Server extends ToolServerV2,
  Input extends StandardSchemaWithJson | undefined = undefined,
>(
  server: Server,
  handles: StateHandles,
  name: string,
  config: Omit<HandleToolConfigV2<Input>, 'handleDescription'>,
  callback?: MintHandleToolCallbackV2<Input, Server>,
): RegisteredToolV2<Server> {
  const { inputSchema, ...rest } = config;
  answerStoreOutagesAsRequestErrors(server);
  const run = async (args: unknown, ctx: CallContext) =>
    callWithMintedHandle(
      handles,
      ctx.http?.authInfo,
      callback &&
        ((minted) => callback(args as ToolArgsV2<Input>, minted, ctx as ToolContextV2<Server>)),
    );
  const register = registerOn(server);
  return (
    inputSchema === undefined
      ? register(name, rest, (ctx: CallContext) => run({}, ctx))
      : register(name, { ...rest, inputSchema }, run)
  ) as RegisteredToolV2<Server>;
}
