import { NATS_TEAM_NAME } from '../config/index.js';
import { OisError } from '../errors.js';
import { agentId } from '../registry/index.js';

/**
 * The mapping of a team onto NATS (specs/nats.md): subject and stream names, pure. Every name a team uses
 * starts with `ois.<team>.` (subjects) or `OIS_<team>_` (streams), so one NATS account can hold many teams
 * and permissions can be written per team and per agent.
 */

/** Checks a team name for NATS and returns it. Throws `OIS_ERR_NATS_TEAM_INVALID`. */
export function natsTeamName(team: string): string {
  if (NATS_TEAM_NAME.test(team)) return team;
  throw new OisError('OIS_ERR_NATS_TEAM_INVALID', `not a team name for NATS: ${JSON.stringify(team)}`, {
    hint: 'use 1-64 lower-case letters, digits, - or _, starting with a letter or digit (e.g. home-lab)',
  });
}

/**
 * An agent's name as one subject token: its registry id (`agentId`: lower case, letters and digits joined
 * by `-`), which never holds `.`, `*`, `>` or white space. Throws `OIS_ERR_USAGE` for a name without any.
 */
export function agentToken(name: string): string {
  const id = agentId(name);
  if (id === '') {
    throw new OisError('OIS_ERR_USAGE', `agent name ${JSON.stringify(name)} has no letter or digit`);
  }
  return id;
}

/** Names of one team's streams and subjects. */
export interface TeamNames {
  team: string;
  /** The chat-log stream: every entry of every day. */
  chatStream: string;
  /** `ois.<team>.chat.>`: what the chat stream holds. */
  chatSubjects: string;
  /** Where `from` appends an entry of `date`: `ois.<team>.chat.<date>.<from>`. */
  chatSubject(date: string, from: string): string;
  /** Every entry of one day: `ois.<team>.chat.<date>.*`. */
  chatDay(date: string): string;
  /** The inbox stream of one agent. */
  inboxStream(agent: string): string;
  /** `ois.<team>.inbox.<agent>.*`: what an agent's inbox stream holds. */
  inboxSubjects(agent: string): string;
  /** Where `from` puts an envelope for `to`: `ois.<team>.inbox.<to>.<from>`. */
  inboxSubject(to: string, from: string): string;
  /** The KV bucket of the team's files (the registry, membership records, shared/, memory, skills, tasks). */
  filesBucket: string;
  /** The object store of files too large for a KV value. */
  blobsBucket: string;
}

/** The names of a team's streams and subjects (specs/nats.md). */
export function teamNames(team: string): TeamNames {
  const t = natsTeamName(team);
  return {
    team: t,
    chatStream: `OIS_${t}_CHAT`,
    chatSubjects: `ois.${t}.chat.>`,
    chatSubject: (date, from) => `ois.${t}.chat.${date}.${agentToken(from)}`,
    chatDay: (date) => `ois.${t}.chat.${date}.*`,
    inboxStream: (agent) => `OIS_${t}_INBOX_${agentToken(agent)}`,
    inboxSubjects: (agent) => `ois.${t}.inbox.${agentToken(agent)}.*`,
    inboxSubject: (to, from) => `ois.${t}.inbox.${agentToken(to)}.${agentToken(from)}`,
    filesBucket: `ois_${t}_files`,
    blobsBucket: `ois_${t}_blobs`,
  };
}

/** The date token of a chat subject (`ois.<team>.chat.<date>.<from>`), or null. */
export function chatSubjectDate(subject: string): string | null {
  const parts = subject.split('.');
  return parts.length === 5 && parts[2] === 'chat' ? parts[3]! : null;
}

/** The sender token of an inbox subject (`ois.<team>.inbox.<to>.<from>`), or null. */
export function inboxSubjectSender(subject: string): string | null {
  const parts = subject.split('.');
  return parts.length === 5 && parts[2] === 'inbox' ? parts[4]! : null;
}

/**
 * Server URLs as they may appear in messages and logs: a user and password written into a URL
 * (`nats://alice:secret@host:4222`) are never shown.
 * @example serversForDisplay(['nats://alice:secret@10.0.0.5:4222']) // 'nats://***@10.0.0.5:4222'
 */
export function serversForDisplay(servers: string[]): string {
  return servers.map((s) => s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@')).join(', ');
}

/**
 * Where the replies to an agent's requests come (JetStream acknowledgements, consumer deliveries): a prefix
 * of its own, `_INBOX_<team>_<agent>`, instead of the shared `_INBOX`, so that the server can let it
 * subscribe to its own replies only and never to another agent's inbox deliveries. The agent token holds
 * no `_`, so the prefix is never another team's.
 */
export function inboxPrefix(team: string, agent: string): string {
  return `_INBOX_${natsTeamName(team)}_${agentToken(agent)}`;
}
