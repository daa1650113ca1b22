export const DEFAULT_SIMULATOR_BODY_BYTES = 2 * 1024 * 1024;

export interface FailedAuthLimit {
  /** Failures allowed per client IP within `windowMs` before the lockout starts. */
  max: number;
  windowMs: number;
  lockoutMs: number;
  /** The real gateway does not rate-limit loopback clients by default. */
  exemptLoopback: boolean;
}

export const DEFAULT_FAILED_AUTH_LIMIT: FailedAuthLimit = {
  max: 10,
  windowMs: 60_000,
  lockoutMs: 5 * 60_000,
  exemptLoopback: true,
};

export type GatewaySimulatorMode = 'normal' | 'suspending' | 'starting';

export interface GatewaySimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** The gateway's bearer token (`gateway.auth.token`). */
  token: string;
  /** Default true. False answers 404 "Tool not available: sessions_send", like a default-config gateway. */
  allowSessionsSend?: boolean;
  /** Configured agents; default ['main']. Their `agent:<id>:main` sessions are created on demand. */
  agentIds?: string[];
  /** Other session keys that already exist. */
  sessions?: string[];
  /** The assistant's answer to a waited send; null means it chose not to reply. Default: a short echo. */
  reply?: (message: string, sessionKey: string) => string | null | Promise<string | null>;
  /** How long the assistant takes to answer a waited send. Longer than the send's timeout => "timeout". */
  replyDelayMs?: number;
  /**
   * 'suspending' answers 503 on /tools/invoke, as a gateway that is restarting does. 'starting' is the
   * window (seen on real 2026.9.6 gateways) where /health already answers but /startupz is 503 and
   * sessions_send fails with "sessions.create unavailable during gateway startup".
   */
  mode?: GatewaySimulatorMode;
  failedAuthLimit?: FailedAuthLimit;
  /** Largest request body accepted (413 above it). Default 2 MiB, as the real gateway. */
  maxBodyBytes?: number;
  /** Called for every message that reaches a session. */
  onMessage?: (m: { sessionKey: string; message: string; at: Date }) => void;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Request headers; the authorization value is replaced by '[redacted]'. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined when there was none or it was not JSON). */
  body: unknown;
  /** The status the simulator answered with (undefined while the request is still open). */
  status?: number;
  at: Date;
}

export interface TranscriptMessage {
  role: 'user' | 'assistant';
  /** Plain text (not in the reference: real transcripts may hold content blocks). */
  content: string;
  /** Present on messages that arrived through sessions_send. */
  provenance?: { kind: 'inter_session'; sourceSessionKey?: string; sourceTool: 'sessions_send' };
  senderLabel?: string;
  timestamp: number;
}

export interface GatewaySimulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Messages in a session so far (a copy). Unknown sessions give []. */
  transcript(sessionKey: string): TranscriptMessage[];
  setMode(mode: GatewaySimulatorMode): void;
  close(): Promise<void>;
}
