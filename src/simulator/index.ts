export {
  DEFAULT_FAILED_AUTH_LIMIT,
  DEFAULT_SIMULATOR_BODY_BYTES,
  type FailedAuthLimit,
  type GatewaySimulator,
  type GatewaySimulatorMode,
  type GatewaySimulatorOptions,
  type RecordedRequest,
  startGatewaySimulator,
  type TranscriptMessage,
} from './gateway.js';
