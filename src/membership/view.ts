import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OisError } from '../errors.js';
import type { Agent, Registry } from '../registry/index.js';
import { agentId, loadRegistry } from '../registry/index.js';
import { TEAM_PATHS, type TeamStore, writeFileAtomic } from '../team/index.js';
// Types only: the chain and its rules (and node:crypto with them) load when a chain must be verified, not
// for a command that finds the verification it needs in this instance's cache.
import type { Chain, ChainProblem } from './chain.js';
import { MEMBERSHIP_FILE, PIN_FILE, readPin, type TeamPin } from './files.js';
import type { Member, MembershipState } from './rules.js';

/** The last verification of the records, in the instance home, keyed by the file's version and the pin. */
export const VIEW_CACHE_FILE = 'membership-cache.json';

/**
 * How far an AGENTS.md entry can be trusted:
 * - `open`: the team has no membership records (a team from before them): AGENTS.md is all there is;
 * - `verified`: the records approve this agent with this key, role and status;
 * - `unverified`: the records do not say so (an entry edited or added by hand): never delivered to or
 *   accepted from.
 */
export type Trust = 'open' | 'verified' | 'unverified';

export interface AgentTrust {
  trust: Trust;
  /** Why an entry is unverified, for people. */
  reason: string | null;
  member: Member | null;
}

/** What replaying the records (and checking them against the pin) found. */
export interface Verified {
  state: MembershipState;
  /** The chain's problems and the pin's. */
  problems: ChainProblem[];
  /** Records that verify. */
  records: number;
}

/** The team as this instance may trust it: AGENTS.md, read through the membership records. */
export interface TeamView {
  /** AGENTS.md with each agent's status as the records give it (`unverified` when they do not back it). */
  registry: Registry;
  /** AGENTS.md as written. */
  written: Registry;
  /** True once the team has an owner (records, or a pin in this home). */
  governed: boolean;
  /** How many records verify. */
  records: number;
  pin: TeamPin | null;
  problems: ChainProblem[];
  state: MembershipState;
  trustOf(agent: Agent): AgentTrust;
}

