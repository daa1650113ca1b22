import { once } from 'node:events';
import { OisError } from '../../errors.js';
import { publishSelf } from '../../federation/index.js';
import { findAgent, loadRegistry } from '../../registry/index.js';
import { startDaemon } from '../../server/index.js';
import type { Command } from '../command.js';
import { utcDate } from '../io.js';

export const command: Command = {
  spec: {
    name: 'serve',
    summary: "Run this instance's daemon: receives signed messages from peers",
    usage: ['serve [--quiet]'],
    options: {
      quiet: { type: 'boolean', description: 'No request logs on stderr' },
    },
    args: { min: 0, max: 0 },
    service: true,
    examples: ['ois serve', 'OIS_SERVE_PORT=18920 ois --home ~/.ois-beta serve'],
  },
  async run(ctx) {
    const config = ctx.initialisedConfig();
    const store = ctx.team();
    const team = store.root;
    const daemon = await startDaemon({
      config: { ...config, team },
      env: ctx.io.env,
      log: ctx.args.values.quiet ? false : ctx.io.stderr,
      onListening: async (url) => {
        const me = findAgent(await loadRegistry(store), config.name);
        if ((me?.extra.federation as { url?: string } | undefined)?.url !== url) {
          await publishSelf(store, config, { federationUrl: url }, utcDate());
        }
      },
    });
    if (ctx.json)
      ctx.printJson({ ok: true, pid: daemon.state.pid, url: daemon.state.url, port: daemon.state.port });
    else {
      ctx.print(
        `ois serve: ${config.name}'s daemon on ${daemon.state.url} (pid ${daemon.state.pid}); Ctrl-C stops it`,
      );
      ctx.print(
        `viewer: ${daemon.state.url}/${config.serve.host.startsWith('127.') ? '' : ' (login token: "viewer" in the secrets file of this instance)'}`,
      );
    }
    const signal = ctx.io.signal;
    if (!signal) throw new OisError('OIS_ERR_INTERNAL', 'serve needs a stop signal');
    if (!signal.aborted) await once(signal, 'abort');
    // Graceful: stop accepting, let in-flight deliveries finish, remove the state file.
    await daemon.stop();
    return 0;
  },
};
