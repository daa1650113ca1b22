export {
  type AgentZerotier,
  agentZerotier,
  currentAddress,
  preferredIp,
  type ResolvedAddress,
  resolveAddress,
  stripPrefix,
  withHost,
} from './address.js';
export {
  CentralClient,
  type CentralOptions,
  centralUrl,
  DEFAULT_CENTRAL_URL,
  isRecentlySeen,
  memberOf,
  parseReset,
} from './central.js';
export { type DetectOptions, detectZerotier } from './detect.js';
export { controllerOf, isNetworkId, isNodeId, parseNetworkId, parseNodeId } from './ids.js';
export {
  DEFAULT_LOCAL_PORT,
  hasActivePath,
  type LocalOptions,
  LocalService,
  type LocalToken,
  openLocalService,
  PORT_FILE,
  readLocalPort,
  readLocalToken,
  TOKEN_FILE,
  USER_TOKEN_FILE,
  zerotierHome,
} from './local.js';
export {
  CENTRAL_SECRET,
  type MemberSource,
  type MemberSourceOptions,
  openMemberSource,
  resolveCentralToken,
  setNodeAuthorized,
  withMemberSource,
} from './members.js';
export { type Relocation, relocateAgent } from './relocate.js';
export { matchMembers, type RosterEntry, type RosterFlag } from './roster.js';
export { type ZerotierProblem, type ZerotierStatus, zerotierStatus } from './status.js';
export {
  type CentralNetwork,
  type JoinedNetwork,
  type Member,
  type MemberUpdate,
  NETWORK_STATUSES,
  type NetworkStatus,
  type NodeStatus,
  ONLINE_WINDOW_MS,
  type Peer,
  type PeerPath,
} from './types.js';
