export { startGatewaySimulator } from './gateway.js';
export {
  DEFAULT_FAILED_AUTH_LIMIT,
  DEFAULT_SIMULATOR_BODY_BYTES,
  type FailedAuthLimit,
  type GatewaySimulator,
  type GatewaySimulatorMode,
  type GatewaySimulatorOptions,
  type RecordedRequest,
  type TranscriptMessage,
} from './types.js';
