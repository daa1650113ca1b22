export {
  compareLines,
  decryptAs,
  type Encrypted,
  encryptFor,
  lineBytes,
  type MemoryLine,
  type MemoryScope,
  nextHlc,
  parseLine,
  signLine,
  verifyLine,
} from './entry.js';
export {
  type Entry,
  ftsQuery,
  MEMORY_INDEX_FILE,
  MemoryIndex,
  type Reader,
  type Rejected,
  type Source,
} from './index-db.js';
export { type KeyView, mergeKey } from './merge.js';
export {
  asDataLine,
  cutToBytes,
  forgetMemory,
  MEMORY_KEY_FILE,
  type MemoryContext,
  notFound,
  type OpenMemory,
  openMemory,
  PRIVATE_MEMORY_FILE,
  type PutInput,
  publishKey,
  putMemory,
  recallText,
  TEAM_MEMORY_DIR,
} from './ops.js';
