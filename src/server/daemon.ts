import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  DAEMON_STATE_FILE,
  type DaemonState,
  type Env,
  type InstanceConfig,
  resolveToken,
  runningDaemon,
} from '../config/index.js';
import { isOisError, OisError, storageError } from '../errors.js';
import { loadRegistry, type Registry } from '../registry/index.js';
import { FsTeamStore, TEAM_PATHS, writeFileAtomic } from '../team/index.js';
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

  const app = await buildApp({
    config,
    registry: registryCache(store),
    seen,
    deliver: async (text) => {
      await sessionsSend(await target(), { message: text, retries: 2, minRetryDelayMs: 200 });
    },
    logger: options.log === false ? false : { level: 'info', redact: LOG_REDACT, stream: options.log },
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
  const url = port === config.serve.port ? config.serve.url : withPort(config.serve.url, port);
  const state: DaemonState = { pid: process.pid, port, url, startedAt: new Date().toISOString() };
  const stateFile = join(config.home, DAEMON_STATE_FILE);
  try {
    await writeFileAtomic(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    await app.close();
    seen.close();
    throw isOisError(err) ? err : storageError('write', stateFile, err);
  }
  if (port !== config.serve.port && config.serve.port !== 0) {
    app.log.warn({ wanted: config.serve.port, port }, 'the configured port was taken; serving on another');
  }
  await options.onListening?.(url);
  let stopped = false;
  return {
    app,
    state,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      seen.close();
      await rm(stateFile, { force: true });
    },
  };
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}
