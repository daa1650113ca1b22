import { setTimeout as sleep } from 'node:timers/promises';
import type {
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  OrderedConsumerOptions,
  StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isOisError, OisError } from '../errors.js';
import { connectAuth, type NatsAuth } from './auth.js';
import { inboxPrefix, serversForDisplay, type TeamNames, teamNames } from './names.js';

/** How long a write keeps trying (a cluster electing a new stream leader takes a few seconds). */
export const DEFAULT_NATS_WRITE_DEADLINE_MS = 30_000;
/** How long one publish waits for its acknowledgement before it is sent again with the same id. */
const PUBLISH_TIMEOUT_MS = 5_000;
/**
 * The streams' dedupe window: a write repeated within it (same `Nats-Msg-Id`) is stored once. Longer than
 * the write deadline, so a write retried until its deadline is never stored twice.
 */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
/**
 * How long one pull of a reader waits; the server sends heartbeats at half of it, and a reader that misses
 * two starts again from its last sequence (on another node, when one was lost). The client's default (30 s)
 * would leave a reader stalled for a minute after a node loss.
 */
export const READ_EXPIRES_MS = 5_000;

export interface NatsTeamOptions {
  /** Server URLs (`nats://host:4222`); the client fails over between them. */
  servers: string[];
  /** The team's name on NATS (subjects `ois.<team>.…`). */
  team: string;
  /** Replicas of the streams this instance creates: 1 for one server, 3 for a three-node cluster. */
  replicas?: number;
  /**
   * The connection's name as the server's monitoring shows it (this instance's agent name); it also puts
   * the replies on the agent's own prefix (`inboxPrefix`), the only one its NATS user may subscribe to.
   */
  name?: string;
  /** How long connecting may take. */
  connectTimeoutMs?: number;
  /** How long a write keeps trying through reconnects and leader elections. */
  writeDeadlineMs?: number;
  /** Credentials and TLS trust, as files (specs/nats.md, Permissions); none for an open server. */
  auth?: NatsAuth;
}

/** One instance's connection to its team on NATS, with JetStream. */
export interface NatsTeam {
  readonly names: TeamNames;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly replicas: number;
  readonly writeDeadlineMs: number;
  readonly servers: string[];
  /**
   * The agent this connection writes as (`name`), or null: the sender token of the chat entries it publishes,
   * so that a server can let each agent publish only as itself, the replies it logs for others included.
   */
  readonly self: string | null;
  /**
   * False while the client has lost every server and is reconnecting: a reader with something to fall back
   * on (the team store's copy of the registry) uses it at once instead of waiting out the deadline.
   */
  online(): boolean;
  /** Closes the connection (after flushing what was published). */
  close(): Promise<void>;
}

/**
 * Connects to the team's NATS servers and checks that JetStream answers. The client libraries are loaded
 * here, on first use, so that a folder team never loads them. Throws `OIS_ERR_NATS_UNREACHABLE` when no
 * server answers, `OIS_ERR_NATS_JETSTREAM` when JetStream is off, `OIS_ERR_NATS_CREDENTIALS` for a
 * credentials file that cannot be read and `OIS_ERR_NATS_AUTH` when the servers refuse it.
 */
