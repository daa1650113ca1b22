export type { NatsAuth } from './auth.js';
export { NatsChatLog } from './chat.js';
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
