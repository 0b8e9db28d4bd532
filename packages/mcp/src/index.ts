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
export { UnreadableEventsError } from './event-store/unreadable-events-error.js';
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
  HANDLE_PREFIX,
  type HandleAuthInfo,
  type HandleCounters,
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
  createMetricsExporter,
  type HandlerStatsSource,
  type HandleStatsSource,
  type MetricsExporter,
  type MetricsExporterOptions,
} from './metrics/exporter.js';
export { PROMETHEUS_CONTENT_TYPE } from './metrics/prometheus.js';
export {
  PREFERRED_SESSION_ID_HEADERS,
  SESSION_ID_HEADER,
  SESSION_NOT_FOUND_CODE,
} from './protocol.js';
export {
  createMcpSessionHandler,
  type HandlerCounters,
  type HandlerStats,
  McpSessionHandler,
} from './server/handler.js';
export type { NodeListener } from './server/node-listener.js';
export type {
  McpSessionHandlerOptions,
  ServerFactory,
  ServerFactoryContext,
} from './server/options.js';
export { defaultOwner, type OwnerRequest, type OwnerResolver } from './server/owner.js';
export {
  isOwnerLimitError,
  isPoolSaturatedError,
  type OwnerLimit,
  OwnerLimitError,
  PoolSaturatedError,
} from './server/pool-errors.js';
export {
  checkSdkCompatibility,
  type SessionServer,
  type SessionTransportOptions,
} from './server/rebuild.js';
export type { HandleRequestOptions } from './server/request.js';
export {
  installedSdkVersion,
  SdkCompatibilityError,
  SUPPORTED_SDK_RANGE,
} from './server/sdk-compat.js';
export { SessionContext } from './session-context.js';
export {
  HANDLE_METADATA_KEY,
  type HandleMetadata,
  LOGGING_LEVELS,
  type LoggingLevel,
  MCP_METADATA_KEY,
  type McpSessionMetadata,
} from './session-kinds.js';
