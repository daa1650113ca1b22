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
  isLoopbackHost,
  isNatsLocation,
  resolveOwnToken,
  resolveToken,
  runningDaemon,
  type TokenSource,
  updateSecret,
} from '../config/index.js';
import { isOisError, OisError, storageError } from '../errors.js';
import {
  type Envelope,
  instanceCourier,
  newMessageId,
  Outbox,
  OutboxSender,
  PresenceMonitor,
  readPresence,
  SeenStore,
  sendAs,
  settleUnsettled,
  signEnvelope,
} from '../federation/index.js';
import { daemonLogger } from '../logger.js';
import {
  adoptApprovedKey,
  cachedTeamView,
  NOTICE_TYPES,
  type NoticeType,
  readChain,
  updatePin,
} from '../membership/index.js';
import { markNoticesRead, readNotices, recordLocalNotice } from '../notices/index.js';
import { agentId, type Agent as RegistryAgent } from '../registry/index.js';
import {
  checkEnvelope,
  knownTask,
  recordEnvelope,
  syncFromChat,
  TaskStore,
  TERMINAL,
} from '../tasks/index.js';
import { FsTeamStore, type TeamStore, writeFileAtomic } from '../team/index.js';
import { invokeTool, sessionsSend } from '../transport/index.js';
import { buildApp } from './app.js';

export interface RunningDaemon {
  app: FastifyInstance;
  state: DaemonState;
  /** Where its own gateway token came from (a variable or a file: never the token). */
  tokenSource: string;
  /** Set when the port it wanted was taken and it serves on another. */
  moved: { wanted: number; port: number } | null;
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
  /** The OpenClaw profile of the local gateway, for finding its token in openclaw.json. */
  openclawProfile?: string;
}

/** How often the daemon forgets delivered ids older than the dedupe window. */
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** A team on NATS: where this instance keeps its place in its inbox stream (specs/nats.md). */
const NATS_CURSOR_FILE = 'nats-inbox.json';
/** How often a daemon that started while NATS was down tries to open its inbox stream. */
const INBOX_RETRY_MS = 5_000;

