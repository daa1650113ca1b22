export {
  type AgentFields,
  redactTokensText,
  renderAgentBlock,
  setTeamSettingsText,
  TOKEN_REDACTED,
  upsertAgentText,
} from './edit.js';
export { closestNames, findAgent, requireAgent } from './lookup.js';
export {
  AGENT_BLOCK_INFO,
  agentId,
  DEFAULT_AGENT_SESSION_KEY,
  DEFAULT_GATEWAY_PORT,
  looksLikeToken,
  parseRegistry,
  TEAM_BLOCK_INFO,
  validateAgentName,
} from './parse.js';
export {
  type AgentAddress,
  cachedRegistry,
  editRegistry,
  loadRegistry,
  recordAgentAddress,
} from './store.js';
export {
  type Agent,
  type AgentSpan,
  type AgentStatus,
  type GatewayRef,
  type Registry,
  type RegistryWarning,
  ROLES,
  type Role,
  STATUSES,
  type TeamSettings,
} from './types.js';
