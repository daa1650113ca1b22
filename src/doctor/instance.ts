import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type InstanceConfig, isNatsLocation } from '../config/index.js';
import { isOisError } from '../errors.js';
import { readChain, readPin, type TeamView, teamView, verifyChain } from '../membership/index.js';
import { openMemory, TEAM_MEMORY_DIR } from '../memory/index.js';
import { agentId, findAgent, loadRegistry, type Registry } from '../registry/index.js';
import { acquireLock, FsTeamStore, TEMP_PREFIX, type TeamStore, writeFileAtomic } from '../team/index.js';
import { checkNatsTeam } from './nats.js';
import type { Check } from './types.js';

export const SELF = 'this instance';

/**
 * Checks this instance: config, team folder (found, writable, lock works), AGENTS.md (parses, no plaintext
 * tokens, our own entry current). Returns the checks and the registry when it could be read.
 */
export async function checkInstance(
  loadConfig: () => InstanceConfig,
): Promise<{ checks: Check[]; config: InstanceConfig | null; registry: Registry | null }> {
  const checks: Check[] = [];
  const add = (c: Omit<Check, 'subject'>) => checks.push({ subject: SELF, ...c });
  let config: InstanceConfig;
  try {
    config = loadConfig();
  } catch (err) {
    add({
      name: 'config',
      status: 'fail',
      detail: isOisError(err) ? err.message : String(err),
      fix: isOisError(err) ? err.hint : undefined,
      code: isOisError(err) ? err.code : 'OIS_ERR_CONFIG_INVALID',
    } as Check);
    return { checks, config: null, registry: null };
  }
  if (!config.initialised || config.name === null) {
    add({
      name: 'config',
      status: 'fail',
      detail: `no ${config.file}`,
      fix: 'ois init --name NAME --team DIR',
      code: 'OIS_ERR_CONFIG_MISSING',
    });
  } else add({ name: 'config', status: 'ok', detail: `${config.file} (agent ${config.name})` });

  if (config.team === null) {
    add({
      name: 'team folder',
      status: 'fail',
      detail: 'none configured and no AGENTS.md above the working directory',
      fix: 'ois init --team DIR, --team DIR, or OIS_TEAM',
      code: 'OIS_ERR_TEAM_NOT_FOUND',
    });
    return { checks, config, registry: null };
  }
  if (isNatsLocation(config.team)) {
    const store = await checkNatsTeam(config, add);
    if (store === null) return { checks, config, registry: null };
    try {
      return { checks, config, registry: await checkTeam(store, config, add) };
    } finally {
      await store.close();
    }
  }
  const store = new FsTeamStore(config.team, { timeoutMs: 3000 });
  const probe = join(config.team, `${TEMP_PREFIX}doctor-${randomBytes(4).toString('hex')}`);
  try {
    await writeFileAtomic(probe, 'ois doctor write test\n');
    await rm(probe, { force: true });
    add({ name: 'team folder', status: 'ok', detail: `${config.team} (${config.teamSource}), writable` });
  } catch (err) {
    const missing = (err as { cause?: { code?: string } }).cause?.code === 'ENOENT';
    add({
      name: 'team folder',
      status: 'fail',
      detail: missing
        ? `${config.team} does not exist`
        : `${config.team} is not writable: ${isOisError(err) ? err.message : String(err)}`,
      fix: missing
        ? 'check that the share is mounted, or fix the path (ois init --team DIR)'
        : 'give this user write access to the team folder, and mount the share read-write',
      code: missing ? 'OIS_ERR_TEAM_NOT_FOUND' : 'OIS_ERR_TEAM_UNWRITABLE',
    });
    return { checks, config, registry: null };
  }
  try {
    const release = await acquireLock(join(config.team, '.ois-doctor'), { timeoutMs: 3000 });
    await release();
    add({ name: 'team lock', status: 'ok', detail: 'a lock directory can be taken and released' });
  } catch (err) {
    add({
      name: 'team lock',
      status: 'fail',
      detail: isOisError(err) ? err.message : String(err),
      fix: isOisError(err) && err.hint ? err.hint : 'check the team folder allows creating folders',
      code: isOisError(err) ? err.code : 'OIS_ERR_STORAGE',
    });
  }

  return { checks, config, registry: await checkTeam(store, config, add) };
}

