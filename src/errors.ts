/**
 * Every error OIS raises. Each has a stable `code` (never renamed: scripts and the docs depend on it), the
 * process exit code the CLI uses, the HTTP status the daemon answers with, and a hint that tells the user
 * what to do. Errors are translated only at the two edges (CLI, server); everything in between throws these.
 *
 * Exit codes (STYLE.md): 0 ok, 1 bug, 2 usage, 3 config, 4 peer unreachable, 5 peer rejected,
 * 6 local storage, 130 interrupted.
 */

export const EXIT = {
  ok: 0,
  bug: 1,
  usage: 2,
  config: 3,
  unreachable: 4,
  rejected: 5,
  storage: 6,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

interface ErrorKind {
  readonly exit: ExitCode;
  readonly status: number;
}

const USAGE: ErrorKind = { exit: EXIT.usage, status: 400 };
const CONFIG: ErrorKind = { exit: EXIT.config, status: 500 };
const UNREACHABLE: ErrorKind = { exit: EXIT.unreachable, status: 502 };
const REJECTED: ErrorKind = { exit: EXIT.rejected, status: 502 };
const STORAGE: ErrorKind = { exit: EXIT.storage, status: 500 };

/** The table of codes. `docs/errors.md` documents each one; a test keeps the two in step. */
export const ERROR_CODES = {
  OIS_ERR_INTERNAL: { exit: EXIT.bug, status: 500 },
  OIS_ERR_INTERRUPTED: { exit: EXIT.interrupted, status: 500 },

  OIS_ERR_USAGE: USAGE,
  OIS_ERR_UNKNOWN_COMMAND: USAGE,
  OIS_ERR_MESSAGE_EMPTY: USAGE,
  OIS_ERR_MESSAGE_INVALID_UTF8: USAGE,
  OIS_ERR_MESSAGE_TOO_LARGE: USAGE,
  OIS_ERR_AGENT_UNKNOWN: USAGE,
  OIS_ERR_AGENT_INACTIVE: USAGE,
  OIS_ERR_AGENT_SELF: USAGE,
  OIS_ERR_MESSAGE_UNKNOWN: USAGE,
  OIS_ERR_TOOL_PARAMS: USAGE,

  OIS_ERR_CONFIG_INVALID: CONFIG,
  OIS_ERR_PLUGIN_CONFIG: CONFIG,
  OIS_ERR_CONFIG_MISSING: CONFIG,
  OIS_ERR_TEAM_NOT_FOUND: CONFIG,
  OIS_ERR_REGISTRY_PARSE: CONFIG,
  OIS_ERR_REGISTRY_INVALID: CONFIG,
  OIS_ERR_AGENT_NO_GATEWAY: CONFIG,
  OIS_ERR_TOKEN_MISSING: CONFIG,
  OIS_ERR_SECRETS_INVALID: CONFIG,
  OIS_ERR_CLOCK_SKEW: CONFIG,

  OIS_ERR_PEER_UNREACHABLE: UNREACHABLE,
  OIS_ERR_PEER_BUSY: UNREACHABLE,
  OIS_ERR_DELIVERY_UNKNOWN: UNREACHABLE,

  OIS_ERR_PEER_AUTH: REJECTED,
  OIS_ERR_PEER_TOOL_DENIED: REJECTED,
  OIS_ERR_PEER_REJECTED: REJECTED,
  OIS_ERR_PEER_FORBIDDEN: REJECTED,
  OIS_ERR_PEER_SESSION_UNKNOWN: REJECTED,
  OIS_ERR_PEER_TOO_LARGE: REJECTED,
  OIS_ERR_PEER_ERROR: REJECTED,
  OIS_ERR_PEER_PROTOCOL: REJECTED,

  OIS_ERR_NATS_UNREACHABLE: UNREACHABLE,
  OIS_ERR_NATS_NO_INBOX: UNREACHABLE,
  OIS_ERR_NATS_JETSTREAM: CONFIG,
  OIS_ERR_NATS_TEAM_INVALID: USAGE,
  OIS_ERR_NATS_CREDENTIALS: CONFIG,
  OIS_ERR_NATS_AUTH: CONFIG,
  OIS_ERR_NATS_PERMISSION: { exit: EXIT.rejected, status: 403 },

  OIS_ERR_ZT_NOT_RUNNING: UNREACHABLE,
  OIS_ERR_ZT_API: UNREACHABLE,
  OIS_ERR_ZT_RATE_LIMITED: UNREACHABLE,
  OIS_ERR_ZT_TOKEN: CONFIG,
  OIS_ERR_ZT_AUTH: CONFIG,
  OIS_ERR_ZT_NETWORK_UNSET: CONFIG,
  OIS_ERR_ZT_NOT_JOINED: CONFIG,
  OIS_ERR_ZT_ACCESS_DENIED: CONFIG,
  OIS_ERR_ZT_FORBIDDEN: REJECTED,
  OIS_ERR_ZT_NOT_FOUND: REJECTED,
  OIS_ERR_ZT_PROTOCOL: REJECTED,
  OIS_ERR_NOT_ADMIN: USAGE,

  OIS_ERR_MEMBER_FORBIDDEN: { exit: EXIT.usage, status: 403 },
  OIS_ERR_MEMBER_SELF: { exit: EXIT.usage, status: 409 },
  OIS_ERR_MEMBER_OWNER: { exit: EXIT.usage, status: 409 },
  OIS_ERR_MEMBER_TRANSITION: { exit: EXIT.usage, status: 409 },
  OIS_ERR_MEMBER_UNKNOWN: USAGE,
  OIS_ERR_MEMBERSHIP_INVALID: CONFIG,
  OIS_ERR_CONFIRM_REQUIRED: USAGE,

  OIS_ERR_OUTBOX_NOT_FOUND: USAGE,
  OIS_ERR_TASK_NOT_FOUND: USAGE,
  OIS_ERR_TASK_FORBIDDEN: { exit: EXIT.usage, status: 403 },
  OIS_ERR_TASK_TERMINAL: { exit: EXIT.usage, status: 409 },
  OIS_ERR_TASK_TRANSITION: { exit: EXIT.usage, status: 409 },
  OIS_ERR_NO_CAPABLE_AGENT: USAGE,
  OIS_ERR_MEMORY_NOT_FOUND: USAGE,
  OIS_ERR_MEMORY_NOT_OWNER: { exit: EXIT.usage, status: 403 },
  OIS_ERR_MEMORY_NO_KEY: USAGE,
  OIS_ERR_SKILL_INVALID: USAGE,
  OIS_ERR_SKILL_NOT_FOUND: USAGE,
  OIS_ERR_SKILL_EXISTS: { exit: EXIT.usage, status: 409 },
  OIS_ERR_SKILL_NOT_OWNER: { exit: EXIT.usage, status: 403 },
  OIS_ERR_SKILL_TAMPERED: { exit: EXIT.rejected, status: 409 },

  OIS_ERR_SHARED_NAME_INVALID: USAGE,
  OIS_ERR_SHARED_NOT_A_FILE: USAGE,
  OIS_ERR_SHARED_EXISTS: { exit: EXIT.usage, status: 409 },
  OIS_ERR_SHARED_TOO_LARGE: { exit: EXIT.usage, status: 413 },
  OIS_ERR_OUTBOX_CORRUPT: STORAGE,

  OIS_ERR_IDENTITY_MISSING: CONFIG,
  OIS_ERR_DAEMON_RUNNING: CONFIG,
  OIS_ERR_ENVELOPE_INVALID: { exit: EXIT.rejected, status: 400 },
  OIS_ERR_UNSUPPORTED_MEDIA_TYPE: { exit: EXIT.rejected, status: 415 },
  OIS_ERR_ENVELOPE_TOO_LARGE: { exit: EXIT.rejected, status: 413 },
  OIS_ERR_ENVELOPE_STALE: { exit: EXIT.rejected, status: 400 },
  OIS_ERR_SIGNATURE_INVALID: { exit: EXIT.rejected, status: 401 },
  OIS_ERR_SENDER_UNKNOWN: { exit: EXIT.rejected, status: 403 },
  OIS_ERR_SENDER_INACTIVE: { exit: EXIT.rejected, status: 403 },
  OIS_ERR_SENDER_UNVERIFIED: { exit: EXIT.rejected, status: 403 },
  OIS_ERR_RECIPIENT_MISMATCH: { exit: EXIT.rejected, status: 404 },
  OIS_ERR_RECIPIENT_INACTIVE: { exit: EXIT.rejected, status: 403 },
  OIS_ERR_HOP_LIMIT: { exit: EXIT.rejected, status: 409 },
  OIS_ERR_RATE_LIMITED: { exit: EXIT.unreachable, status: 429 },
  OIS_ERR_LOCAL_GATEWAY: { exit: EXIT.unreachable, status: 503 },
  OIS_ERR_VIEWER_UNAUTHORIZED: { exit: EXIT.usage, status: 401 },

  OIS_ERR_STORAGE: STORAGE,
  OIS_ERR_TEAM_UNWRITABLE: STORAGE,
  OIS_ERR_LOCK_TIMEOUT: STORAGE,
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface OisErrorOptions {
  /** One line that tells the user what to do about it. */
  hint?: string;
  cause?: unknown;
  /** Machine-readable facts for `--json` output and the server's answer (never secrets). */
  details?: Record<string, unknown>;
}

/** The one error class. `code` decides its exit code and HTTP status. */
/**
 * Marks an OisError across copies of this module: the CLI ships each command as its own bundle
 * (scripts/bundle.js), so an error thrown by a command's copy of the class must still be an OisError to
 * the entry's copy. `Symbol.for` is one symbol per process.
 */
const OIS_ERROR = Symbol.for('openclaw-ois.OisError');

export class OisError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' && value !== null && (value as { [OIS_ERROR]?: unknown })[OIS_ERROR] === true
    );
  }

  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly status: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: OisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, OIS_ERROR, { value: true });
    this.name = 'OisError';
    this.code = code;
    this.exitCode = ERROR_CODES[code].exit;
    this.status = ERROR_CODES[code].status;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isOisError(err: unknown, code?: ErrorCode): err is OisError {
  return err instanceof OisError && (code === undefined || err.code === code);
}

/** Wraps a Node.js file-system error from the team folder or the instance home. */
export function storageError(action: string, path: string, cause: unknown): OisError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    return new OisError('OIS_ERR_TEAM_UNWRITABLE', `cannot ${action} ${path}: permission denied (${errno})`, {
      hint: 'check the folder permissions and that the share is mounted read-write',
      cause,
    });
  }
  return new OisError('OIS_ERR_STORAGE', `cannot ${action} ${path}${errno ? ` (${errno})` : ''}`, {
    hint: 'check that the team folder is mounted and the disk is not full',
    cause,
  });
}