/**
 * Starts `ois serve` for one instance: refuses when another daemon holds the home or when it has no token
 * for its own gateway (it could deliver nothing), settles deliveries a killed daemon left in flight, listens
 * on its port (or a free one when that is taken), records its state in `<home>/daemon.json`.
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
  const unknownMuted = config.notices.mute.filter((t) => !(NOTICE_TYPES as readonly string[]).includes(t));
  if (unknownMuted.length > 0) {
    throw new OisError(
      'OIS_ERR_CONFIG_INVALID',
      `notices.mute names unknown types: ${unknownMuted.join(', ')}`,
      {
        hint: `the types are: ${NOTICE_TYPES.join(', ')}`,
      },
    );
  }
  const own = await ownToken(config, env, options.openclawProfile);
  const target = { url: config.gateway.url, token: own.token, sessionKey: config.gateway.sessionKey };
  // A team on NATS: its store, and below its inbox stream, in place of the folder and of inbound HTTP.
  const nats = isNatsLocation(config.team) ? await import('../nats/index.js') : null;
  const store: TeamStore = nats ? nats.openNatsTeamStore(config) : new FsTeamStore(config.team);
  const seen = new SeenStore(config.home);
  seen.prune();
  await settleUnsettled(seen, async () =>
    JSON.stringify(
      await invokeTool(
        target,
        'sessions_history',
        { sessionKey: config.gateway.sessionKey, limit: 200 },
        { retries: 1 },
      ),
    ),
  );

  // The team as the membership records back it: unverified entries are never delivered to or accepted from.
  const view = cachedTeamView(store, config.home);
  const first = await view();
  if (first.records > 0 && !first.pin && first.state.members.has(agentId(config.name))) {
    // Trust on first use for an instance that joined before pins existed; afterwards the pin only moves on.
    await updatePin(config.home, store, await readChain(store)).catch(() => null);
  }
  const courier = await instanceCourier(config, env, store, async () => (await view()).registry, {
    retries: 0,
  });
  // A rotation an admin approved: this instance signs with the new key from then on.
  let identity = courier.identity;
  const registry = async () => {
    const v = await view();
    const mine = v.state.members.get(agentId(config.name));
    if (mine && identity && mine.publicKey !== identity.publicKey) {
      identity = (await adoptApprovedKey(config.home, mine.publicKey).catch(() => null)) ?? identity;
    }
    return v.registry;
  };
  Object.defineProperty(courier, 'identity', { get: () => identity });
  courier.registry = registry;
  const outbox = Outbox.open(config.home);
  const tasks = TaskStore.open(config.home);
  const notice = (type: NoticeType, subject: string, body: string) =>
    recordLocalNotice(config.home, { type, subject, by: config.name, body }).catch(() => null);
  const sender = new OutboxSender(outbox, courier, { store, self: config.name });
  const presence = new PresenceMonitor({
    home: config.home,
    self: config.name,
    registry,
    intervalMs: config.serve.presenceIntervalMs,
    offlineAfterMs: config.notices.offlineAfterMs,
    onOffline: (peer, lastSeen) =>
      void notice('peer_offline', peer, `${peer} is offline${lastSeen ? ` (last seen ${lastSeen})` : ''}.`),
    onOnline: (peer) => void notice('peer_online', peer, `${peer} is back online.`),
    onUp: (peer) => {
      // A peer came back: what waits for it goes out now, not at its next backoff.
      if (outbox.wakePeer(peer) > 0) sender.kick();
      options.onPeerUp?.(peer);
    },
  });
  // Compose in the viewer goes through the same path as ois send.
  const compose = async (to: string[] | 'all', body: string) => {
    const report = await sendAs({
      config,
      env,
      store,
      registry,
      to: to === 'all' ? { all: true } : { names: to },
      body,
      queue: true,
      daemonRuns: true,
      outbox,
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
  const deliver = async (text: string, envelope: Envelope) => {
    if (envelope.wait === undefined) {
      await sessionsSend(target, { message: text, retries: 2, minRetryDelayMs: 200, dispatcher: gateway });
      return;
    }
    // A waited envelope: this daemon waits on its own gateway, so no token ever leaves this host.
    const result = await sessionsSend(target, {
      message: text,
      waitSeconds: envelope.wait,
      callerSessionKey: config.send.waitSessionKey,
      messageId: envelope.id,
      retries: 0,
      dispatcher: gateway,
    });
    return { reply: result.status === 'ok' ? result.reply : null };
  };
  const muted = (type: string) => config.notices.mute.includes(type);
  const accept = (envelope: Envelope, sender: RegistryAgent) => checkEnvelope(tasks, envelope, sender);
  const onDelivered = async (envelope: Envelope, sender: RegistryAgent) =>
    recordEnvelope(tasks, envelope, sender, config.name);
  const app = await buildApp({
    config,
    registry,
    seen,
    muted,
    deliver,
    accept,
    onDelivered,
    sign: (reply) => {
      if (!identity) throw new OisError('OIS_ERR_IDENTITY_MISSING', 'this instance has no signing key');
      return signEnvelope(reply, identity.privateKey);
    },
    logger: options.log === false ? false : await daemonLogger(options.log),
    viewer: {
      store,
      registry,
      config,
      presence: () => readPresence(config.home),
      outbox,
      send: (to, body) => compose(to, body),
      notices: {
        read: () => readNotices(store, config.home, { mute: config.notices.mute }),
        markRead: (until) => markNoticesRead(config.home, until),
      },
      team: viewerTeam(config, store, tasks),
      auth: { required: !isLoopbackHost(config.serve.host), token: await viewerToken(config, env) },
    },
  });

  const closeAll = async () => {
    await app.close();
    seen.close();
    outbox.close();
    tasks.close();
    await gateway.close().catch(() => {});
    await store.close?.().catch(() => {});
  };
  let port = config.serve.port;
  try {
    await app.listen({ host: config.serve.host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      await closeAll();
      throw new OisError(
        'OIS_ERR_CONFIG_INVALID',
        `cannot listen on ${config.serve.host}:${port}: ${(err as Error).message}`,
        { hint: 'check serve.host (docs/config.md)', cause: err },
      );
    }
    await app.listen({ host: config.serve.host, port: 0 });
  }
  port = (app.server.address() as { port: number }).port;
  const moved =
    port !== config.serve.port && config.serve.port !== 0 ? { wanted: config.serve.port, port } : null;
  const url =
    new URL(config.serve.url).port === String(port) ? config.serve.url : withPort(config.serve.url, port);
  const state: DaemonState = { pid: process.pid, port, url, startedAt: new Date().toISOString() };
  // Publish the URL before the state file says the daemon is up, so whoever waits for it sees both.
  try {
    await options.onListening?.(url);
  } catch (err) {
    await closeAll();
    throw err;
  }
  const stateFile = join(config.home, DAEMON_STATE_FILE);
  // A state file left behind (no daemon runs: that was checked first) means the last one did not stop.
  const crashed = await stat(stateFile).then(
    () => true,
    () => false,
  );
  try {
    await writeFileAtomic(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    await closeAll();
    throw isOisError(err) ? err : storageError('write', stateFile, err);
  }
  if (moved) app.log.warn(moved, 'the port was taken; serving on another (published in AGENTS.md)');
  const restarted = `the daemon of ${config.name} ${crashed ? 'restarted after it stopped unexpectedly' : 'started'}, on ${url}.`;
  await notice('daemon_restarted', config.name, restarted);
  if (crashed) {
    // The team should know: messages to it may have waited meanwhile.
    await appendEntry(store, {
      id: newMessageId(),
      at: new Date().toISOString(),
      from: config.name,
      to: [],
      kind: 'notice',
      notice: { type: 'daemon_restarted', subject: config.name },
      body: restarted,
      deliveries: [],
    }).catch((err: unknown) => app.log.warn({ err: (err as Error).message }, 'cannot log the restart'));
  }
  if (outbox.recovered)
    app.log.warn({ setAside: outbox.recovered.details?.setAside }, outbox.recovered.message);
  await presence.start();
  sender.start();
  let inbox: { close(): Promise<void> } | null = null;
  let stopping = false;
  let opening: Promise<void> = Promise.resolve();
  if (nats) {
    const openInbox = async () =>
      nats.NatsInbox.open(await (store as InstanceType<typeof nats.NatsTeamStore>).team(), {
        self: config.name,
        registry,
        seen,
        deliver,
        accept,
        onDelivered,
        muted,
        skewSeconds: config.serve.skewSeconds,
        now: Date.now,
        maxHops: config.federation.maxHops,
        log: app.log,
        cursorFile: join(config.home, NATS_CURSOR_FILE),
      });
    try {
      inbox = await openInbox();
    } catch (err) {
      if (!isOisError(err, 'OIS_ERR_NATS_UNREACHABLE')) {
        await presence.stop();
        await sender.stop();
        await closeAll();
        await rm(stateFile, { force: true });
        throw err;
      }
      // NATS is down as the daemon starts (a power cut, the servers come up later): serve HTTP now, with
      // the registry's copy, and read the inbox stream once NATS answers.
      app.log.warn({ code: err.code }, 'NATS cannot be reached: the inbox stream is read once it is back');
      opening = (async () => {
        while (!stopping && inbox === null) {
          await new Promise((r) => setTimeout(r, INBOX_RETRY_MS).unref());
          if (stopping) return;
          inbox = await openInbox().catch(() => null);
          if (inbox !== null) app.log.info({}, 'NATS is back: reading the inbox stream');
        }
      })();
    }
  }
  const pruner = setInterval(() => seen.prune(), PRUNE_INTERVAL_MS);
  pruner.unref();
  let stopped = false;
  return {
    app,
    state,
    tokenSource: own.where,
    moved,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(pruner);
      await presence.stop();
      stopping = true;
      await opening;
      await inbox?.close();
      await sender.stop();
      await closeAll();
      await rm(stateFile, { force: true });
    },
  };
}

/** What the viewer's tasks board, memory and skills panels read: the functions the commands use. */
function viewerTeam(config: InstanceConfig & { name: string }, store: TeamStore, tasks: TaskStore) {
  // Loaded when the viewer first asks: an idle daemon does not carry the memory index or the skills code.
  const memoryRoom = () => import('../memory/index.js');
  const skillsRoom = () => import('../skills/index.js');
  const memory = async <T>(
    fn: (
      m: Awaited<ReturnType<Awaited<ReturnType<typeof memoryRoom>>['openMemory']>>,
      room: Awaited<ReturnType<typeof memoryRoom>>,
    ) => T,
  ): Promise<T> => {
    const room = await memoryRoom();
    const m = await room.openMemory({ self: config.name, home: config.home, store });
    try {
      return fn(m, room);
    } finally {
      m.close();
    }
  };
  return {
    tasks: async () => {
      for (const t of tasks.list({ self: config.name }).filter((x) => !TERMINAL.has(x.status))) {
        await syncFromChat({ store, tasks }, t.id);
      }
      return tasks.list({ self: config.name }).reverse();
    },
    task: async (id: string) => {
      const task = await knownTask({ store, tasks }, id);
      return { task, events: tasks.events(id) };
    },
    memory: (f: { q?: string; by?: string; tag?: string; limit: number }) =>
      memory((m) =>
        f.q
          ? m.index
              .search(f.q, f.limit)
              .filter((e) => (!f.by || e.author === f.by) && (!f.tag || e.tags.includes(f.tag)))
          : m.index
              .list({ ...(f.by ? { by: f.by } : {}), ...(f.tag ? { tag: f.tag } : {}) })
              .slice(0, f.limit),
      ),
    memoryHistory: (key: string) =>
      memory((m, room) => {
        const entry = m.index.get(key);
        const view = m.index.view(key, m.reader);
        if (!entry?.readable || !view) throw room.notFound(key);
        return {
          key,
          owner: view.owner,
          versions: view.versions.map((l) => ({
            op: l.op,
            author: l.author,
            at: new Date(Number(l.hlc.slice(0, 15))).toISOString(),
            ...(l.value === undefined ? {} : { value: l.value }),
          })),
        };
      }),
    skills: async () => (await skillsRoom()).listSkills(store, config.home),
    skill: async (name: string) => {
      const { manifest, files } = await (await skillsRoom()).fetchSkill(store, config.home, name);
      return { manifest, skill: files.get('SKILL.md')?.toString('utf8') ?? '' };
    },
  };
}

