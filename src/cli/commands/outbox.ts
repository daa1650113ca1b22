import { runningDaemon } from '../../config/index.js';
import { OisError } from '../../errors.js';
// Straight to the file, not the federation index: that one pulls in the transport (undici) and the registry,
// which `ois outbox` never needs, and start-up time is what users feel.
import { Outbox, type OutboxMessage } from '../../federation/outbox.js';
import type { Command, CommandContext } from '../command.js';
import { table } from '../io.js';

const USAGE_HINT = 'usage: ois outbox [ls [--dead]] | ois outbox retry ID | ois outbox drop ID';

export const command: Command = {
  spec: {
    name: 'outbox',
    summary: 'List, retry or drop the messages waiting for an offline peer',
    usage: ['outbox [ls] [--dead] [--json]', 'outbox retry ID', 'outbox drop ID'],
    options: {
      dead: {
        type: 'boolean',
        description: 'List the dead letters (expired or rejected messages) instead of the waiting ones',
      },
    },
    args: { min: 0, max: 2 },
    examples: [
      'ois outbox                 # what is waiting, for whom, and when it is tried next',
      'ois outbox ls --dead       # what was given up on, and why',
      'ois outbox retry 01JD3Q8Z6V5K2M9XG4T7W1B0CE',
      'ois outbox drop 01JD3Q8Z6V5K2M9XG4T7W1B0CE',
    ],
  },
  async run(ctx) {
    const [sub = 'ls', id] = ctx.args.positionals;
    switch (sub) {
      case 'ls':
        if (id !== undefined)
          throw new OisError('OIS_ERR_USAGE', `unexpected argument "${id}"`, { hint: USAGE_HINT });
        list(ctx);
        return;
      case 'retry':
      case 'drop': {
        if (id === undefined)
          throw new OisError('OIS_ERR_USAGE', 'missing ID', { hint: `usage: ois outbox ${sub} ID` });
        if (ctx.args.values.dead)
          throw new OisError('OIS_ERR_USAGE', '--dead goes with ls only', { hint: USAGE_HINT });
        const home = ctx.config().home;
        // Do not create an outbox just to say the message is not in it.
        if (!Outbox.exists(home)) {
          throw new OisError('OIS_ERR_OUTBOX_NOT_FOUND', `no message ${id} in the outbox (it is empty)`, {
            hint: 'ois outbox ls lists the waiting messages',
          });
        }
        const outbox = open(ctx, home);
        try {
          const m = sub === 'retry' ? outbox.retryNow(id) : outbox.drop(id);
          const daemonRuns = sub === 'retry' && (await runningDaemon(home)) !== null;
          if (sub === 'retry' && m.state === 'queued' && !daemonRuns && ctx.config().initialised) {
            // No daemon would ever pick it up: send it (and what waits before it for that peer) now.
            return await retryNow(ctx, outbox, m);
          }
          if (ctx.json) ctx.printJson({ ok: true, action: sub, message: m });
          else if (sub === 'drop')
            ctx.print(`dropped ${m.id} to ${m.peer} (${m.state}); it will not be sent`);
          else if (m.state === 'inflight') ctx.print(`${m.id} to ${m.peer} is being delivered right now`);
          else
            ctx.print(
              daemonRuns
                ? `${m.id} to ${m.peer} is due now; the daemon (ois serve) tries it on its next round`
                : `${m.id} to ${m.peer} is due now, but nothing sends it: this instance is not set up (ois init) and runs no daemon`,
            );
        } finally {
          outbox.close();
        }
        return;
      }
      default:
        throw new OisError('OIS_ERR_USAGE', `unknown subcommand "outbox ${sub}"`, { hint: USAGE_HINT });
    }
  },
};

async function retryNow(ctx: CommandContext, outbox: Outbox, m: OutboxMessage): Promise<number> {
  const { sendQueuedNow } = await import('../../federation/index.js');
  const results = await sendQueuedNow(ctx.initialisedConfig(), ctx.io.env, ctx.team(), outbox, m.peer, m.id, {
    warn: (message) => ctx.warn(message),
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  const own = results.get(m.id)?.attempt;
  const after = outbox.list({ state: ['queued', 'inflight', 'dead'] }).find((x) => x.id === m.id) ?? null;
  const delivered = own?.ok === true;
  const error = own && !own.ok ? own.error : null;
  if (ctx.json) {
    ctx.printJson({
      ok: delivered,
      action: 'retry',
      message: after ?? { ...m, state: 'delivered' },
      sent: [...results].map(([id, { attempt: a }]) => ({
        id,
        ok: a.ok,
        seconds: a.seconds,
        paths: a.paths,
      })),
      ...(error ? { error: error.toJSON() } : {}),
    });
  } else if (delivered) {
    const earlier = results.size - 1;
    ctx.print(
      `delivered ${m.id} to ${m.peer}${earlier > 0 ? ` after ${earlier} earlier message(s)` : ''} (no daemon runs: sent now)`,
    );
  } else if (error) {
    ctx.print(`${m.id} to ${m.peer} is still queued: ${error.message}`);
  } else {
    ctx.print(`${m.id} to ${m.peer} waits behind an earlier message that could not be sent`);
  }
  if (error) ctx.warn(`${error.code}: ${error.message}`, 'start the daemon (ois serve) to keep retrying it');
  return delivered ? 0 : (error?.exitCode ?? 4);
}

function open(ctx: CommandContext, home: string): Outbox {
  const outbox = Outbox.open(home);
  if (outbox.recovered) ctx.warn(outbox.recovered.message, outbox.recovered.hint);
  return outbox;
}

function list(ctx: CommandContext): void {
  const dead = ctx.args.values.dead === true;
  const home = ctx.config().home;
  let messages: OutboxMessage[] = [];
  let counts = { queued: 0, inflight: 0, dead: 0 };
  if (Outbox.exists(home)) {
    const outbox = open(ctx, home);
    try {
      messages = outbox.list({ state: dead ? 'dead' : ['queued', 'inflight'] });
      counts = outbox.counts();
    } finally {
      outbox.close();
    }
  }
  if (ctx.json) {
    ctx.printJson({ messages, counts });
    return;
  }
  if (messages.length === 0) {
    ctx.print(dead ? 'no dead letters' : 'the outbox is empty: nothing waits for delivery');
  } else {
    const now = Date.now();
    ctx.print(
      table(
        ['ID', 'PEER', 'STATE', 'ATTEMPTS', 'AGE', dead ? 'REASON' : 'NEXT ATTEMPT'],
        messages.map((m) => [
          m.id,
          m.peer,
          m.state,
          String(m.attempts),
          duration(now - m.createdAt),
          dead ? (m.deadReason ?? '') : nextAttempt(m, now),
        ]),
      ),
    );
  }
  if (!dead && counts.dead > 0) ctx.print(`${counts.dead} dead letter(s), not retried: ois outbox ls --dead`);
}

function nextAttempt(m: OutboxMessage, now: number): string {
  const last = m.lastError === null ? '' : ` (last: ${m.lastError})`;
  if (m.state === 'inflight') return `being sent now${last}`;
  const wait = m.nextAttemptAt - now;
  return `${wait <= 0 ? 'due now' : `in ${duration(wait)}`}${last}`;
}

/** A short human duration: 45s, 12m, 3h 5m, 2d 4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}