function publishedKey(agent: Agent): string | null {
  const key = (agent.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  return typeof key === 'string' ? key : null;
}

/** Replays a chain and checks it against the pin. */
export async function verifyChain(chain: Chain, pin: TeamPin | null): Promise<Verified> {
  const { checkPin } = await import('./chain.js');
  return {
    state: chain.state,
    problems: [...chain.problems, ...checkPin(chain, pin)],
    records: chain.records.length,
  };
}

/**
 * Joins AGENTS.md with the verified records. In a governed team an agent is `verified` only when the
 * records have it with the same key, role and status as its entry; the view's registry gives every other
 * entry the status `unverified`, which nothing delivers to or accepts from.
 */
export function teamView(written: Registry, verified: Verified, pin: TeamPin | null): TeamView {
  const { problems, state } = verified;
  const governed = verified.records > 0 || pin !== null;
  const broken = problems.some((p) => p.code !== 'record-invalid');
  const trustOf = (agent: Agent): AgentTrust => {
    if (!governed) return { trust: 'open', reason: null, member: null };
    const member = broken ? undefined : state.members.get(agent.id);
    if (!member) {
      return {
        trust: 'unverified',
        reason: broken
          ? problems.find((p) => p.code !== 'record-invalid')!.message
          : 'no membership record approves it',
        member: null,
      };
    }
    const key = publishedKey(agent);
    if (key !== member.publicKey) {
      return {
        trust: 'unverified',
        reason:
          key === null
            ? 'AGENTS.md has no key for it'
            : 'its key in AGENTS.md is not the one the records approved',
        member,
      };
    }
    if (agent.status !== member.status || agent.role !== member.role) {
      return {
        trust: 'unverified',
        reason: `AGENTS.md says ${agent.status} ${agent.role}, the records say ${member.status} ${member.role}`,
        member,
      };
    }
    return { trust: 'verified', reason: null, member };
  };
  const agents = written.agents.map((agent) => {
    const t = trustOf(agent);
    return t.trust === 'unverified' ? { ...agent, status: 'unverified' as const } : agent;
  });
  const registry: Registry = {
    ...written,
    agents,
    spans: written.spans.map((s, i) => ({ ...s, agent: agents[i] ?? s.agent })),
  };
  return { registry, written, governed, records: verified.records, pin, problems, state, trustOf };
}

interface CacheFile {
  key: string;
  records: number;
  problems: ChainProblem[];
  owner: string | null;
  head: MembershipState['head'];
  members: Member[];
}

async function readCache(home: string, key: string): Promise<Verified | null> {
  try {
    const c = JSON.parse(await readFile(join(home, VIEW_CACHE_FILE), 'utf8')) as CacheFile;
    if (c.key !== key || !Array.isArray(c.members)) return null;
    return {
      state: { members: new Map(c.members.map((m) => [m.id, m])), owner: c.owner, head: c.head },
      problems: c.problems,
      records: c.records,
    };
  } catch {
    return null;
  }
}

async function writeCache(home: string, key: string, v: Verified): Promise<void> {
  const c: CacheFile = {
    key,
    records: v.records,
    problems: v.problems,
    owner: v.state.owner,
    head: v.state.head,
    members: [...v.state.members.values()],
  };
  await writeFileAtomic(join(home, VIEW_CACHE_FILE), `${JSON.stringify(c)}\n`).catch(() => {});
}

/**
 * Reads AGENTS.md, the records and this instance's pin, and joins them. The records are verified again only
 * when they (or the pin) changed since this instance last verified them: the result is kept in its home,
 * keyed by the file's version (size, mtime, ctime, inode: a writer cannot set ctime back) and the pin.
 */
export async function loadTeamView(store: TeamStore, home: string): Promise<TeamView> {
  const [written, stat, pinText] = await Promise.all([
    loadRegistry(store),
    store.stat(MEMBERSHIP_FILE).catch(() => null),
    readFile(join(home, PIN_FILE), 'utf8').catch(() => null),
  ]);
  const key = `${stat?.version ?? 'missing'}|${pinText ?? ''}`;
  const cached = await readCache(home, key);
  if (cached) return teamView(written, cached, pinText === null ? null : await readPin(home));
  const { readChain, updatePin } = await import('./chain.js');
  const [chain, pin] = await Promise.all([readChain(store), readPin(home)]);
  const verified = await verifyChain(chain, pin);
  const view = teamView(written, verified, pin);
  // The pin follows the chain forward, so records taken away later are noticed.
  if (pin && verified.problems.length === 0 && (chain.records.at(-1)?.seq ?? -1) > pin.head.seq) {
    view.pin = (await updatePin(home, store, chain).catch(() => pin)) ?? pin;
  }
  const nowPin = await readFile(join(home, PIN_FILE), 'utf8').catch(() => null);
  await writeCache(home, `${stat?.version ?? 'missing'}|${nowPin ?? ''}`, verified);
  return view;
}

/**
 * The view as a function that reads again only when AGENTS.md or the records changed (the store's version
 * of each file), so a busy daemon does not replay the chain per message.
 */
export function cachedTeamView(store: TeamStore, home: string): () => Promise<TeamView> {
  let cached: { key: string; view: TeamView } | null = null;
  // Callers that arrive while a check runs share it: a daemon under load checks once, not once per message.
  let checking: Promise<TeamView> | null = null;
  const check = async (): Promise<TeamView> => {
    const [a, b, pin] = await Promise.all([
      store.stat(TEAM_PATHS.registry).catch(() => null),
      store.stat(MEMBERSHIP_FILE).catch(() => null),
      stat(join(home, PIN_FILE)).then(
        (s) => `${s.size}:${s.mtimeMs}:${s.ctimeMs}`,
        () => '-',
      ),
    ]);
    const key = `${a?.version ?? '-'}|${b?.version ?? '-'}|${pin}`;
    if (cached?.key !== key) cached = { key, view: await loadTeamView(store, home) };
    return cached.view;
  };
  return () => {
    checking ??= check().finally(() => {
      checking = null;
    });
    return checking;
  };
}

/**
 * Throws OIS_ERR_NOT_ADMIN unless `name` is an active admin (or the owner) as the team can trust it: in a
 * team with records, by the records; in an open team, by AGENTS.md.
 */
export function requireAdmin(view: TeamView, name: string, doing: string, command: string): void {
  const me = view.registry.agents.find((a) => a.id === agentId(name));
  if ((me?.role === 'admin' || me?.role === 'owner') && me.status === 'active') return;
  throw new OisError(
    'OIS_ERR_NOT_ADMIN',
    `${doing} needs an active admin of the team; ${name} is ${me ? `${me.status} ${me.role}` : `not in ${view.registry.file}`}`,
    { hint: `ask an admin to run: ${command}` },
  );
}