export async function connectNatsTeam(options: NatsTeamOptions): Promise<NatsTeam> {
  const names = teamNames(options.team);
  const [{ connect }, { jetstream, jetstreamManager }, auth] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@nats-io/jetstream'),
    connectAuth(options.auth),
  ]);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.servers,
      name: options.name ?? 'ois',
      ...auth,
      ...(options.name === undefined ? {} : { inboxPrefix: inboxPrefix(names.team, options.name) }),
      timeout: options.connectTimeoutMs ?? 5_000,
      // A lost server is expected in a cluster: keep reconnecting to the others, without end, and buffer
      // what is published meanwhile (the writes below wait for their acknowledgements anyway).
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
  } catch (err) {
    if (isAuthError(err)) {
      throw new OisError(
        'OIS_ERR_NATS_AUTH',
        `the NATS servers at ${serversForDisplay(options.servers)} refused this instance's credentials (Authorization Violation)`,
        {
          cause: err,
          hint: options.auth
            ? 'check the file given by --nkey or --creds; regenerate it with ois nats config'
            : 'the servers need credentials: pass the file ois nats config wrote for this agent (--nkey FILE)',
        },
      );
    }
    throw new OisError(
      'OIS_ERR_NATS_UNREACHABLE',
      `no NATS server answered at ${serversForDisplay(options.servers)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let jsm: JetStreamManager | undefined;
  // A cluster that has just lost a node answers JetStream requests only once it has a new meta leader: a
  // timeout is waited out (with backoff, until the write deadline); a server without JetStream says so.
  const deadline = Date.now() + (options.writeDeadlineMs ?? DEFAULT_NATS_WRITE_DEADLINE_MS);
  for (let delay = 250; jsm === undefined; delay = Math.min(delay * 2, 2_000)) {
    try {
      jsm = await jetstreamManager(nc, { timeout: PUBLISH_TIMEOUT_MS });
    } catch (err) {
      const denied = permissionError(err, 'use JetStream');
      const waitable = /timeout|timed out/i.test((err as Error).message ?? '') && !denied;
      if (waitable && Date.now() + delay < deadline) {
        await sleep(delay);
        continue;
      }
      await nc.close().catch(() => {});
      if (denied) throw denied;
      if (waitable) {
        throw new OisError(
          'OIS_ERR_NATS_UNREACHABLE',
          `JetStream on ${serversForDisplay(options.servers)} did not answer within ${Math.round((options.writeDeadlineMs ?? DEFAULT_NATS_WRITE_DEADLINE_MS) / 1000)} s: ${(err as Error).message}`,
          { cause: err, hint: 'a cluster needs a majority of its nodes up; check the servers named' },
        );
      }
      throw new OisError(
        'OIS_ERR_NATS_JETSTREAM',
        `JetStream does not answer on ${serversForDisplay(options.servers)}: ${(err as Error).message}`,
        { cause: err, hint: 'start nats-server with JetStream (-js, or a jetstream {} block)' },
      );
    }
  }
  let online = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') online = false;
      else if (status.type === 'reconnect') online = true;
    }
  })().catch(() => {});
  return {
    names,
    nc,
    online: () => online && !nc.isClosed(),
    self: options.name ?? null,
    js: jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS }),
    jsm,
    replicas: options.replicas ?? 1,
    writeDeadlineMs: options.writeDeadlineMs ?? DEFAULT_NATS_WRITE_DEADLINE_MS,
    servers: options.servers,
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** JetStream API error codes (nats-server `server/errors.json`) this module tells apart. */
export const JS_CODES = {
  streamNotFound: 10059,
  streamNameInUse: 10058,
} as const;

function apiCode(err: unknown): number | undefined {
  const e = err as { apiError?: () => { err_code?: number } } | null;
  return typeof e?.apiError === 'function' ? e.apiError().err_code : undefined;
}

/**
 * JetStream refusals that pass by themselves: a cluster that just lost a node answers "JetStream system
 * temporarily unavailable" (10008), or has no leader or not enough current peers for a moment, until it has
 * elected new leaders; two instances that create the same stream at once can get "already in use" or
 * "subjects overlap" (10058, 10065). These are retried until the deadline, like a timeout, never reported as
 * a refusal.
 */
export function isTemporaryRefusal(err: unknown): boolean {
  const code = apiCode(err);
  // 10008: a cluster without quorum for a moment. 10058, 10065: another instance created the same stream
  // (or bucket) at the same moment; looking again finds it.
  if (code === 10008 || code === JS_CODES.streamNameInUse || code === 10065) return true;
  return /temporarily unavailable|no suitable peers|insufficient resources|not current|leader/i.test(
    (err as Error | null)?.message ?? '',
  );
}

/** True for a JetStream API error with this code. */
export function isApiError(err: unknown, code: number): boolean {
  return apiCode(err) === code;
}

/**
 * Creates a stream unless it exists (any instance may be first; creating the same stream twice is a no-op
 * for the server). Retried until the write deadline: a cluster that just lost a node needs a few seconds to
 * elect a leader. Throws `OIS_ERR_NATS_JETSTREAM` when the server refuses the stream.
 */
export async function ensureStream(team: NatsTeam, config: Partial<StreamConfig> & { name: string }) {
  return retryUntil(team, `create the stream ${config.name}`, async () => {
    try {
      return await team.jsm.streams.info(config.name);
    } catch (err) {
      if (!isApiError(err, JS_CODES.streamNotFound)) throw err;
    }
    try {
      return await team.jsm.streams.add(config);
    } catch (err) {
      if (isApiError(err, JS_CODES.streamNameInUse)) return team.jsm.streams.info(config.name);
      if (apiCode(err) !== undefined && !isTemporaryRefusal(err)) {
        throw new OisError(
          'OIS_ERR_NATS_JETSTREAM',
          `JetStream refused the stream ${config.name}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      throw err;
    }
  });
}

