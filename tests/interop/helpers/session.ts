import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseChatLog } from '../../../src/chatlog/index.js';
import { invokeTool } from '../../../src/transport/index.js';

/** The text of a message's content as a gateway or a model request holds it: a string or a list of parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((p) => (typeof p === 'string' ? p : ((p as { text?: string }).text ?? ''))).join('');
  return JSON.stringify(content ?? '');
}

/** The last 50 messages of a real gateway's main session, read back through its own sessions_history. */
export async function sessionHistory(g: {
  url: string;
  token: string;
}): Promise<{ role?: string; content?: unknown }[]> {
  const details = (await invokeTool(
    { url: g.url, token: g.token, sessionKey: 'agent:main:main' },
    'sessions_history',
    { sessionKey: 'agent:main:main', limit: 50 },
  )) as { messages?: { role?: string; content?: unknown }[] };
  return details.messages ?? [];
}

/**
 * The first message text of the main session that `what` accepts. A real gateway puts a sent message into
 * the session's history when its run gets to it: polled every 250 ms, `tries` times.
 */
export async function findInSession(
  g: { url: string; token: string },
  what: (text: string) => boolean,
  tries: number,
): Promise<string | undefined> {
  for (let i = 0; i < tries; i++) {
    const hit = (await sessionHistory(g)).map((m) => contentText(m.content)).find(what);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

/** Today's chat log of a team folder, parsed (empty when there is none yet). */
export async function todaysChat(team: string): Promise<ReturnType<typeof parseChatLog>> {
  const today = new Date().toISOString().slice(0, 10);
  const text = await readFile(join(team, 'chat', `${today}.md`), 'utf8').catch(() => '');
  return parseChatLog(text, today);
}
