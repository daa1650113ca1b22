/**
 * The daemon's log: pino, through fastify. In a terminal it is one readable line per event with the local
 * time (pino-pretty, loaded only then, so a daemon run by a service manager never pays for it); anywhere
 * else it is JSON lines with ISO times, for whatever collects them. Secrets are redacted in both.
 */

/** Secrets that must never reach a log line. */
export const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie', '*.token', '*.password'];

export type LogStream = NodeJS.WritableStream & { isTTY?: boolean };

/** Fastify's `logger` option for a daemon that logs to `stream`. */
export async function daemonLogger(stream: LogStream): Promise<Record<string, unknown>> {
  const base = { level: 'info', redact: LOG_REDACT };
  if (stream.isTTY) {
    const { default: pretty } = await import('pino-pretty');
    return {
      ...base,
      stream: pretty({
        destination: stream,
        colorize: false,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
        singleLine: true,
        sync: true,
      }),
    };
  }
  return { ...base, stream, timestamp: () => `,"time":"${new Date().toISOString()}"` };
}
