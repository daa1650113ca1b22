import { runningDaemon } from '../../config/index.js';
import { EXIT, OisError } from '../../errors.js';
import { type DeliveryReport, sendAs } from '../../federation/index.js';
import { loadTeamView } from '../../membership/index.js';
import type { Registry } from '../../registry/index.js';
import type { Command } from '../command.js';
import { readStdinText } from '../io.js';
import { printRegistryWarnings } from './shared.js';

export const DEFAULT_WAIT_SECONDS = 60;

export const command: Command = {
  spec: {
    name: 'send',
    summary: 'Send a message to a peer agent by name',
    usage: ['send NAME MESSAGE [--wait [SECONDS]]', 'send NAME - < message.txt', 'send --all MESSAGE'],
    options: {
      all: { type: 'boolean', description: 'Send to every other active agent, concurrently' },
      'no-queue': {
        type: 'boolean',
        description:
          'Fail at once when a peer cannot be reached, instead of keeping the message in the outbox',
      },
      wait: {
        type: 'string',
        value: '[SECONDS]',
        optionalValue: String(DEFAULT_WAIT_SECONDS),
        description: `Wait for the reply and print it (default ${DEFAULT_WAIT_SECONDS} s)`,
      },
    },
    notes: [
      `--wait takes a value only as --wait=SECONDS or --wait SECONDS (a number, 1 to 3600); a bare --wait waits ${DEFAULT_WAIT_SECONDS} s.`,
      'A word after a bare --wait that is not a number is the message only when it is the whole message:',
      '`send beta --wait "hi there"` sends "hi there"; `send beta --wait abc "hi"` is a usage error.',
      'The message must be UTF-8: an argument holding U+FFFD (what invalid bytes become) is refused.',
    ],
    args: { min: 1, max: Number.POSITIVE_INFINITY },
    examples: [
      'ois send beta "Can you review shared/plan.md?"',
      'ois send beta --wait 120 "What is the build status?"',
      'git log -5 | ois send beta -',
      'ois send --all "[AUTO] nightly backup done"',
    ],
  },
  async run(ctx) {
    const { values, positionals } = ctx.args;
    const all = values.all === true;
    const names = all ? [] : [positionals[0]!];
    const words = all ? positionals : positionals.slice(1);
    if (words.length === 0) {
      throw new OisError('OIS_ERR_MESSAGE_EMPTY', 'no message given', {
        hint: 'ois send NAME "text", or ois send NAME - to read standard input',
      });
    }
    let wait = 0;
    if (values.wait !== undefined) {
      const given = String(values.wait);
      wait = /^\d+(\.\d+)?$/.test(given) ? Number(given) : Number.NaN;
      if (!(wait > 0 && wait <= 3600)) {
        throw new OisError('OIS_ERR_USAGE', `--wait "${given}" is not a number of seconds from 1 to 3600`, {
          hint: `--wait alone waits ${DEFAULT_WAIT_SECONDS} s; --wait 120 or --wait=120 waits two minutes`,
        });
      }
      // A bare --wait followed by a word: that word is the message only when it is the whole message.
      // Anything else (`--wait abc "hi"`, `"hi" --wait abc`) is a mistyped value or a split message; guessing
      // would send the wrong text, so it is refused.
      const after = ctx.args.afterBare.wait;
      const first = all ? 0 : 1;
      if (after !== undefined && after >= first && words.length > 1) {
        throw new OisError(
          'OIS_ERR_USAGE',
          `--wait is followed by "${positionals[after]}", which is not a number of seconds`,
          {
            hint: `write --wait 120 or --wait=120; a bare --wait (${DEFAULT_WAIT_SECONDS} s) goes before NAME or after the message: ois send NAME "message" --wait`,
          },
        );
      }
    }
    // Node turns invalid UTF-8 in an argument into U+FFFD before ois sees it; standard input refuses invalid
    // UTF-8, so an argument does too. A U+FFFD typed on purpose can still be sent on standard input.
    if (words.some((w) => w.includes('\uFFFD'))) {
      throw new OisError(
        'OIS_ERR_MESSAGE_INVALID_UTF8',
        'the message argument is not valid UTF-8 (it holds U+FFFD, the mark of undecodable bytes)',
        {
          hint: 'send text in UTF-8 (for a file: iconv -t UTF-8 FILE | ois send NAME -); a U+FFFD you mean to send goes on standard input',
        },
      );
    }
    const config = ctx.initialisedConfig();
    // Like $(…) in a shell, trailing newlines of piped text are not part of the message.
    const body =
      words.length === 1 && words[0] === '-'
        ? (await readStdinText(ctx.io.stdin, 'the message on standard input')).replace(/\r?\n+$/, '')
        : words.join(' ');

    const store = ctx.team();
    let loaded: Promise<Registry> | null = null;
    const registry = () =>
      (loaded ??= loadTeamView(store, config.home).then((view) => {
        printRegistryWarnings(ctx, view.written);
        for (const p of view.problems) ctx.warn(p.message, p.hint);
        return view.registry;
      }));
    const daemonRuns = (await runningDaemon(config.home)) !== null;
    const report = await sendAs({
      config,
      env: ctx.io.env,
      store,
      registry,
      to: all ? { all: true } : { names },
      body,
      waitSeconds: wait,
      queue: values['no-queue'] !== true,
      daemonRuns,
      warn: (message, hint) => ctx.warn(message, hint),
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });

    const failed = report.deliveries.filter((d) => d.error !== undefined);
    if (report.deliveries.some((d) => d.outcome === 'queued') && !daemonRuns) {
      ctx.warn(
        'nothing goes out of the outbox while this instance runs no daemon: the queued message is sent by `ois serve`, or by your next `ois send` or `ois outbox retry` to that peer',
        'start the daemon: ois serve',
      );
    }
    if (ctx.json) {
      ctx.printJson({
        ok: failed.length === 0 && 'path' in report.log,
        // The error that decides the exit code, as the envelope's error (docs/json.md).
        ...(failed.length > 0
          ? { error: failed[0]!.error!.toJSON() }
          : 'error' in report.log
            ? { error: report.log.error.toJSON() }
            : {}),
        id: report.id,
        at: report.at,
        from: report.from,
        deliveries: report.deliveries.map(({ error, ...d }) => ({
          ...d,
          ...(error ? { error: error.toJSON() } : {}),
        })),
        log: 'path' in report.log ? { path: report.log.path } : { error: report.log.error.toJSON() },
      });
    } else {
      for (const d of report.deliveries) printDelivery(ctx, d, report.id, daemonRuns);
    }
    // With --json the document says it all; stderr keeps to warnings (docs/json.md).
    for (const d of ctx.json ? [] : failed) {
      ctx.io.stderr.write(
        `error ${d.error!.code}: ${d.error!.message}\n${d.error!.hint ? `  hint: ${d.error!.hint}\n` : ''}`,
      );
    }
    if ('error' in report.log && !ctx.json) {
      const e = report.log.error;
      // Say what happened to the message as it is: a refused one was not "delivered".
      const arrived = report.deliveries.every((d) => d.outcome !== 'failed' && d.outcome !== 'unknown');
      const what =
        failed.length === 0
          ? report.deliveries.every((d) => d.outcome === 'queued')
            ? 'queued, but'
            : 'delivered, but'
          : arrived
            ? 'and'
            : 'also,';
      ctx.io.stderr.write(
        `error ${e.code}: ${what} the chat log was not written: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`,
      );
    }
    if (failed.length > 0) return failed[0]!.error!.exitCode;
    if ('error' in report.log) return report.log.error.exitCode;
    return EXIT.ok;
  },
};

