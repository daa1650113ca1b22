import { OisError } from '../../errors.js';
import { loadIdentity } from '../../membership/index.js';
import {
  type Entry,
  forgetMemory,
  type MemoryContext,
  notFound,
  openMemory,
  publishKey,
  putMemory,
  recallText,
} from '../../memory/index.js';
import type { Command, CommandContext } from '../command.js';
import { readStdinText, table } from '../io.js';

const USAGE =
  'usage: ois memory put KEY (VALUE | -) [--scope S] [--tags a,b] | get KEY | ls | search QUERY | forget KEY | history KEY | recall TEXT';

export const command: Command = {
  spec: {
    name: 'memory',
    summary: 'Team memory: put, get, list, search, forget, history, recall for a prompt',
    usage: [
      'memory put KEY (VALUE | -) [--scope private|team|agent:NAME] [--tags a,b]',
      'memory get KEY',
      'memory ls [--scope S] [--by NAME] [--tag T]',
      'memory search QUERY [--limit N]',
      'memory forget KEY',
      'memory history KEY',
      'memory recall TEXT [--budget BYTES]',
    ],
    options: {
      scope: {
        type: 'string',
        value: 'S',
        description: 'private (this instance only), team (default), or agent:NAME (encrypted to NAME)',
      },
      tags: { type: 'string', value: 'LIST', description: 'Comma-separated tags' },
      by: { type: 'string', value: 'NAME', description: 'ls: entries written or owned by NAME' },
      tag: { type: 'string', value: 'T', description: 'ls: entries with this tag' },
      limit: { type: 'string', value: 'N', description: 'search: at most N results (default 10)' },
      budget: {
        type: 'string',
        value: 'BYTES',
        description: 'recall: at most this many bytes (default 2000)',
      },
    },
    args: { min: 1, max: 10_000 },
    examples: [
      'ois memory put nas/backup-schedule "Nightly at 02:00 UTC to /volume1/backup" --tags nas,backup',
      'ois memory search "when does the backup run"',
      'ois memory recall "the user asks about the NAS backups"',
    ],
    notes: ['specs/memory.md: scopes, ownership, how every reader merges the signed lines.'],
  },
  async run(ctx) {
    const [sub, ...rest] = ctx.args.positionals;
    const config = ctx.initialisedConfig();
    const base = { self: config.name, home: config.home, store: ctx.team() };
    // Every member publishes its encryption key the first time it uses memory, so others can write to it:
    // a put does it itself; a read does it with the index it opened anyway.
    const identity = await loadIdentity(config.home);
    const openForRead = async () => {
      const mem = await openMemory(base);
      if (identity) await publishKey({ ...base, identity }, mem).catch(() => null);
      return mem;
    };
    switch (sub) {
      case 'put': {
        const [key, ...words] = rest;
        if (key === undefined || words.length === 0)
          throw new OisError('OIS_ERR_USAGE', 'memory put needs KEY and VALUE', { hint: USAGE });
        const value =
          words.length === 1 && words[0] === '-'
            ? (await readStdinText(ctx.io.stdin, 'the value on standard input')).replace(/\r?\n+$/, '')
            : words.join(' ');
        const tags = typeof ctx.args.values.tags === 'string' ? ctx.args.values.tags.split(',') : [];
        const entry = await putMemory(await writer(base), {
          key,
          value,
          ...(typeof ctx.args.values.scope === 'string' ? { scope: ctx.args.values.scope } : {}),
          tags,
        });
        if (ctx.json) ctx.printJson({ ok: true, entry });
        else
          ctx.print(
            `remembered ${entry.key} (${entry.scope}${entry.tags.length ? `, ${entry.tags.join(', ')}` : ''})`,
          );
        return undefined;
      }
      case 'forget': {
        const key = one(rest, 'forget');
        await forgetMemory(await writer(base), key);
        if (ctx.json) ctx.printJson({ ok: true, key, forgotten: true });
        else ctx.print(`forgot ${key}`);
        return undefined;
      }
      case 'get': {
        const key = one(rest, 'get');
        const mem = await openForRead();
        try {
          const e = mem.index.get(key);
          if (!e?.readable) throw e ? encrypted(key, e.scope) : notFound(key);
          if (ctx.json) ctx.printJson({ entry: strip(e) });
          else ctx.print(e.value);
        } finally {
          mem.close();
        }
        return undefined;
      }
      case 'ls': {
        if (rest.length > 0)
          throw new OisError('OIS_ERR_USAGE', 'memory ls takes no arguments', { hint: USAGE });
        const mem = await openForRead();
        try {
          const v = ctx.args.values;
          const list = mem.index.list({
            ...(typeof v.scope === 'string' ? { scope: v.scope } : {}),
            ...(typeof v.by === 'string' ? { by: v.by } : {}),
            ...(typeof v.tag === 'string' ? { tag: v.tag } : {}),
          });
          if (ctx.json) ctx.printJson({ entries: list });
          else if (list.length === 0) ctx.print('no entries');
          else print(ctx, list);
        } finally {
          mem.close();
        }
        return undefined;
      }
      case 'search':
      case 'recall': {
        if (rest.length === 0)
          throw new OisError('OIS_ERR_USAGE', `memory ${sub} needs text`, { hint: USAGE });
        const query = rest.join(' ');
        const mem = await openForRead();
        try {
          if (sub === 'search') {
            const hits = mem.index.search(query, positive(ctx.args.values.limit, 10, '--limit'));
            if (ctx.json) ctx.printJson({ query, results: hits });
            else if (hits.length === 0) ctx.print('no matches');
            else print(ctx, hits);
          } else {
            const budget = positive(ctx.args.values.budget, 2000, '--budget');
            const { text, used } = recallText(mem.index.search(query, 20), budget);
            if (ctx.json) ctx.printJson({ query, text, entries: used.map((e) => e.key) });
            else if (text) ctx.print(text);
          }
        } finally {
          mem.close();
        }
        return undefined;
      }
      case 'history': {
        const key = one(rest, 'history');
        const mem = await openForRead();
        try {
          const v = mem.index.view(key, mem.reader);
          const e = mem.index.get(key);
          if (
            !v ||
            (e && !e.readable) ||
            (!e && v.versions.every((l) => l.scope !== 'team' && l.scope !== 'private'))
          )
            throw notFound(key);
          const versions = v.versions.map((l) => ({
            op: l.op,
            author: l.author,
            at: new Date(Number(l.hlc.slice(0, 15))).toISOString(),
            scope: l.scope,
            ...(l.value !== undefined ? { value: l.value } : {}),
          }));
          const ignored = v.ignored.map((l) => ({
            op: l.op,
            author: l.author,
            at: new Date(Number(l.hlc.slice(0, 15))).toISOString(),
            reason: `not the owner (${v.owner}) nor an admin`,
          }));
          if (ctx.json) ctx.printJson({ key, owner: v.owner, versions, ignored });
          else {
            ctx.print(`${key}, owned by ${v.owner}`);
            for (const x of versions)
              ctx.print(
                `  ${x.at.slice(0, 19).replace('T', ' ')}  ${x.author.padEnd(12)} ${x.op}${x.value !== undefined ? `: ${x.value}` : ''}`,
              );
            for (const x of ignored)
              ctx.print(
                `  ${x.at.slice(0, 19).replace('T', ' ')}  ${x.author.padEnd(12)} ${x.op} (ignored: ${x.reason})`,
              );
          }
        } finally {
          mem.close();
        }
        return undefined;
      }
      default:
        throw new OisError(
          'OIS_ERR_USAGE',
          sub ? `unknown subcommand "memory ${sub}"` : 'missing subcommand',
          { hint: USAGE },
        );
    }
  },
};