/** The result of a publish that JetStream acknowledged. */
export interface Published {
  seq: number;
  duplicate: boolean;
}

/**
 * Publishes with a `Nats-Msg-Id` and waits for JetStream's acknowledgement, publishing again (same id) after
 * a timeout, a lost connection or a stream without a leader, until the write deadline. The server stores a
 * message once per id within the duplicate window, so a repeat never doubles it: the answer of the repeat
 * says `duplicate`. `fatal` picks the errors that no repeat can fix (thrown at once).
 */
export async function publishOnce(
  team: NatsTeam,
  subject: string,
  data: Uint8Array,
  msgID: string,
  fatal: (err: unknown) => Promise<OisError | null> = async () => null,
): Promise<Published> {
  return retryUntil(
    team,
    `store ${msgID} (it may be stored; repeating it with the same id is safe)`,
    async () => {
      try {
        const ack = await team.js.publish(subject, data, { msgID, timeout: PUBLISH_TIMEOUT_MS });
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        throw (await fatal(err)) ?? err;
      }
    },
  );
}

/**
 * Runs `fn` until it succeeds or throws an OisError, backing off, until the team's write deadline: for
 * writes with a `Nats-Msg-Id` and for reads, which are safe to repeat. A timeout, a lost connection or a
 * stream without a leader becomes `OIS_ERR_NATS_UNREACHABLE` once the deadline has passed; a refusal by
 * the server's permissions is `OIS_ERR_NATS_PERMISSION` at once.
 */
