import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { appendEntry } from '../chatlog/index.js';
import {
  DAEMON_STATE_FILE,
  type DaemonState,
  type Env,
  type InstanceConfig,
  resolveToken,
  runningDaemon,
  updateSecret,
} from '../config/index.js';
import { isOisError, OisError, storageError } from '../errors.js';
import {
  deliverPayload,
  isTransient,
  loadIdentity,
  newMessageId,
  Outbox,
  type OutboxMessage,
  type OutboxPayload,
  PresenceMonitor,
  planRecipients,
  readPresence,
  retryAfterOf,
  sendMessage,
} from '../federation/index.js';
import { loadRegistry, type Registry } from '../registry/index.js';
import { FsTeamStore, TEAM_PATHS, type TeamStore, writeFileAtomic } from '../team/index.js';
import { invokeTool, sessionsSend } from '../transport/index.js';
import { buildApp, LOG_REDACT } from './app.js';
import { SeenStore } from './seen-store.js';

export interface RunningDaemon {
  app: FastifyInstance;
  state: DaemonState;
  /** Stops accepting, waits for in-flight deliveries, removes the state file. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  config: InstanceConfig & { name: string; team: string };
  env: Env;
  /** Where pino writes (stderr for the CLI), or false for no logs. */
  log: NodeJS.WritableStream | false;
  /** Called once listening, with the URL peers should use (to publish it in AGENTS.md). */
  onListening?: (url: string) => Promise<void>;
  /** A peer came back (presence): its queued messages can go now. */
  onPeerUp?: (peer: string) => void;
}

/** Reads AGENTS.md again only when it changed (size or mtime), so a busy daemon does not parse it per message. */
function registryCache(store: FsTeamStore): () => Promise<Registry> {
  let cached: { key: string; registry: Registry } | null = null;
  return async () => {
    const info = await stat(store.path(TEAM_PATHS.registry)).catch(() => null);
    const key = info ? `${info.size}:${info.mtimeMs}` : 'missing';
    if (cached?.key !== key) cached = { key, registry: await loadRegistry(store) };
    return cached.registry;
  };
}

/**
 * Starts `ois serve` for one instance: refuses when another daemon holds the home, settles deliveries a
 * killed daemon left in flight, listens on the configured port (or a free one when it is taken), records
 * its state in `<home>/daemon.json`.
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { config, env } = options;
  const other = await runningDaemon(config.home);
  if (other && other.pid !== process.pid) {
    throw new OisError(
      'OIS_ERR_DAEMON_RUNNING',
      `a daemon already serves ${config.home}: pid ${other.pid} on ${other.url}`,
      {
        hint: `stop it (kill ${other.pid}) or give this instance its own home with --home`,
        details: { pid: other.pid, url: other.url },
      },
    );
  }
  const store = new FsTeamStore(config.team);
  const seen = new SeenStore(config.home);
  const target = async () => {
    const token = await resolveToken(config.home, env, config.name);
    if (!token) {
      throw new OisError('OIS_ERR_TOKEN_MISSING', `no token for this instance's own gateway`, {
        hint: `ois secrets set ${config.name} --token-stdin (this gateway's gateway.auth.token)`,
      });
    }
    return { url: config.gateway.url, token: token.token, sessionKey: config.gateway.sessionKey };
  };

  // A daemon killed between "claimed" and "delivered" left ids unsettled: look for each in the session
  // transcript, so that it is neither lost (released when absent) nor delivered twice (kept when present).
  for (const id of seen.unsettled()) {
    try {
      const history = await invokeTool(
        await target(),
        'sessions_history',
        { sessionKey: config.gateway.sessionKey, limit: 200 },
        { retries: 1 },
      );
      if (JSON.stringify(history).includes(id)) seen.delivered(id);
      else seen.release(id);
    } catch {
      seen.release(id);
    }
  }

  const registry = registryCache(store);
  const outbox = Outbox.open(config.home);
  const sender = new OutboxSender(outbox, config, env, store);
  const presence = new PresenceMonitor({
    home: config.home,
    self: config.name,
    registry,
    intervalMs: config.serve.presenceIntervalMs,
    onUp: (peer) => {
      // A peer came back: what waits for it goes out now, not at its next backoff.
      if (outbox.wakePeer(peer) > 0) sender.kick();
      options.onPeerUp?.(peer);
    },
  });
  // Compose in the viewer goes through the same path as ois send.
  const compose = async (to: string[] | 'all', body: string) => {
    const current = await registry();
    const identity = await loadIdentity(config.home);
    const recipients = await planRecipients(
      current,
      config.name,
      to === 'all' ? { all: true } : { names: to },
      async (agent) => (await resolveToken(config.home, env, agent.name))?.token ?? null,
      () => {},
      identity !== null,
    );
    const report = await sendMessage({
      store,
      from: config.name,
      recipients,
      body,
      transport: {
        connectTimeoutMs: config.send.connectTimeoutMs,
        timeoutMs: config.send.timeoutMs,
        retries: config.send.retries,
        callerSessionKey: config.send.waitSessionKey,
      },
      outbox,
      queue: true,
      ...(identity ? { identity } : {}),
    });
    sender.kick();
    return {
      id: report.id,
      at: report.at,
      deliveries: report.deliveries.map(({ error, ...d }) => ({
        ...d,
        ...(error ? { error: error.toJSON() } : {}),
      })),
    };
  };
  // One kept-alive connection pool to our own gateway for every inbound message.
  const gateway = new Agent({ connect: { timeout: config.send.connectTimeoutMs }, keepAliveTimeout: 30_000 });
  const app = await buildApp({
    config,
    registry,
    seen,
    deliver: async (text) => {
      await sessionsSend(await target(), {
        message: text,
        retries: 2,
        minRetryDelayMs: 200,
        dispatcher: gateway,
      });
    },
    logger: options.log === false ? false : { level: 'info', redact: LOG_REDACT, stream: options.log },
    viewer: {
      store,
      registry,
      config,
      presence: () => readPresence(config.home),
      outbox,
      send: (to, body) => compose(to, body),
      auth: { required: !isLoopback(config.serve.host), token: await viewerToken(config, env) },
    },
  });

  let port = config.serve.port;
  try {
    await app.listen({ host: config.serve.host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      seen.close();
      throw new OisError(
        'OIS_ERR_CONFIG_INVALID',
        `cannot listen on ${config.serve.host}:${port}: ${(err as Error).message}`,
        {
          hint: 'check serve.host (docs/config.md)',
          cause: err,
        },
      );
    }
    await app.listen({ host: config.serve.host, port: 0 });
  }
  port = (app.server.address() as { port: number }).port;
  const url =
    new URL(config.serve.url).port === String(port) ? config.serve.url : withPort(config.serve.url, port);
  const state: DaemonState = { pid: process.pid, port, url, startedAt: new Date().toISOString() };
  // Publish the URL before the state file says the daemon is up, so whoever waits for it sees both.
  try {
    await options.onListening?.(url);
  } catch (err) {
    await app.close();
    seen.close();
    outbox.close();
    throw err;
  }
  const stateFile = join(config.home, DAEMON_STATE_FILE);
  try {
    await writeFileAtomic(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    await app.close();
    seen.close();
    outbox.close();
    throw isOisError(err) ? err : storageError('write', stateFile, err);
  }
  if (port !== config.serve.port && config.serve.port !== 0) {
    app.log.warn({ wanted: config.serve.port, port }, 'the configured port was taken; serving on another');
  }
  if (outbox.recovered)
    app.log.warn({ setAside: outbox.recovered.details?.setAside }, outbox.recovered.message);
  await presence.start();
  sender.start();
  let stopped = false;
  return {
    app,
    state,
    async stop() {
      if (stopped) return;
      stopped = true;
      await presence.stop();
      await sender.stop();
      await app.close();
      outbox.close();
      seen.close();
      await gateway.close().catch(() => {});
      await rm(stateFile, { force: true });
    },
  };
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}

/**
 * Drains the outbox: every second (and at once when a peer comes back) it claims each peer's oldest due
 * message, sends it once, and marks it delivered, or failed with the backoff the outbox computes. Per-peer
 * order holds because the outbox hands out a peer's next message only after the previous one is settled.
 */