async function writer(base: Omit<MemoryContext, 'identity'>): Promise<MemoryContext> {
  const identity = await loadIdentity(base.home);
  if (!identity) {
    throw new OisError('OIS_ERR_IDENTITY_MISSING', `${base.home} has no signing key`, {
      hint: 'run ois init again',
    });
  }
  return { ...base, identity };
}

function one(rest: string[], sub: string): string {
  if (rest.length !== 1) throw new OisError('OIS_ERR_USAGE', `memory ${sub} takes one KEY`, { hint: USAGE });
  return rest[0]!;
}

function positive(raw: unknown, fallback: number, flag: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new OisError('OIS_ERR_USAGE', `${flag} must be a positive whole number`, {
      hint: `e.g. ${flag} ${fallback}`,
    });
  return n;
}

function encrypted(key: string, scope: string): OisError {
  return new OisError(
    'OIS_ERR_MEMORY_NOT_FOUND',
    `${key} is ${scope}: encrypted for its reader and its author only`,
    {
      hint: 'ask its author to share it with you',
    },
  );
}

function strip(e: Entry & { readable?: boolean }): Entry {
  const { readable: _r, ...rest } = e;
  return rest;
}

function print(ctx: CommandContext, list: Entry[]): void {
  ctx.print(
    table(
      ['KEY', 'SCOPE', 'BY', 'AT', 'VALUE'],
      list.map((e) => [
        e.key,
        e.scope,
        e.author,
        e.at.slice(0, 16).replace('T', ' '),
        e.value.split('\n')[0]!.slice(0, 60),
      ]),
    ),
  );
}
