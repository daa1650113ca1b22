import { randomUUID } from 'node:crypto';
import type { GatewaySimulatorMode, GatewaySimulatorOptions, TranscriptMessage } from './types.js';

export type JsonObject = Record<string, unknown>;

export interface ToolResult {
  content: { type: 'text'; text: string }[];
  details: unknown;
}

/** A tool that threw: the gateway answers 400 tool_error with its message. */
export class ToolError {
  constructor(readonly message: string) {}
}

/** OpenClaw's `jsonResult`: the payload both as details and as pretty-printed JSON text. */
function jsonResult(payload: unknown): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(payload, null, 2) }], details: payload };
}

/**
 * The sessions of the simulated gateway and the three tools OIS uses on them: `sessions_send` (with the
 * waited reply), `sessions_history` and `session_status`.
 */
export class Sessions {
  readonly agentIds: string[];
  readonly #opts: GatewaySimulatorOptions;
  readonly #mode: () => GatewaySimulatorMode;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #transcripts = new Map<string, TranscriptMessage[]>();
  readonly #replyFn: NonNullable<GatewaySimulatorOptions['reply']>;

  constructor(
    opts: GatewaySimulatorOptions,
    mode: () => GatewaySimulatorMode,
    sleep: (ms: number) => Promise<void>,
  ) {
    this.#opts = opts;
    this.#mode = mode;
    this.#sleep = sleep;
    this.agentIds = opts.agentIds ?? ['main'];
    this.#replyFn = opts.reply ?? ((message: string) => `Echo: ${message.slice(0, 200)}`);
    for (const key of opts.sessions ?? []) this.#transcripts.set(key, []);
  }

  mainKeyOf(agentId: string): string {
    return `agent:${agentId}:main`;
  }

  /** Messages in a session so far (a copy). Unknown sessions give []. */
  transcript(sessionKey: string): TranscriptMessage[] {
    return (this.#transcripts.get(sessionKey) ?? []).map((m) => ({ ...m }));
  }

  #exists(key: string): boolean {
    return this.#transcripts.has(key) || this.agentIds.some((id) => this.mainKeyOf(id) === key);
  }

  #log(key: string): TranscriptMessage[] {
    let log = this.#transcripts.get(key);
    if (!log) {
      log = [];
      this.#transcripts.set(key, log);
    }
    return log;
  }

  #deliver(sessionKey: string, message: string, callerKey: string): void {
    const at = new Date();
    this.#log(sessionKey).push({
      role: 'user',
      content: message,
      provenance: { kind: 'inter_session', sourceSessionKey: callerKey, sourceTool: 'sessions_send' },
      senderLabel: `Forwarded from ${this.agentOf(callerKey)}`,
      timestamp: at.getTime(),
    });
    this.#opts.onMessage?.({ sessionKey, message, at });
  }

  agentOf(sessionKey: string): string {
    const parts = sessionKey.split(':');
    return parts[0] === 'agent' && parts[1] ? parts[1] : 'main';
  }

  async sessionsSend(args: JsonObject, callerKey: string): Promise<ToolResult | ToolError> {
    const message = ['message', 'content', 'text']
      .map((name) => args[name])
      .find((v): v is string => typeof v === 'string' && v.trim() !== '');
    if (message === undefined) return new ToolError('message required');
    if (this.#mode() === 'starting') {
      return jsonResult({ status: 'error', error: 'sessions.create unavailable during gateway startup' });
    }
    const rawTimeout = args.timeoutSeconds;
    const timeoutSeconds =
      typeof rawTimeout === 'number' && Number.isFinite(rawTimeout) && rawTimeout >= 0
        ? Math.floor(rawTimeout)
        : 30;

    let sessionKey = typeof args.sessionKey === 'string' && args.sessionKey ? args.sessionKey : undefined;
    if (!sessionKey && typeof args.label === 'string' && args.label) {
      // (not in the reference) labels are not modelled: no session ever has one.
      return jsonResult({
        runId: randomUUID(),
        status: 'error',
        error: `No session found with label: ${args.label}`,
      });
    }
    if (!sessionKey && typeof args.agentId === 'string' && args.agentId) {
      if (!this.agentIds.includes(args.agentId)) {
        return jsonResult({
          runId: randomUUID(),
          status: 'error',
          error: `agent not found: ${args.agentId}`,
        });
      }
      sessionKey = this.mainKeyOf(args.agentId);
    }
    if (!sessionKey) {
      return jsonResult({
        runId: randomUUID(),
        status: 'error',
        error: 'Either sessionKey or label is required',
      });
    }
    if (sessionKey === 'main') sessionKey = this.mainKeyOf('main');
    if (!this.#exists(sessionKey)) {
      return jsonResult({ runId: randomUUID(), status: 'error', error: `No session found: ${sessionKey}` });
    }

    const runId = randomUUID();
    if (timeoutSeconds === 0) {
      this.#deliver(sessionKey, message, callerKey);
      return jsonResult({
        runId,
        status: 'accepted',
        sessionKey,
        targetDisposition: 'queued',
        delivery: { status: 'pending', mode: 'announce' },
      });
    }

    if (sessionKey === callerKey) {
      return jsonResult({
        runId,
        status: 'error',
        error: 'sessions_send cannot target the calling session',
        sessionKey,
      });
    }

    this.#deliver(sessionKey, message, callerKey);
    const timeoutMs = timeoutSeconds * 1000;
    const delayMs = this.#opts.replyDelayMs ?? 0;
    if (delayMs > timeoutMs) {
      await this.#sleep(timeoutMs);
      // (not in the reference) the exact wording of the timeout error.
      return jsonResult({
        runId,
        status: 'timeout',
        error: `timed out after ${timeoutSeconds}s waiting for a reply`,
        sentBeforeError: true,
        sessionKey,
      });
    }
    if (delayMs > 0) await this.#sleep(delayMs);
    const reply = await this.#replyFn(message, sessionKey);
    if (reply === null) {
      // (not in the reference) shape of no_reply, modelled on the ok answer without `reply`.
      return jsonResult({
        runId,
        status: 'no_reply',
        sessionKey,
        delivery: { status: 'delivered', mode: 'announce' },
      });
    }
    this.#log(sessionKey).push({ role: 'assistant', content: reply, timestamp: Date.now() });
    return jsonResult({
      runId,
      status: 'ok',
      reply,
      sessionKey,
      delivery: { status: 'delivered', mode: 'announce' },
    });
  }

  sessionsHistory(args: JsonObject): ToolResult | ToolError {
    const sessionKey = typeof args.sessionKey === 'string' ? args.sessionKey : '';
    if (!sessionKey) return new ToolError('sessionKey required');
    if (!this.#exists(sessionKey)) {
      return jsonResult({ status: 'error', error: `No session found: ${sessionKey}` });
    }
    const all = this.#transcripts.get(sessionKey) ?? [];
    const max = typeof args.limit === 'number' && args.limit > 0 ? Math.floor(args.limit) : all.length;
    // (not in the reference) the shape of the history answer.
    return jsonResult({ sessionKey, messages: all.slice(-max) });
  }

  sessionStatus(callerKey: string): ToolResult {
    // (not in the reference) a small status object; OIS only needs the 200.
    return jsonResult({
      sessionKey: callerKey,
      agentId: this.agentOf(callerKey),
      status: 'idle',
      model: 'simulator/echo',
      simulator: true,
    });
  }
}
