import type { Agent, Registry } from '../registry/index.js';
import { loadRegistry } from '../registry/index.js';
import { TEAM_PATHS, type TeamStore } from '../team/index.js';
import {
  type Chain,
  type ChainProblem,
  checkPin,
  MEMBERSHIP_FILE,
  readChain,
  readPin,
  type TeamPin,
  updatePin,
} from './chain.js';
import type { Member, MembershipState } from './rules.js';

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

/** The team as this instance may trust it: AGENTS.md, read through the membership records. */
export interface TeamView {
  /** AGENTS.md with each agent's status as the records give it (`unverified` when they do not back it). */
  registry: Registry;
  /** AGENTS.md as written. */
  written: Registry;
  /** True once the team has an owner (records, or a pin in this home). */
  governed: boolean;
  chain: Chain;
  pin: TeamPin | null;
  /** The chain's problems and the pin's. */
  problems: ChainProblem[];
  state: MembershipState;
  trustOf(agent: Agent): AgentTrust;
}

function publishedKey(agent: Agent): string | null {
  const key = (agent.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  return typeof key === 'string' ? key : null;
}

/**
 * Joins AGENTS.md with the membership records. In a governed team an agent is `verified` only when the
 * records have it with the same key, role and status as its entry; the view's registry gives every other
 * entry the status `unverified`, which nothing delivers to or accepts from.
 */
export function teamView(written: Registry, chain: Chain, pin: TeamPin | null): TeamView {
  const problems = [...chain.problems, ...checkPin(chain, pin)];
  const governed = chain.records.length > 0 || pin !== null;
  const broken = problems.some((p) => p.code !== 'record-invalid');
  const state = chain.state;
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
  return { registry, written, governed, chain, pin, problems, state, trustOf };
}

/** Reads AGENTS.md, the records and this instance's pin, and joins them. */
export async function loadTeamView(store: TeamStore, home: string): Promise<TeamView> {
  const [written, chain, pin] = await Promise.all([loadRegistry(store), readChain(store), readPin(home)]);
  const view = teamView(written, chain, pin);
  // The pin follows the chain forward, so records taken away later are noticed.
  if (pin && view.problems.length === 0 && (chain.records.at(-1)?.seq ?? -1) > pin.head.seq) {
    view.pin = (await updatePin(home, store, chain).catch(() => pin)) ?? pin;
  }
  return view;
}

/**
 * The view as a function that reads again only when AGENTS.md or the records changed (the store's version
 * of each file), so a busy daemon does not replay the chain per message.
 */
export function cachedTeamView(store: TeamStore, home: string): () => Promise<TeamView> {
  let cached: { key: string; view: TeamView } | null = null;
  return async () => {
    const [a, b] = await Promise.all([
      store.stat(TEAM_PATHS.registry).catch(() => null),
      store.stat(MEMBERSHIP_FILE).catch(() => null),
    ]);
    const key = `${a?.version ?? '-'}|${b?.version ?? '-'}`;
    if (cached?.key !== key) cached = { key, view: await loadTeamView(store, home) };
    return cached.view;
  };
}
