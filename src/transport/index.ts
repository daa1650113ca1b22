export {
  DEFAULT_CALLER_SESSION_KEY,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type GatewayTarget,
  type InvokeOptions,
  invokeTool,
  MAX_GATEWAY_BODY_BYTES,
  type RequestOptions,
  type SendOptions,
  type SendResult,
  sessionsSend,
} from './gateway-client.js';
export { networkProblem, type Probe, probeGet, readBounded, requestVia } from './probe.js';
export {
  DEFAULT_MAX_RETRY_AFTER_MS,
  DEFAULT_MAX_RETRY_DELAY_MS,
  DEFAULT_MIN_RETRY_DELAY_MS,
  DEFAULT_RETRIES,
  parseRetryAfter,
  Retryable,
  type RetryPolicy,
  retryPolicy,
  withRetries,
} from './retry.js';
