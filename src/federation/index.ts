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
  type DeliveryReport,
  planRecipients,
  type Recipient,
  type SendInput,
  type SendReport,
  sendMessage,
  type TransportSettings,
} from './send.js';
