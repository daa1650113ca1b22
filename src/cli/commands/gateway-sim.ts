import { once } from 'node:events';
import { OisError } from '../../errors.js';
import { startGatewaySimulator } from '../../simulator/index.js';
import type { Command } from '../command.js';

export const command: Command = {
  spec: {
    name: 'gateway-sim',
    summary: 'Run an OpenClaw gateway simulator (for trying OIS without OpenClaw)',
    usage: ['gateway-sim --token-env VAR [--port PORT] [--host HOST] [--deny-sessions-send] [--quiet]'],
    options: {
      'token-env': {
        type: 'string',
        value: 'VAR',
        description: 'The environment variable that holds the bearer token the simulator accepts',
      },
      port: {
        type: 'string',
        value: 'PORT',
        description: 'Port to listen on (default 18789; 0 for any free port)',
      },
      host: { type: 'string', value: 'HOST', description: 'Address to listen on (default 127.0.0.1)' },
      'deny-sessions-send': {
        type: 'boolean',
        description: 'Answer like a gateway without gateway.tools.allow: ["sessions_send"]',
      },
      quiet: { type: 'boolean', description: 'Do not print the messages that arrive' },
    },
    args: { min: 0, max: 0 },
    service: true,
    examples: [
      'export SIM_TOKEN=$(openssl rand -hex 24); ois gateway-sim --token-env SIM_TOKEN --port 18901',
    ],
  },
  async run(ctx) {
    const { values } = ctx.args;
    const tokenEnv = values['token-env'] as string | undefined;
    const token = tokenEnv === undefined ? undefined : ctx.io.env[tokenEnv]?.trim();
    if (!token) {
      throw new OisError(
        'OIS_ERR_USAGE',
        tokenEnv ? `the environment variable ${tokenEnv} is empty or not set` : 'missing --token-env VAR',
        {
          hint: 'export SIM_TOKEN=$(openssl rand -hex 24); ois gateway-sim --token-env SIM_TOKEN',
        },
      );
    }
    const port = values.port === undefined ? 18789 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new OisError('OIS_ERR_USAGE', `--port ${String(values.port)} is not a port number`);
    }
    const quiet = values.quiet === true;
    const sim = await startGatewaySimulator({
      host: (values.host as string | undefined) ?? '127.0.0.1',
      port,
      token,
      allowSessionsSend: values['deny-sessions-send'] !== true,
      onMessage: (m) => {
        if (quiet || ctx.json) return;
        ctx.io.stdout.write(`--- ${m.at.toISOString()} into ${m.sessionKey}\n${m.message}\n`);
      },
    });
    if (ctx.json) ctx.printJson({ url: sim.url, port: sim.port, simulator: true });
    else ctx.print(`OpenClaw gateway SIMULATOR (not a real gateway) on ${sim.url}; Ctrl-C stops it`);
    const signal = ctx.io.signal ?? new AbortController().signal;
    if (!signal.aborted) await once(signal, 'abort');
    await sim.close();
  },
};
