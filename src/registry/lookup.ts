import { OisError } from '../errors.js';
import { agentId } from './parse.js';
import type { Agent, Registry } from './types.js';

/** The agent with this name (case and punctuation insensitive), or null. */
export function findAgent(registry: Registry, name: string): Agent | null {
  const id = agentId(name);
  return registry.agents.find((a) => a.id === id) ?? null;
}

/** Like findAgent, but an unknown name is an OIS_ERR_AGENT_UNKNOWN that suggests the closest names. */
export function requireAgent(registry: Registry, name: string): Agent {
  const agent = findAgent(registry, name);
  if (agent) return agent;
  const suggestion = closestNames(
    name,
    registry.agents.map((a) => a.name),
  );
  const known = registry.agents.map((a) => a.name).join(', ') || 'none yet';
  throw new OisError('OIS_ERR_AGENT_UNKNOWN', `no agent named "${name}" in ${registry.file}`, {
    hint: suggestion.length > 0 ? `did you mean ${suggestion.join(' or ')}?` : `known agents: ${known}`,
    details: { name, ...(suggestion.length > 0 ? { suggestions: suggestion } : {}) },
  });
}

/** Names within a small edit distance of `input`, closest first. */
export function closestNames(input: string, names: string[]): string[] {
  const target = agentId(input);
  const scored = names
    .map((name) => ({ name, d: distance(target, agentId(name)) }))
    .filter(
      ({ name, d }) =>
        d <= Math.max(2, Math.floor(agentId(name).length / 3)) || agentId(name).startsWith(target),
    );
  scored.sort((a, b) => a.d - b.d);
  return scored.slice(0, 3).map((s) => s.name);
}

/** Edit distance where swapping two neighbouring letters counts as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...Array<number>(b.length).fill(0),
  ]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
