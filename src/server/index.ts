export {
  APP_AJV_OPTIONS,
  type AppDeps,
  buildApp,
  INBOUND_BODY_LIMIT,
  LOG_REDACT,
  validatorsOnFirstUse,
} from './app.js';
export { type DaemonOptions, type RunningDaemon, startDaemon } from './daemon.js';
