import { setTimeout as sleep } from 'node:timers/promises';
import { markNoticesRead, type NoticeFeed, readNotices } from '../../notices/index.js';
import type { Command } from '../command.js';

type Shown = NoticeFeed['notices'][number];

export const command: Command = {
  spec: {
    name: 'notices',
    summary: 'Team notices: join requests, approvals, removals, peers going offline',
    usage: ['notices [--unread] [--all] [--follow] [--json]'],
    options: {
      unread: { type: 'boolean', description: 'Only the notices not seen yet (listing marks them read)' },
      all: { type: 'boolean', description: 'Also the types this instance muted (notices.mute)' },
      follow: { type: 'boolean', description: 'Keep printing new notices as they come (Ctrl-C stops)' },
    },
    args: { min: 0, max: 0 },
    examples: ['ois notices --unread', 'ois notices --follow --json'],
    notes: [
      'Notices of the last 7 days: the team’s (chat log, kind notice) and this instance’s own daemon’s.',
    ],
  },
  async run(ctx) {
    const config = ctx.initialisedConfig();
    const store = ctx.team();
    const { values } = ctx.args;
    const keep = (n: Shown) => (values.all === true || !n.muted) && (values.unread !== true || n.unread);
    const feed = await readNotices(store, config.home, { mute: config.notices.mute });
    const shown = feed.notices.filter(keep);
    const last = feed.notices.at(-1)?.at;
    if (!values.follow) {
      if (last) await markNoticesRead(config.home, last);
      if (ctx.json) {
        ctx.printJson({ notices: shown, unread: feed.unread });
        return undefined;
      }
      if (shown.length === 0) ctx.print(values.unread ? 'no unread notices' : 'no notices');
      for (const n of shown) ctx.print(render(n));
      return undefined;
    }
    const emit = (n: Shown) => {
      if (ctx.json) ctx.printJson({ notice: n }, { line: true });
      else ctx.io.stdout.write(`${render(n)}\n`);
    };
    for (const n of shown) emit(n);
    const seen = new Set(feed.notices.map((n) => n.id));
    if (last) await markNoticesRead(config.home, last);
    const signal = ctx.io.signal ?? new AbortController().signal;
    while (!signal.aborted) {
      try {
        await sleep(1000, undefined, { signal });
      } catch {
        break;
      }
      const next = await readNotices(store, config.home, { mute: config.notices.mute }).catch((err) => {
        ctx.warn(`cannot read the notices: ${(err as Error).message}`);
        return null;
      });
      if (!next) continue;
      for (const n of next.notices) {
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        if (values.all === true || !n.muted) emit(n);
        await markNoticesRead(config.home, n.at);
      }
    }
    return undefined;
  },
};

function render(n: Shown): string {
  const at = `${n.at.slice(0, 10)} ${n.at.slice(11, 16)} UTC`;
  return `${n.unread ? '●' : ' '} ${at}  ${n.type.padEnd(21)} ${n.body}`;
}
