export type { NatsAuth } from './auth.js';
export { NatsChatLog } from './chat.js';
export {
  type NatsConfigFiles,
  type NatsConfigFilesInput,
  type NatsUserFile,
  writeNatsConfigFiles,
} from './config-files.js';
export {
  connectNatsTeam,
  DEFAULT_NATS_WRITE_DEADLINE_MS,
  DUPLICATE_WINDOW_MS,
  type NatsTeam,
  type NatsTeamOptions,
  type Published,
} from './connection.js';
export { NatsInbox, type NatsInboxDeps, sendToInbox } from './inbox.js';
export {
  agentToken,
  chatSubjectDate,
  inboxPrefix,
  inboxSubjectSender,
  natsTeamName,
  serversForDisplay,
  type TeamNames,
  teamNames,
} from './names.js';
export { connectInstance, natsOptions, openNatsTeamStore } from './open.js';
export {
  adminPermissions,
  agentPermissions,
  DEFAULT_NATS_PORT,
  DEFAULT_NATS_ROUTE_PORT,
  DEFAULT_NATS_STORE_DIR,
  NATS_ADMIN_USER,
  type NatsClusterNode,
  type NatsPermissions,
  type NatsServerConfigInput,
  natsServerConfig,
} from './server-config.js';
export { fileKey, INLINE_MAX_BYTES, NatsTeamStore } from './store.js';
