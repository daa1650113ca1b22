import { type ParsedChatEntry, queryChat } from '../../chatlog/index.js';
import { runningDaemon } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { SKIP_REPLIES, sendAs } from '../../federation/index.js';
import { loadTeamView } from '../../membership/index.js';
import { agentId } from '../../registry/index.js';
import type { Command } from '../command.js';
import { readStdinText } from '../io.js';

const WEEK_MS = 7 * 86_400_000;

export const command: Command = {
  spec: {
    name: 'reply',
    summary: 'Answer a message by its id: threaded to it, into its sender’s session',
    usage: ['reply ID TEXT', 'reply ID -'],
    options: {},
    args: { min: 2, max: 10_000 },
    examples: ['ois reply 01KAJ7Z3XH2M8Q4V6N0R5T9W1Y "Done: two nits, otherwise fine."'],
    notes: [
      'The id is in the header line of what you received: [OIS alpha → beta · ID · …].',
      'REPLY_SKIP as the text sends nothing. A conversation stops after federation.maxHops automatic answers.',
    ],
  },
  async run(ctx) {
    const config = ctx.initialisedConfig();
    const store = ctx.team();
    const [id, ...words] = ctx.args.positionals;
    const text =
      words.length === 1 && words[0] === '-'
        ? (await readStdinText(ctx.io.stdin, 'the reply on standard input')).replace(/\r?\n+$/, '')
        : words.join(' ');
    if (SKIP_REPLIES.has(text.trim())) {
      if (ctx.json) ctx.printJson({ ok: true, skipped: true });
      else ctx.print(`skipped: nothing sent in answer to ${id}`);
      return undefined;
    }
    const entries = await queryChat(store, { since: new Date(Date.now() - WEEK_MS) });
    const byId = new Map(entries.map((e) => [e.id, e]));
    const original = byId.get(id!);
    if (!original) {
      throw new OisError('OIS_ERR_MESSAGE_UNKNOWN', `no message ${id} in the chat log of the last 7 days`, {
        hint: 'copy the id from the header line of the message: [OIS alpha → beta · ID · …]',
      });
    }
    const to = original.from;
    if (agentId(to) === agentId(config.name)) {
      throw new OisError('OIS_ERR_AGENT_SELF', `${id} is this instance's own message`, {
        hint: 'answer messages others sent you',
      });
    }
    // The loop guard: how many answers led to the original, and how fast this instance answers its sender.
    const { root, hops } = chainOf(original, byId);
    const maxHops = config.federation.maxHops;
    if (hops + 1 > maxHops) {
      throw new OisError(
        'OIS_ERR_HOP_LIMIT',
        `conversation ${root} has had ${hops} answers already (limit ${maxHops})`,
        {
          hint: 'two assistants answering each other: stop here, or start a new conversation with ois send',
          details: { conversation: root, hops },
        },
      );
    }
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    const recent = entries.filter(
      (e) =>
        e.kind === 'reply' &&
        agentId(e.from) === agentId(config.name) &&
        e.to.some((t) => agentId(t) === agentId(to)) &&
        e.at >= minuteAgo,
    ).length;
    if (recent >= config.federation.repliesPerMinute) {
      throw new OisError(
        'OIS_ERR_RATE_LIMITED',
        `${recent} replies to ${to} in the last minute (limit ${config.federation.repliesPerMinute})`,
        {
          hint: 'a loop, not a conversation: wait, or raise federation.repliesPerMinute',
        },
      );
    }
    const report = await sendAs({
      config,
      env: ctx.io.env,
      store,
      registry: async () => (await loadTeamView(store, config.home)).registry,
      to: { names: [to] },
      body: text,
      queue: true,
      daemonRuns: (await runningDaemon(config.home)) !== null,
      thread: { type: 'reply', replyTo: original.id, conversation: root, hops: hops + 1 },
      warn: (m, h) => ctx.warn(m, h),
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    const d = report.deliveries[0]!;
    if (ctx.json) {
      ctx.printJson({
        ok: d.outcome !== 'failed',
        id: report.id,
        replyTo: original.id,
        conversation: root,
        hops: hops + 1,
        delivery: { to: d.to, outcome: d.outcome, ...(d.error ? { error: d.error.toJSON() } : {}) },
      });
      return d.outcome === 'failed' ? (d.error?.exitCode ?? 5) : undefined;
    }
    if (d.outcome === 'failed') throw d.error!;
    ctx.print(`replied to ${to} (${d.outcome}, id ${report.id}, answering ${original.id})`);
    return undefined;
  },
};

/** The first message of the thread the entry is in, and how many replies lead from it to the entry. */
function chainOf(entry: ParsedChatEntry, byId: Map<string, ParsedChatEntry>): { root: string; hops: number } {
  let hops = 0;
  let at = entry;
  const seen = new Set<string>();
  while (at.kind === 'reply' && at.replyTo && !seen.has(at.id)) {
    seen.add(at.id);
    hops++;
    const parent = byId.get(at.replyTo);
    if (!parent) return { root: at.replyTo, hops };
    at = parent;
  }
  return { root: at.id, hops };
}