export async function retryUntil<T>(team: NatsTeam, what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + team.writeDeadlineMs;
  let delay = 100;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof OisError) throw err;
      // A refusal by the server's permissions is permanent: no repeat is let through.
      const denied = permissionError(err, what);
      if (denied) throw denied;
      if (team.nc.isClosed() || Date.now() + delay > deadline) {
        throw new OisError(
          'OIS_ERR_NATS_UNREACHABLE',
          `NATS (${serversForDisplay(team.servers)}) did not ${what} within ${Math.round(team.writeDeadlineMs / 1000)} s: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

/** The errors in a chain of causes (nats.js wraps the server's refusal in a RequestError). */
function* causes(err: unknown): Generator<Error> {
  for (let e = err as Error | undefined, depth = 0; e && depth < 4; e = e.cause as Error, depth++) yield e;
}

/** The server refused the credentials (`-ERR 'Authorization Violation'`). */
function isAuthError(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e.name === 'AuthorizationError' || /authorization violation/i.test(e.message ?? '')) return true;
  }
  return false;
}

/**
 * `OIS_ERR_NATS_PERMISSION` for a publish or subscription the server's permissions refused (`-ERR
 * 'Permissions Violation for Publish to "SUBJECT"'`), naming the subject; null for any other error.
 */
function permissionError(err: unknown, what: string): OisError | null {
  const refusals = [...causes(err)].filter(
    (e) => e.name === 'PermissionViolationError' || /permissions violation/i.test(e.message ?? ''),
  );
  if (refusals.length === 0) return null;
  // nats.js wraps the server's refusal (which names the subject) in the error of the request.
  let operation = 'publish';
  let subject: string | undefined;
  for (const e of refusals) {
    const named = e as Error & { operation?: string; subject?: string };
    const said = /(Publish|Subscription) to "(\S+)"/i.exec(e.message ?? '');
    subject = named.subject || said?.[2];
    if (subject) {
      operation = (named.operation ?? said?.[1] ?? 'publish').toLowerCase();
      break;
    }
  }
  const on = subject
    ? `${operation === 'subscription' ? 'subscribe to' : 'publish to'} ${subject}`
    : 'do this';
  return new OisError(
    'OIS_ERR_NATS_PERMISSION',
    `the NATS servers do not let this agent ${on} (to ${what.replace(/ \(.*\)$/, '')}): Permissions Violation`,
    {
      cause: err,
      hint: "the server config gives each agent its own subjects only: check that --nkey is this agent's file, or regenerate the config with ois nats config (with this agent in the team)",
      ...(subject ? { details: { subject, operation } } : {}),
    },
  );
}

export interface ReadOptions {
  /** Only subjects matching this (one filter: nats-server 2.9 takes no more). */
  filter?: string;
  /** Where a reader starts: asked again for every new reader, so it can resume after what was handled. */
  start: () => Partial<OrderedConsumerOptions>;
  /**
   * Whether the stream holds messages this reader has not handled yet; asked when a reader has idled for
   * READ_EXPIRES_MS. Yes means the reader is stuck, and it is replaced.
   */
  expectMore: () => Promise<boolean>;
  signal: AbortSignal;
  /** A reader stopped (its node was lost) and another starts; for logs. */
  onRestart?: (reason: string) => void;
}

/** Heartbeats a reader may miss before it is replaced. */
const MAX_MISSED_HEARTBEATS = 2;

/**
 * Reads a stream in order with an ordered consumer, awaiting `handle` for each message, until `signal` is
 * aborted or the connection closes. A new reader, from `options.start()`, replaces one that is stuck: with
 * nats.js 3 and nats-server 2.9, a reader whose node was lost reports missed heartbeats forever without
 * starting again, and one whose stream moved to a new leader can go on receiving heartbeats that report
 * no new messages while the stream has them, or none at all (all seen in tests/nats-cluster.test.ts). Only
 * an idle reader is suspected: one busy in `handle` (a gateway that is down) is left alone. A reader the
 * server's permissions refuse is `OIS_ERR_NATS_PERMISSION`, thrown: another would be refused the same way.
 */
export async function readStream(
  team: NatsTeam,
  stream: string,
  options: ReadOptions,
  handle: (m: JsMsg) => Promise<void> | void,
): Promise<void> {
  const { signal } = options;
  while (!signal.aborted && !team.nc.isClosed()) {
    let stalled: string | null = null;
    try {
      const consumer = await retryUntil(team, `read the stream ${stream}`, () =>
        team.js.consumers.get(stream, {
          ...(options.filter === undefined ? {} : { filter_subjects: options.filter }),
          ...options.start(),
        }),
      );
      const messages = await consumer.consume({ max_messages: 256, expires: READ_EXPIRES_MS });
      const close = () => void messages.close().catch(() => {});
      signal.addEventListener('abort', close, { once: true });
      if (signal.aborted) close(); // aborted while the reader was being set up
      let busy = false;
      let progressed = true;
      void (async () => {
        for await (const status of messages.status()) {
          if (status.type === 'heartbeats_missed' && status.count >= MAX_MISSED_HEARTBEATS) {
            stalled = `no heartbeat from the server for ${status.count} periods`;
            close();
          }
        }
      })().catch(() => {});
      // Idle since the last look, and the stream has more: the reader is stuck. Checked on a timer of our
      // own, not on the server's heartbeats: after a node loss a reader can get neither heartbeats nor a
      // report that they are missed (seen in tests/nats-cluster.test.ts), and would then never be replaced.
      const watchdog = setInterval(() => {
        const idle = !busy && !progressed;
        progressed = false;
        if (!idle || stalled !== null) return;
        void options.expectMore().then(
          (more) => {
            if (more && stalled === null) {
              stalled = 'the stream has messages the reader is not given';
              close();
            }
          },
          () => {},
        );
      }, READ_EXPIRES_MS);
      try {
        for await (const m of messages) {
          if (signal.aborted) break;
          busy = true;
          try {
            await handle(m);
          } finally {
            busy = false;
            progressed = true;
          }
        }
      } finally {
        clearInterval(watchdog);
        signal.removeEventListener('abort', close);
        close();
      }
    } catch (err) {
      if (signal.aborted) break;
      // A new reader would be refused the same way.
      if (isOisError(err, 'OIS_ERR_NATS_PERMISSION')) throw err;
      stalled = (err as Error).message;
    }
    if (stalled !== null) options.onRestart?.(stalled);
    if (!signal.aborted) await sleep(250, undefined, { signal }).catch(() => {});
  }
}
