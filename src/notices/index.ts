import { randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { queryChat } from '../chatlog/index.js';
import { storageError } from '../errors.js';
import { type TeamStore, writeFileAtomic } from '../team/index.js';

/**
 * What `ois notices` and the viewer's panel show: the team's notices (chat-log entries of kind `notice`,
 * specs/chat-log.md) and this instance's own (its daemon's `peer_offline`, `peer_online`,
 * `daemon_restarted`, kept in its home), newest last, with what this instance has read.
 */
export const LOCAL_NOTICES_FILE = 'notices.jsonl';
export const NOTICES_READ_FILE = 'notices-read.json';

export interface Notice {
  id: string;
  at: string;
  type: string;
  subject: string;
  /** Who made it happen (the admin, the member itself, or this instance for its own notices). */
  by: string;
  body: string;
  /** `team`: from the chat log; `local`: this instance's own. */
  source: 'team' | 'local';
}

export interface NoticeFeed {
  notices: (Notice & { unread: boolean; muted: boolean })[];
  unread: number;
  /** The newest notice time this instance marked read. */
  readUntil: string | null;
}

/** Records one of this instance's own notices in its home (append-only, one JSON line). */
export async function recordLocalNotice(
  home: string,
  notice: Omit<Notice, 'id' | 'source' | 'at'> & { at?: string },
): Promise<Notice> {
  const at = notice.at ?? new Date().toISOString();
  const id = `local-${Date.parse(at)}-${randomBytes(4).toString('hex')}`;
  const full: Notice = { ...notice, at, id, source: 'local' };
  const file = join(home, LOCAL_NOTICES_FILE);
  try {
    await appendFile(file, `${JSON.stringify(full)}\n`, { mode: 0o600 });
  } catch (err) {
    throw storageError('append to', file, err);
  }
  return full;
}

async function localNotices(home: string): Promise<Notice[]> {
  let text: string;
  try {
    text = await readFile(join(home, LOCAL_NOTICES_FILE), 'utf8');
  } catch {
    return [];
  }
  const out: Notice[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const n = JSON.parse(line) as Notice;
      if (typeof n.at === 'string' && typeof n.type === 'string') out.push({ ...n, source: 'local' });
    } catch {
      // A torn last line of a killed daemon: skipped.
    }
  }
  return out;
}

async function readUntil(home: string): Promise<string | null> {
  try {
    const v = JSON.parse(await readFile(join(home, NOTICES_READ_FILE), 'utf8')) as { until?: unknown };
    return typeof v.until === 'string' ? v.until : null;
  } catch {
    return null;
  }
}

/** Marks every notice up to `until` read. Never moves back. */
export async function markNoticesRead(home: string, until: string): Promise<void> {
  const current = await readUntil(home);
  if (current !== null && current >= until) return;
  await writeFileAtomic(join(home, NOTICES_READ_FILE), `${JSON.stringify({ until })}\n`);
}

/** The notices of the last `days` days (team and local), oldest first, with unread and muted flags. */
export async function readNotices(
  store: TeamStore,
  home: string,
  options: { since?: number; mute?: readonly string[] } = {},
): Promise<NoticeFeed> {
  const since = options.since ?? 7 * 86_400_000;
  const mute = new Set(options.mute ?? []);
  const fromTeam = (await queryChat(store, { since: new Date(Date.now() - since) })).filter(
    (e) => e.kind === 'notice' && e.notice !== undefined,
  );
  const cutoff = new Date(Date.now() - since).toISOString();
  const all: Notice[] = [
    ...fromTeam.map(
      (e): Notice => ({
        id: e.id,
        at: e.at,
        type: e.notice!.type,
        subject: e.notice!.subject,
        by: e.from,
        body: e.body,
        source: 'team',
      }),
    ),
    ...(await localNotices(home)).filter((n) => n.at >= cutoff),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const until = await readUntil(home);
  const notices = all.map((n) => ({
    ...n,
    unread: until === null || n.at > until,
    muted: mute.has(n.type),
  }));
  return { notices, unread: notices.filter((n) => n.unread && !n.muted).length, readUntil: until };
}
