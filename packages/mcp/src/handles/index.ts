export { HANDLE_METADATA_KEY, type HandleMetadata } from '../session-kinds.js';
export {
  type HandleToolCallbackV2,
  type HandleToolConfigV2,
  type MintHandleToolCallbackV2,
  type RegisteredToolV2,
  registerHandleTool,
  registerMintHandleTool,
  type ToolAnnotationsV2,
  type ToolArgsV2,
  type ToolContextV2,
  type ToolResultV2,
  type ToolServerV2,
} from './sdk-v2.js';
export {
  HANDLE_ARGUMENT,
  type StandardSchemaWithJson,
  withHandleArgument,
} from './standard-schema.js';
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
} from './state-handles.js';
export {
  callWithHandle,
  callWithMintedHandle,
  HANDLE_AUTH_REQUIRED_MESSAGE,
  type HandleToolErrorResult,
  handleToolError,
  type MintToolResult,
  mintToolResult,
} from './tool-runtime.js';
