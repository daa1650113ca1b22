export {
  type Actor,
  type ChangeResult,
  changeMembership,
  type MembershipChange,
  syncFace,
} from './actions.js';
export {
  appendRecord,
  type Chain,
  type ChainProblem,
  checkPin,
  MEMBERSHIP_FILE,
  PIN_FILE,
  readChain,
  readPin,
  replayChain,
  type TeamPin,
  updatePin,
} from './chain.js';
export {
  adoptApprovedKey,
  ensureIdentity,
  ensureNextIdentity,
  IDENTITY_FILE,
  type Identity,
  loadIdentity,
  NEXT_IDENTITY_FILE,
  OLD_IDENTITY_FILE,
} from './identity.js';
export { formatPublicKey, parsePrivateKey, parsePublicKey, signBytes, verifyBytes } from './keys.js';
export { type MembershipNotice, NOTICE_TYPES, type NoticeType, noticeOf } from './notices.js';
export {
  MEMBER_OPS,
  MEMBER_ROLES,
  MEMBER_STATUSES,
  type MemberOp,
  type MemberRecord,
  type MemberRole,
  type MemberStatus,
  parseRecord,
  RECORD_VERSION,
  recordBytes,
  recordHash,
  renderRecord,
  signRecord,
  type UnsignedRecord,
} from './records.js';
export {
  applyRecord,
  EMPTY_STATE,
  type Member,
  type MembershipState,
  SELF_OPS,
  TRANSITIONS,
} from './rules.js';
export {
  type AgentTrust,
  cachedTeamView,
  loadTeamView,
  requireAdmin,
  type TeamView,
  type Trust,
  teamView,
  type Verified,
  VIEW_CACHE_FILE,
  verifyChain,
} from './view.js';
