import {
  followChat,
  type ParsedChatEntry,
  parseDuration,
  queryChat,
  validateDate,
} from '../../chatlog/index.js';
import { OisError } from '../../errors.js';
import type { Command } from '../command.js';

export const command: Command = {
  spec: {
    name: 'chat',
    summary: "Read the team's chat log",
    usage: ['chat [--date YYYY-MM-DD | --since 3d] [--with NAME] [--grep TEXT] [--follow] [--json]'],
    options: {
      date: { type: 'string', value: 'DATE', description: 'One day (UTC), YYYY-MM-DD (default: today)' },
      since: { type: 'string', value: 'DURATION', description: 'Everything in the last 30m, 12h, 3d or 2w' },
      with: { type: 'string', value: 'NAME', description: 'Only entries from or to this agent' },
      grep: { type: 'string', value: 'TEXT', description: 'Only entries whose text holds TEXT (no case)' },
      follow: {
        type: 'boolean',
        short: 'f',
        description: 'Keep printing new entries as they are appended (Ctrl-C stops)',
      },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois chat',
      'ois chat --since 3d --with beta',
      'ois chat --grep "[ACTION REQUIRED]"',
      'ois chat -f --json',
    ],
  },
  async run(ctx) {
    const { values } = ctx.args;
    const date = values.date as string | undefined;
    const since = values.since as string | undefined;
    if (date !== undefined && since !== undefined) {
      throw new OisError('OIS_ERR_USAGE', '--date and --since do not go together', { hint: 'pick one' });
    }
    if (date !== undefined) validateDate(date);
    const sinceAt = since === undefined ? undefined : new Date(Date.now() - parseDuration(since));
    const filter = {
      ...(values.with === undefined ? {} : { with: values.with as string }),
      ...(values.grep === undefined ? {} : { grep: values.grep as string }),
    };
    const store = ctx.team();
    const entries = await queryChat(store, {
      ...filter,
      ...(date === undefined ? {} : { date }),
      ...(sinceAt === undefined ? {} : { since: sinceAt }),
    });

    if (!values.follow) {
      if (ctx.json) ctx.printJson({ entries });
      else if (entries.length === 0) ctx.print('no entries');
      else for (const e of entries) ctx.print(renderEntry(e));
      return;
    }
    // --follow: what there is, then new entries as they come; with --json JSON Lines, one envelope per entry.
    const emit = (e: ParsedChatEntry) => {
      if (ctx.json) ctx.printJson({ ...e }, { line: true });
      else ctx.io.stdout.write(`${renderEntry(e)}\n`);
    };
    for (const e of entries) emit(e);
    const signal = ctx.io.signal ?? new AbortController().signal;
    await followChat(
      store,
      {
        ...filter,
        signal,
        onError: (err) => ctx.warn(`cannot read the chat log: ${(err as Error).message}`),
      },
      emit,
    );
  },
};

function outcomes(e: ParsedChatEntry): string {
  if (e.kind === 'reply') return `(reply to ${e.replyTo ?? '?'})`;
  if (e.kind === 'receipt') return `(receipt: ${e.replyTo ?? '?'} delivered)`;
  const one = (d: ParsedChatEntry['deliveries'][number]) =>
    `${d.outcome}${d.code ? ` ${d.code}` : ''}${d.seconds === undefined ? '' : ` ${d.seconds.toFixed(2)} s`}`;
  if (e.deliveries.length === 1) return `[${one(e.deliveries[0]!)}]`;
  return `[${e.deliveries.map((d) => `${d.to}: ${one(d)}`).join(', ')}]`;
}

function renderEntry(e: ParsedChatEntry): string {
  const at = `${e.at.slice(0, 10)} ${e.at.slice(11, 16)} UTC`;
  const who = e.to.length > 0 ? `${e.from} → ${e.to.join(', ')}` : e.from;
  const meta = e.legacy ? '' : `  ${outcomes(e)}`;
  const torn = e.torn ? '  [torn: the writer stopped mid-entry]' : '';
  const body = e.body
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `${at}  ${who}${meta}${torn}\n${body}\n`;
}
