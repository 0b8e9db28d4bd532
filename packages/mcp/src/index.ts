export {
  type ConnectRecoveringClientOptions,
  connectRecoveringClient,
  RecoveringClientTransport,
  type RecoveringClientTransportOptions,
  type SessionRenewedEvent,
} from './client/recovering-transport.js';
export {
  SessionEventStore,
  type SessionEventStoreOptions,
} from './event-store/session-event-store.js';
export {
  type HandleToolCallbackV1,
  type HandleToolConfigV1,
  type MintHandleToolCallbackV1,
  registerHandleToolV1,
  registerMintHandleToolV1,
  type ToolArgsV1,
  type ToolExtraV1,
} from './handles/sdk-v1.js';
export {
  defaultHandleOwner,
  HANDLE_METADATA_KEY,
  HANDLE_PREFIX,
  type HandleAuthInfo,
  type HandleCounters,
  type HandleMetadata,
  HandleNotFoundError,
  HandleOwnerRequiredError,
  type HandleOwnerResolver,
  HandleState,
  type MintedHandle,
  StateHandles,
  type StateHandlesOptions,
} from './handles/state-handles.js';
export {
  callWithHandle,
  callWithMintedHandle,
  HANDLE_AUTH_REQUIRED_MESSAGE,
  type HandleToolErrorResult,
  handleToolError,
  type MintToolResult,
  mintToolResult,
} from './handles/tool-runtime.js';
export {
  createMcpSessionHandler,
  type HandleRequestOptions,
  type HandlerCounters,
  type HandlerStats,
  McpSessionHandler,
  type McpSessionHandlerOptions,
  type ServerFactory,
  type ServerFactoryContext,
} from './server/handler.js';
export {
  PREFERRED_SESSION_ID_HEADERS,
  SESSION_ID_HEADER,
  SESSION_NOT_FOUND_CODE,
} from './server/http.js';
export type { NodeListener } from './server/node.js';
export { defaultOwner, type OwnerRequest, type OwnerResolver } from './server/owner.js';
export {
  checkSdkCompatibility,
  type SessionServer,
  type SessionTransportOptions,
} from './server/rebuild.js';
export {
  installedSdkVersion,
  SdkCompatibilityError,
  SUPPORTED_SDK_RANGE,
} from './server/sdk-compat.js';
export {
  LOGGING_LEVELS,
  type LoggingLevel,
  MCP_METADATA_KEY,
  type McpSessionMetadata,
} from './server/session-metadata.js';
export { SessionContext } from './tools/session-context.js';