/** A daemon without a token for its own gateway could deliver nothing: it does not start. */
async function ownToken(
  config: InstanceConfig & { name: string },
  env: Env,
  profile: string | undefined,
): Promise<TokenSource> {
  const found = await resolveOwnToken(
    config.home,
    env,
    config.name,
    config.gateway.url,
    profile ? { profile } : {},
  );
  if (found) return found;
  throw new OisError(
    'OIS_ERR_TOKEN_MISSING',
    `no token for this instance's own gateway (${config.gateway.url}): the daemon could deliver nothing`,
    {
      hint: `give it the gateway's gateway.auth.token: ois secrets set ${config.name} --token-stdin, or export OPENCLAW_GATEWAY_TOKEN (a gateway on this machine: its openclaw.json is read, see --profile)`,
    },
  );
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}

/**
 * The viewer's login token when the daemon listens beyond loopback: `viewer` in the instance secrets. One is
 * made (and kept there, mode 0600) the first time; it is never printed or logged.
 */
async function viewerToken(config: InstanceConfig, env: Env): Promise<string | null> {
  if (isLoopbackHost(config.serve.host)) return null;
  const existing = await resolveToken(config.home, env, 'viewer');
  if (existing) return existing.token;
  const token = randomBytes(24).toString('base64url');
  await updateSecret(config.home, 'viewer', token);
  return token;
}