/** The checks of what the team holds, on any backend: AGENTS.md, this agent's entry, membership, memory. */
async function checkTeam(
  store: TeamStore,
  config: InstanceConfig,
  add: (c: Omit<Check, 'subject'>) => void,
): Promise<Registry | null> {
  let registry: Registry;
  try {
    registry = await loadRegistry(store);
  } catch (err) {
    add({
      name: 'AGENTS.md',
      status: 'fail',
      detail: isOisError(err) ? err.message : String(err),
      fix: 'fix the lines named (specs/registry.md describes the format)',
      code: isOisError(err) ? err.code : 'OIS_ERR_REGISTRY_PARSE',
    });
    return null;
  }
  add({ name: 'AGENTS.md', status: 'ok', detail: `${registry.agents.length} agents` });
  const tokens = registry.warnings.filter((w) => w.code === 'plaintext-token');
  if (tokens.length > 0) {
    add({
      name: 'no plaintext tokens',
      status: 'fail',
      detail: `AGENTS.md holds the gateway token of ${tokens.map((w) => w.agent).join(', ')}`,
      fix: 'ois secrets import --redact, then rotate those tokens on their gateways',
      code: 'OIS_ERR_REGISTRY_INVALID',
    });
  } else add({ name: 'no plaintext tokens', status: 'ok', detail: 'none in AGENTS.md' });
  for (const w of registry.warnings.filter((x) => x.code !== 'plaintext-token')) {
    add({ name: 'AGENTS.md entry', status: 'warn', detail: w.message, fix: w.hint });
  }

  if (config.name !== null) {
    const me = findAgent(registry, config.name);
    if (!me) {
      add({
        name: 'own entry',
        status: 'fail',
        detail: `no agent ${config.name} in AGENTS.md`,
        fix: 'ois join',
        code: 'OIS_ERR_AGENT_UNKNOWN',
      });
    } else if (
      me.gateway?.url !== config.gateway.url ||
      me.gateway?.sessionKey !== config.gateway.sessionKey
    ) {
      add({
        name: 'own entry',
        status: 'warn',
        detail: `AGENTS.md says ${me.gateway?.url ?? 'no gateway'} (${me.gateway?.sessionKey ?? '-'}), the config says ${config.gateway.url} (${config.gateway.sessionKey})`,
        fix: 'ois join (publishes the config)',
      });
    } else add({ name: 'own entry', status: 'ok', detail: `${me.name} (${me.role}, ${me.status})` });
  }
  for (const c of await checkMembership(store, config, registry)) add(c);
  if (config.name !== null) for (const c of await checkMemory(store, config.home, config.name)) add(c);
  return registry;
}

/** Team memory as this instance reads it: lines every reader ignores (forged, unsigned, another's key). */
async function checkMemory(store: TeamStore, home: string, self: string): Promise<Omit<Check, 'subject'>[]> {
  if ((await store.list(TEAM_MEMORY_DIR)).length === 0) return [];
  let mem: Awaited<ReturnType<typeof openMemory>>;
  try {
    mem = await openMemory({ self, home, store });
  } catch (err) {
    return [
      {
        name: 'team memory',
        status: 'fail',
        detail: isOisError(err) ? err.message : String(err),
        code: 'OIS_ERR_STORAGE',
      },
    ];
  }
  try {
    const out: Omit<Check, 'subject'>[] = [];
    const rejected = mem.index.rejected();
    const contested = mem.index.contested(mem.reader);
    out.push({
      name: 'team memory',
      status: 'ok',
      detail: `${mem.index.list().length} entries this instance may read`,
    });
    for (const r of rejected.slice(0, 20)) {
      out.push({
        name: 'memory line ignored',
        status: 'warn',
        detail: `${r.source.replace(/^team:/, '')}:${r.line}: ${r.reason}`,
        fix: 'a line written by hand or by someone else: every reader ignores it; remove it from the file',
      });
    }
    for (const c of contested) {
      out.push({
        name: 'memory key contested',
        status: 'warn',
        detail: `${c.key} belongs to ${c.owner}; ignored lines by ${c.by.join(', ')}`,
        fix: `only ${c.owner} or an admin changes it`,
      });
    }
    return out;
  } finally {
    mem.close();
  }
}

