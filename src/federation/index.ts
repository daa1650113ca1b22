export {
  ensureIdentity,
  formatPublicKey,
  IDENTITY_FILE,
  type Identity,
  loadIdentity,
  parsePublicKey,
} from '../membership/index.js';
export { isTransient, retryAfterOf } from './deliver.js';
export {
  type Attempt,
  type AttemptSettings,
  attemptDelivery,
  type Courier,
  type Drained,
  drainPeer,
  leaseMsFor,
  logReceipt,
  type Moved,
  OutboxSender,
  type PathReport,
  type QueuedMessage,
  readQueued,
  settle,
  type Thread,
} from './dispatch.js';
export {
  canonicalBytes,
  ENVELOPE_SCHEMA,
  ENVELOPE_TYPES,
  ENVELOPE_VERSION,
  type Envelope,
  type EnvelopeType,
  MAX_ENVELOPE_BODY_BYTES,
  MAX_HOPS,
  MAX_WAIT_SECONDS,
  sentTimeOf,
  signEnvelope,
  TASK_STATES,
  type TaskRef,
  type TaskState,
  type UnsignedEnvelope,
  verifyEnvelope,
} from './envelope.js';
export {
  type InboxDeps,
  type InboxLog,
  type Received,
  receiveEnvelope,
  SKIP_REPLIES,
  settleUnsettled,
  type VerifiedSender,
  verifySender,
} from './inbox.js';
export {
  checkBody,
  deliveredText,
  formatHeader,
  MESSAGE_ID_PATTERN,
  type MessageHeader,
  messageIdTime,
  newMessageId,
  parseHeader,
} from './message.js';
export {
  backoffDelay,
  DEFAULT_OUTBOX_LEASE_MS,
  DEFAULT_OUTBOX_TTL_MS,
  Outbox,
  type OutboxMessage,
  type OutboxMode,
  type OutboxState,
  outboxPath,
} from './outbox.js';
export { type FederationRef, federationOf } from './peer.js';
export {
  DEFAULT_PRESENCE_INTERVAL_MS,
  type PeerPresence,
  PRESENCE_FILE,
  PresenceMonitor,
  type PresenceOptions,
  type PresenceSnapshot,
  readPresence,
} from './presence.js';
export { type PublishChanges, publishDaemonUrl, publishSelf } from './publish.js';
export { DEFAULT_SEEN_WINDOW_MS, INBOX_FILE, type SeenState, SeenStore } from './seen-store.js';
export {
  type DeliveryReport,
  planRecipients,
  type Recipient,
  type SendInput,
  type SendReport,
  sendMessage,
  type TransportSettings,
} from './send.js';
export { instanceCourier, relocate, type SendAsInput, sendAs, sendQueuedNow } from './send-as.js';
