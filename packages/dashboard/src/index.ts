export type { SessionSummary } from './api.js';
export { createDashboard, type Dashboard } from './handler.js';
export {
  DASHBOARD_DEFAULTS,
  type DashboardLog,
  type DashboardOptions,
  MIN_TOKEN_LENGTH,
} from './options.js';
