import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { isOisError } from '../src/errors.js';
import {
  type Actor,
  changeMembership,
  formatPublicKey,
  MEMBER_OPS,
  MEMBERSHIP_FILE,
  type MemberOp,
  type MemberStatus,
  type MembershipChange,
  parseRecord,
  readChain,
  recordHash,
  replayChain,
  signRecord,
  TRANSITIONS,
} from '../src/membership/index.js';
import { MemoryTeamStore } from '../src/team/index.js';
import { ROOT, specBlocks } from './helpers/spec-blocks.js';

const key = () => generateKeyPairSync('ed25519').privateKey;
const SPEC = readFileSync(join(ROOT, 'specs', 'membership.md'), 'utf8');

/** The transition table of specs/membership.md, as rows. */
function specTable(): Map<string, { by: string; from: string[]; to: string }> {
  const at = SPEC.indexOf('<!-- membership-transitions -->');
  const rows = SPEC.slice(at).split('\n').slice(3);
  const out = new Map<string, { by: string; from: string[]; to: string }>();
  for (const row of rows) {
    if (!row.startsWith('|')) break;
    const [op, by, from, to] = row
      .split('|')
      .slice(1, 5)
      .map((c) => c.trim());
    out.set(op!, { by: by!, from: from!.split(',').map((s) => s.trim()), to: to! });
  }
  return out;
}

interface Team {
  store: MemoryTeamStore;
  actors: Record<string, Actor & { key: KeyObject }>;
  change(actor: string, change: MembershipChange): ReturnType<typeof changeMembership>;
}

/** alpha founds the team, gamma joins and is made an admin, delta joins as a member. */
async function team(): Promise<Team> {
  const store = new MemoryTeamStore('/team');
  const actors: Team['actors'] = {};
  for (const name of ['alpha', 'beta', 'gamma', 'delta']) {
    const k = key();
    actors[name] = { name, privateKey: k, key: k };
  }
  const pk = (n: string) => formatPublicKey(actors[n]!.key);
  const change = (actor: string, c: MembershipChange) => changeMembership(store, actors[actor]!, c);
  await change('alpha', { op: 'found', subject: 'alpha', publicKey: pk('alpha') });
  for (const n of ['gamma', 'delta']) {
    await change(n, { op: 'request', subject: n, publicKey: pk(n) });
    await change('alpha', { op: 'approve', subject: n });
  }
  await change('alpha', { op: 'promote', subject: 'gamma' });
  return { store, actors, change };
}

/** Brings beta to a state through allowed changes. */
async function reach(t: Team, state: MemberStatus | 'none'): Promise<void> {
  const pk = formatPublicKey(t.actors.beta!.key);
  if (state === 'none') return;
  await t.change('beta', { op: 'request', subject: 'beta', publicKey: pk });
  if (state === 'pending') return;
  if (state === 'rejected') {
    await t.change('alpha', { op: 'reject', subject: 'beta', reason: 'who are you?' });
    return;
  }
  await t.change('alpha', { op: 'approve', subject: 'beta' });
  if (state === 'disabled') await t.change('alpha', { op: 'disable', subject: 'beta' });
  if (state === 'left') await t.change('beta', { op: 'leave', subject: 'beta' });
  if (state === 'removed') await t.change('alpha', { op: 'remove', subject: 'beta' });
}

/** The change an op makes to beta, by whoever the spec says signs it. */
function changeFor(t: Team, op: MemberOp): [string, MembershipChange] {
  const by = specTable().get(op)!.by;
  const actor = by === 'self' ? 'beta' : 'alpha';
  const c: MembershipChange = { op, subject: 'beta' };
  if (op === 'found' || op === 'request' || op === 'approve')
    c.publicKey = formatPublicKey(t.actors.beta!.key);
  if (op === 'rotate') c.newKey = key();
  return [actor, c];
}

const STATES: (MemberStatus | 'none')[] = [
  'none',
  'pending',
  'active',
  'disabled',
  'rejected',
  'left',
  'removed',
];

describe('specs/membership.md', () => {
  it('lists every op, and the code has the same table', () => {
    const table = specTable();
    expect([...table.keys()].sort()).toEqual([...MEMBER_OPS].sort());
    for (const [op, row] of table) {
      expect(row.to, op).toBe(TRANSITIONS[op as MemberOp].to);
      expect([...row.from].sort(), op).toEqual([...TRANSITIONS[op as MemberOp].from].sort());
    }
  });

  it('its example record is a record', () => {
    const example = specBlocks('membership.md', 'membership-record').get('approve')!;
    const r = parseRecord(example.trim());
    expect(typeof r).toBe('object');
  });
});