/**
 * The team's membership records as this instance trusts them: the pinned owner, records that do not
 * verify, AGENTS.md entries they do not back (each named, with why), and this instance's own state.
 */
async function checkMembership(
  store: TeamStore,
  config: InstanceConfig,
  registry: Registry,
): Promise<Omit<Check, 'subject'>[]> {
  const out: Omit<Check, 'subject'>[] = [];
  let view: TeamView;
  try {
    // Verified afresh, never from this instance's cache: doctor is where a tampered file must show.
    const pin = await readPin(config.home);
    view = teamView(registry, await verifyChain(await readChain(store), pin), pin);
  } catch (err) {
    return [
      {
        name: 'membership',
        status: 'fail',
        detail: isOisError(err) ? err.message : String(err),
        ...(isOisError(err) && err.hint ? { fix: err.hint } : {}),
        code: 'OIS_ERR_MEMBERSHIP_INVALID',
      },
    ];
  }
  if (!view.governed) {
    return [
      {
        name: 'membership',
        status: 'warn',
        detail: 'the team has no membership records: whoever can write AGENTS.md is a member',
        fix: 'ois join founds the team (its owner then approves everyone else): docs/membership.md',
      },
    ];
  }
  const owner = view.state.owner ? view.state.members.get(view.state.owner) : undefined;
  out.push({
    name: 'membership',
    status: 'ok',
    detail: `${view.records} records, owner ${owner?.name ?? '?'}, ${[...view.state.members.values()].filter((m) => m.status === 'active').length} active`,
  });
  if (view.pin) {
    out.push({
      name: 'pinned owner',
      status: 'ok',
      detail: `${view.pin.owner} ${view.pin.publicKey} (since ${view.pin.pinnedAt.slice(0, 10)})`,
    });
  } else {
    out.push({
      name: 'pinned owner',
      status: 'warn',
      detail: 'this instance has not pinned the team owner yet',
      fix: 'ois join (or ois serve) pins it',
    });
  }
  for (const p of view.problems) {
    out.push({
      name: 'membership records',
      status: 'fail',
      detail: p.message,
      fix: p.hint,
      code: 'OIS_ERR_MEMBERSHIP_INVALID',
    });
  }
  for (const agent of view.written.agents) {
    const t = view.trustOf(agent);
    if (t.trust !== 'unverified') continue;
    out.push({
      name: 'unverified entry',
      status: 'fail',
      detail: `${agent.name} (${agent.status} ${agent.role} in AGENTS.md): ${t.reason}; never delivered to or accepted from`,
      fix: t.member
        ? 'someone edited its entry by hand: the next membership change by an admin restores it (or ois members approve it again)'
        : `an admin who knows ${agent.name} is genuine: ois members approve ${agent.name}; else delete the entry`,
      code: 'OIS_ERR_MEMBERSHIP_INVALID',
    });
  }
  const mine = config.name ? view.state.members.get(agentId(config.name)) : undefined;
  if (mine && mine.status !== 'active') {
    out.push({
      name: 'own membership',
      status: 'warn',
      detail: `${mine.name} is ${mine.status}${mine.reason ? ` (${mine.reason})` : ''}: it sends and receives only notices about itself`,
      fix:
        mine.status === 'pending'
          ? 'an admin approves: ois members approve NAME'
          : 'ask an admin (ois members ls)',
    });
  }
  return out;
}
