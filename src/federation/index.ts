export {
  type AttemptSettings,
  deliverPayload,
  isTransient,
  type OutboxPayload,
  retryAfterOf,
} from './deliver.js';
export {
  canonicalBytes,
  ENVELOPE_SCHEMA,
  ENVELOPE_VERSION,
  type Envelope,
  formatPublicKey,
  MAX_ENVELOPE_BODY_BYTES,
  parsePublicKey,
  signEnvelope,
  type UnsignedEnvelope,
  verifyEnvelope,
} from './envelope.js';
export { ensureIdentity, IDENTITY_FILE, type Identity, loadIdentity } from './identity.js';
export {
  checkBody,
  deliveredText,
  formatHeader,
  MESSAGE_ID_PATTERN,
  type MessageHeader,
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
export {
  DEFAULT_PRESENCE_INTERVAL_MS,
  type PeerPresence,
  PRESENCE_FILE,
  PresenceMonitor,
  type PresenceOptions,
  type PresenceSnapshot,
  readPresence,
} from './presence.js';
export { type PublishChanges, publishSelf } from './publish.js';
export {
  type DeliveryReport,
  type FederationRef,
  federationOf,
  planRecipients,
  type Recipient,
  type SendInput,
  type SendReport,
  sendMessage,
  type TransportSettings,
} from './send.js';
