import type { ErrorCode } from '../errors.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One line of `ois doctor`: what was checked, how it went, and for a failure the concrete fix. */
export interface Check {
  /** `this instance`, or the peer's name. */
  subject: string;
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** For failures: the error code the same problem gets elsewhere (decides the exit code). */
  code?: ErrorCode;
}