function printDelivery(
  ctx: Parameters<Command['run']>[0],
  d: DeliveryReport,
  id: string,
  daemonRuns: boolean,
): void {
  const took = `${d.seconds.toFixed(2)} s`;
  switch (d.outcome) {
    case 'delivered':
      if (d.via === 'nats') {
        // Stored (replicated) in the peer's inbox stream: its daemon puts it into the session, now or when it runs.
        ctx.print(
          `delivered to ${d.to}'s inbox on NATS in ${took}; its daemon takes it into the session (id ${id})`,
        );
      } else ctx.print(`delivered to ${d.to} in ${took}${d.via ? ` via ${d.via}` : ''} (id ${id})`);
      break;
    case 'replied':
      ctx.print(`${d.to} replied in ${took} (id ${id}):`);
      ctx.print(d.reply ?? '');
      break;
    case 'no_reply':
      ctx.print(`delivered to ${d.to}; no_reply: ${d.to} chose not to answer (id ${id})`);
      break;
    case 'timeout':
      ctx.print(`delivered to ${d.to}; timeout: no reply within the wait (id ${id})`);
      break;
    case 'queued': {
      const then = !daemonRuns
        ? 'it waits in the outbox until ois serve runs or you send to it again'
        : d.code
          ? `the daemon retries it until ${d.to} is back`
          : 'the daemon sends it next';
      ctx.print(
        `queued for ${d.to} after ${took} (id ${id}): ${d.note ?? 'waiting'}; ${then} (ois outbox ls)`,
      );
      break;
    }
    case 'unknown':
      ctx.print(`delivery unknown for ${d.to} after ${took}: it may have arrived (id ${id})`);
      break;
    default:
      ctx.print(`failed to deliver to ${d.to} after ${took} (${d.error?.code ?? 'error'})`);
  }
  // When more than one way was tried, each one, so a slow send explains itself.
  if ((d.paths?.length ?? 0) > 1 || d.paths?.some((p) => p.note)) {
    for (const p of d.paths ?? []) {
      const result = p.outcome === 'failed' ? (p.code ?? 'failed') : p.outcome;
      ctx.print(`  ${p.via} ${p.url}: ${result} in ${p.seconds.toFixed(2)} s${p.note ? ` (${p.note})` : ''}`);
    }
  }
}
