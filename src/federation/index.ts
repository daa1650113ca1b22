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
export { type PublishChanges, publishSelf } from './publish.js';
export {
  type DeliveryReport,
  planRecipients,
  type Recipient,
  type SendInput,
  type SendReport,
  sendMessage,
  type TransportSettings,
} from './send.js';
