import { once } from 'node:events';
import { isLoopbackHost } from '../../config/index.js';
import { isOisError, OisError } from '../../errors.js';
import { publishDaemonUrl } from '../../federation/index.js';
import { startDaemon } from '../../server/index.js';
import type { Command } from '../command.js';
import { utcDate } from '../io.js';

export const command: Command = {
  spec: {
    name: 'serve',
    summary: "Run this instance's daemon: receives signed messages from peers",
    usage: ['serve [--port PORT] [--profile NAME] [--quiet]'],
    options: {
      port: {
        type: 'string',
        value: 'PORT',
        description: "The daemon's port (default: serve.port, else the gateway's port + 11)",
      },
      profile: {
        type: 'string',
        value: 'NAME',
        description:
          "The local OpenClaw profile whose openclaw.json holds this gateway's token (default: $OPENCLAW_PROFILE)",
      },
      quiet: { type: 'boolean', description: 'No request logs on stderr' },
    },
    args: { min: 0, max: 0 },
    service: true,
    examples: ['ois serve', 'ois --home ~/.ois-beta serve --port 18920', 'ois serve --profile work'],
  },
  async run(ctx) {
    const base = ctx.initialisedConfig();
    const port = parsePort(ctx.args.values.port);
    const config =
      port === null ? base : { ...base, serve: { ...base.serve, port, portSource: 'configured' as const } };
    const profile = ctx.args.values.profile as string | undefined;
    const store = ctx.team();
    const team = store.root;
    const daemon = await startDaemon({
      config: { ...config, team },
      env: ctx.io.env,
      log: ctx.args.values.quiet ? false : ctx.io.stderr,
      ...(profile ? { openclawProfile: profile } : {}),
      onListening: async (url) => {
        try {
          await publishDaemonUrl(store, config, url, utcDate());
        } catch (err) {
          // A team on NATS that is down: serve anyway (peers reach the daemon at the URL they have, which
          // is stable across restarts), and say so; a folder that cannot be written still stops the start.
          if (!isOisError(err, 'OIS_ERR_NATS_UNREACHABLE')) throw err;
          ctx.warn(
            `could not publish ${url} in AGENTS.md: ${err.message}`,
            'peers use the URL they have; run ois join once NATS is back if this URL is new',
          );
        }
      },
    });
    ctx.io.started?.();
    const { state, moved } = daemon;
    if (ctx.json)
      ctx.printJson({
        ok: true,
        pid: state.pid,
        url: state.url,
        port: state.port,
        tokenSource: daemon.tokenSource,
        ...(moved ? { moved } : {}),
      });
    else {
      ctx.print(`ois serve: ${config.name}'s daemon on ${state.url} (pid ${state.pid}); Ctrl-C stops it`);
      ctx.print(`gateway: ${config.gateway.url}, token from ${daemon.tokenSource}`);
      ctx.print(
        `viewer: ${state.url}/${isLoopbackHost(config.serve.host) ? '' : ' (login token: "viewer" in the secrets file of this instance)'}`,
      );
    }
    if (moved) {
      ctx.warn(
        `port ${moved.wanted} is taken: serving on ${moved.port} instead, published in AGENTS.md (peers follow it)`,
        `free port ${moved.wanted}, or give this instance its own: ois serve --port PORT (or serve.port in its config)`,
      );
    }
    const signal = ctx.io.signal;
    if (!signal) throw new OisError('OIS_ERR_INTERNAL', 'serve needs a stop signal');
    if (!signal.aborted) await once(signal, 'abort');
    // Graceful: stop accepting, let in-flight deliveries finish, remove the state file; say so in the log.
    const why = typeof signal.reason === 'string' ? signal.reason : 'a stop signal';
    daemon.app.log.info({ signal: why }, `stopping on ${why}: no new requests, finishing what is in flight`);
    const started = Date.now();
    await daemon.stop();
    daemon.app.log.info({ ms: Date.now() - started }, 'stopped');
    return 0;
  },
};

function parsePort(value: unknown): number | null {
  if (value === undefined) return null;
  const port = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || port > 65535) {
    throw new OisError('OIS_ERR_USAGE', `--port ${String(value)} is not a port number (0 to 65535)`, {
      hint: 'ois serve --port 18800; 0 takes any free port',
    });
  }
  return port;
}