describe('the transition table', () => {
  const table = specTable();
  for (const op of MEMBER_OPS) {
    if (op === 'found') continue;
    for (const from of STATES) {
      const allowed = table.get(op)!.from.includes(from);
      it(`${op} from ${from}: ${allowed ? 'allowed' : 'refused'}`, async () => {
        const t = await team();
        await reach(t, from);
        if (op === 'approve-key' && from === 'active') {
          await t.change('beta', { op: 'rotate', subject: 'beta', newKey: key() });
        }
        if (op === 'demote' && from === 'active') await t.change('alpha', { op: 'promote', subject: 'beta' });
        const before = (await t.store.read(MEMBERSHIP_FILE))!.toString();
        const [actor, c] = changeFor(t, op);
        if (allowed) {
          const { member } = await t.change(actor, c);
          expect(member.status).toBe(table.get(op)!.to);
          const chain = await readChain(t.store);
          expect(chain.problems).toEqual([]);
          expect(chain.state.members.get('beta')?.status).toBe(table.get(op)!.to);
        } else {
          const err = await t.change(actor, c).catch((e: unknown) => e);
          expect(isOisError(err), String(err)).toBe(true);
          expect((err as { code: string }).code).toMatch(/^OIS_ERR_MEMBER_(TRANSITION|UNKNOWN|OWNER)$/);
          expect((await t.store.read(MEMBERSHIP_FILE))!.toString()).toBe(before);
        }
      });
    }
  }
});