class OutboxSender {
  readonly #outbox: Outbox;
  readonly #config: InstanceConfig & { name: string };
  readonly #env: Env;
  #timer: NodeJS.Timeout | null = null;
  #draining: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  readonly #store: TeamStore;

  constructor(outbox: Outbox, config: InstanceConfig & { name: string }, env: Env, store: TeamStore) {
    this.#outbox = outbox;
    this.#config = config;
    this.#env = env;
    this.#store = store;
  }

  /** The chat log said 'queued' when the message was sent: say when it arrived. */
  async #receipt(m: OutboxMessage): Promise<void> {
    const at = new Date();
    const messageId = m.id.split('.')[0]!;
    await appendEntry(this.#store, {
      id: newMessageId(at.getTime()),
      at: at.toISOString(),
      from: this.#config.name,
      to: [m.peer],
      kind: 'receipt',
      replyTo: messageId,
      body: `Delivered to ${m.peer} after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'} (queued at ${new Date(m.createdAt).toISOString()}).`,
      deliveries: [{ to: m.peer, outcome: 'delivered' }],
    }).catch(() => {});
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), 1000);
    this.#timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.#stopped) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#draining;
  }

  async #drain(): Promise<void> {
    const { connectTimeoutMs, timeoutMs } = this.#config.send;
    const leaseMs = (connectTimeoutMs + timeoutMs) * 2 + 5000;
    do {
      this.#again = false;
      const due = this.#outbox.claimDue(32, leaseMs);
      await Promise.all(
        due.map(async (m) => {
          try {
            const payload = JSON.parse(m.payload) as OutboxPayload;
            await deliverPayload(payload, this.#config.home, this.#env, {
              connectTimeoutMs,
              timeoutMs,
              retries: 0,
            });
            this.#outbox.markDelivered(m.id);
            await this.#receipt(m);
          } catch (err) {
            const code = isOisError(err) ? err.code : 'OIS_ERR_INTERNAL';
            const retryAfterMs = retryAfterOf(err);
            this.#outbox.markFailed(
              m.id,
              `${code}: ${(err as Error).message}`,
              isTransient(err) ? (retryAfterMs === undefined ? {} : { retryAfterMs }) : { permanent: true },
            );
          }
        }),
      );
      if (due.length > 0) this.#again = true;
    } while (this.#again && !this.#stopped);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * The viewer's login token when the daemon listens beyond loopback: `viewer` in the instance secrets. One is
 * made (and kept there, mode 0600) the first time; it is never printed or logged.
 */
async function viewerToken(config: InstanceConfig, env: Env): Promise<string | null> {
  if (isLoopback(config.serve.host)) return null;
  const existing = await resolveToken(config.home, env, 'viewer');
  if (existing) return existing.token;
  const token = randomBytes(24).toString('base64url');
  await updateSecret(config.home, 'viewer', token);
  return token;
}
