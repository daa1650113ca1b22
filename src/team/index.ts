export { TEMP_PREFIX, writeFileAtomic } from './atomic.js';
export { type CopyReport, copyTeam } from './copy.js';
export { findTeamFolder, REGISTRY_FILE } from './discover.js';
export { LazyTeamStore } from './lazy.js';
export {
  acquireLock,
  DEFAULT_LOCK_STALE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type LockOptions,
  withLock,
} from './lock.js';
export { MemoryTeamStore } from './memory-store.js';
export { inTurn, normPath } from './queue.js';
export * from './shared.js';
export { type EntryInfo, FsTeamStore, type PeerEnvelope, type TeamStore } from './store.js';

/** Where things live in a team folder. */
export const TEAM_PATHS = {
  registry: 'AGENTS.md',
  chat: 'chat',
  shared: 'shared',
} as const;
