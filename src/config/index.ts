export {
  DEFAULT_GATEWAY_URL,
  DEFAULT_SESSION_KEY,
  DEFAULT_WAIT_SESSION_KEY,
  OTHER_ENV,
  SETTINGS,
  type SettingDeclaration,
} from './declarations.js';
export { renderConfigDoc, renderConfigDocZh, untranslatedConfigKeys } from './doc.js';
export {
  CONFIG_FILE,
  type ConfigInput,
  type Env,
  type InstanceConfig,
  isHttpUrl,
  loadConfig,
  resolveHome,
} from './load.js';
export { ipVersion, isLoopbackHost, userHome } from './net.js';
export { openclawConfigPath, resolveOwnToken } from './own-token.js';
export {
  readSecrets,
  resolveToken,
  SECRETS_FILE,
  type TokenSource,
  tokenEnvName,
  updateSecret,
} from './secrets.js';
export { DAEMON_STATE_FILE, type DaemonState, runningDaemon } from './state.js';
export {
  formatNatsLocation,
  isNatsLocation,
  NATS_TEAM_NAME,
  type NatsLocation,
  parseNatsLocation,
} from './team-location.js';
export { type ConfigFileValues, writeConfigFile } from './write.js';