describe('guards', () => {
  let t: Team;
  beforeEach(async () => {
    t = await team();
    await reach(t, 'active');
  });
  const refused = async (actor: string, c: MembershipChange, code: string) => {
    const before = (await t.store.read(MEMBERSHIP_FILE))!.toString();
    const err = await t.change(actor, c).catch((e: unknown) => e);
    expect((err as { code?: string }).code, String(err)).toBe(code);
    expect((await t.store.read(MEMBERSHIP_FILE))!.toString()).toBe(before);
  };

  it('a member cannot approve, disable or promote', async () => {
    const pk = formatPublicKey(key());
    await refused('delta', { op: 'approve', subject: 'eve', publicKey: pk }, 'OIS_ERR_MEMBER_FORBIDDEN');
    await refused('delta', { op: 'disable', subject: 'beta' }, 'OIS_ERR_MEMBER_FORBIDDEN');
    await refused('delta', { op: 'promote', subject: 'delta' }, 'OIS_ERR_MEMBER_FORBIDDEN');
  });
  it('a disabled admin approves nothing', async () => {
    await t.change('alpha', { op: 'disable', subject: 'gamma' });
    await refused('gamma', { op: 'enable', subject: 'gamma' }, 'OIS_ERR_MEMBER_FORBIDDEN');
  });
  it('nobody removes, disables or demotes themselves', async () => {
    await refused('gamma', { op: 'remove', subject: 'gamma' }, 'OIS_ERR_MEMBER_SELF');
    await refused('gamma', { op: 'disable', subject: 'gamma' }, 'OIS_ERR_MEMBER_SELF');
    await refused('gamma', { op: 'demote', subject: 'gamma' }, 'OIS_ERR_MEMBER_SELF');
  });
  it('the owner cannot be removed, disabled, demoted, or leave', async () => {
    await refused('gamma', { op: 'remove', subject: 'alpha' }, 'OIS_ERR_MEMBER_OWNER');
    await refused('gamma', { op: 'disable', subject: 'alpha' }, 'OIS_ERR_MEMBER_OWNER');
    await refused('gamma', { op: 'demote', subject: 'alpha' }, 'OIS_ERR_MEMBER_OWNER');
    await refused('alpha', { op: 'leave', subject: 'alpha' }, 'OIS_ERR_MEMBER_OWNER');
  });
  it('only the owner transfers ownership; the old owner stays an admin', async () => {
    await refused('gamma', { op: 'transfer', subject: 'beta' }, 'OIS_ERR_MEMBER_FORBIDDEN');
    const { state } = await t.change('alpha', { op: 'transfer', subject: 'gamma' });
    expect(state.owner).toBe('gamma');
    expect(state.members.get('alpha')?.role).toBe('admin');
    expect(state.members.get('gamma')?.role).toBe('owner');
    // Now alpha can leave, and gamma cannot.
    await t.change('alpha', { op: 'leave', subject: 'alpha' });
    await refused('gamma', { op: 'leave', subject: 'gamma' }, 'OIS_ERR_MEMBER_OWNER');
  });
  it('the owner is the admin that always remains: an admin may leave, the owner may not', async () => {
    await t.change('gamma', { op: 'leave', subject: 'gamma' });
    await refused('alpha', { op: 'leave', subject: 'alpha' }, 'OIS_ERR_MEMBER_OWNER');
    await refused('alpha', { op: 'demote', subject: 'alpha' }, 'OIS_ERR_MEMBER_SELF');
  });
  it('leave, rotate are the subject’s own', async () => {
    await refused('alpha', { op: 'leave', subject: 'beta' }, 'OIS_ERR_MEMBER_FORBIDDEN');
    await refused('alpha', { op: 'rotate', subject: 'beta', newKey: key() }, 'OIS_ERR_MEMBER_FORBIDDEN');
  });
  it('a rotation keeps the old key until an admin approves the new one', async () => {
    const next = key();
    await t.change('beta', { op: 'rotate', subject: 'beta', newKey: next });
    let chain = await readChain(t.store);
    expect(chain.state.members.get('beta')?.publicKey).toBe(formatPublicKey(t.actors.beta!.key));
    expect(chain.state.members.get('beta')?.pendingKey).toBe(formatPublicKey(next));
    await t.change('gamma', { op: 'approve-key', subject: 'beta' });
    chain = await readChain(t.store);
    expect(chain.state.members.get('beta')?.publicKey).toBe(formatPublicKey(next));
    expect(chain.state.members.get('beta')?.pendingKey).toBeNull();
    // The old key signs nothing any more.
    const err = await t.change('beta', { op: 'leave', subject: 'beta' }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('OIS_ERR_MEMBERSHIP_INVALID');
    await changeMembership(t.store, { name: 'beta', privateKey: next }, { op: 'leave', subject: 'beta' });
  });
  it('a second founder is refused', async () => {
    const eve = key();
    await refused(
      'beta',
      { op: 'found', subject: 'beta', publicKey: formatPublicKey(eve) },
      'OIS_ERR_MEMBER_TRANSITION',
    );
  });
});

describe('the chain', () => {
  it('two admins approving the same request at once give one approval and one refusal', async () => {
    const t = await team();
    await reach(t, 'pending');
    const results = await Promise.allSettled([
      t.change('alpha', { op: 'approve', subject: 'beta' }),
      t.change('gamma', { op: 'approve', subject: 'beta' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason.code).toBe('OIS_ERR_MEMBER_TRANSITION');
    const chain = await readChain(t.store);
    expect(chain.records.filter((r) => r.op === 'approve' && r.subject.name === 'beta')).toHaveLength(1);
  });

  it('a forged, reordered or edited record ends the chain there', async () => {
    const t = await team();
    await reach(t, 'active');
    const text = (await t.store.read(MEMBERSHIP_FILE))!.toString();
    const lines = text.trimEnd().split('\n');
    expect(replayChain(text).problems).toEqual([]);
    // Edited: beta made admin by hand in its approve record.
    const edited = lines.map((l) =>
      l.includes('"op":"approve","by":"alpha","subject":{"name":"beta"')
        ? l.replace('"role":"member"', '"role":"admin"')
        : l,
    );
    const c1 = replayChain(edited.join('\n'));
    expect(c1.problems).toHaveLength(1);
    expect(c1.state.members.get('beta')?.status).toBe('pending');
    // A record signed by a key the records never approved.
    const eve = key();
    const last = JSON.parse(lines.at(-1)!);
    const forged = signRecord(
      {
        ...last,
        seq: last.seq + 1,
        prev: recordHash(last),
        op: 'promote',
        by: 'eve',
        subject: { ...last.subject, role: 'admin' },
      },
      eve,
    );
    const c2 = replayChain(`${text}${JSON.stringify(forged)}\n`);
    expect(c2.problems[0]?.code).toBe('record-invalid');
    expect(c2.state.members.get('beta')?.role).toBe('member');
    // Swapped lines.
    const swapped = [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n');
    expect(replayChain(swapped).problems).toHaveLength(1);
  });
});
