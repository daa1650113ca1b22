import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OisError } from '../src/errors.js';
import { loadIdentity } from '../src/federation/index.js';
import { runOis } from './helpers/cli.js';
import { postSigned, serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, type TestTeam } from './helpers/team.js';
import { until } from './helpers/until.js';
import { BETA_NODE, makeNetTeam, NET, startTeamNetwork } from './helpers/zerotier-fakes.js';

/**
 * Membership as users live it: real `ois` processes, real daemons on 127.0.0.1:0, gateway simulators, one
 * team folder. specs/membership.md is the contract; tests/membership-spec.test.ts covers the table.
 */

let team: TestTeam | undefined;
afterEach(async () => {
  stopDaemons();
  await team?.close();
  team = undefined;
});

const json = (r: { stdout: string }) => JSON.parse(r.stdout);
const agentsFile = (t: TestTeam) => join(t.dir, 'AGENTS.md');

/** Whether the simulator's main session got a text containing `text`. */
const inSession = (t: TestTeam, name: string, text: string) =>
  t.agents[name]!.sim.transcript('agent:main:main').some((m) => m.content.includes(text));

describe('membership - join, approve and notices across real daemons', () => {
  it('a join is pending until an admin approves; the request and the approval reach the real sessions and the chat log', async () => {
    team = await makeTeam(['alpha', 'beta'], {}, {}, { approve: false });
    const { alpha, beta } = team.agents as Record<string, NonNullable<TestTeam['agents'][string]>>;
    // beta asked to join in makeTeam, before any daemon ran: the request is in the chat log only.
    await serve(alpha!);
    await serve(beta!);
    const pending = json(await alpha!.ois(['members', 'pending', '--json']));
    expect(pending.members).toEqual([
      expect.objectContaining({ name: 'beta', status: 'pending', trust: 'verified' }),
    ]);

    // A pending member sends nothing.
    const early = await beta!.ois(['send', 'alpha', 'let me in']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('OIS_ERR_AGENT_INACTIVE');
    expect(early.stderr).toContain('this instance (beta) is pending');

    // Withdraw and ask again: the request reaches alpha's session through its daemon.
    expect((await beta!.ois(['join', '--withdraw'])).code).toBe(0);
    const again = await beta!.ois(['join', '--json']);
    expect(again.code).toBe(0);
    expect(json(again).membership.notice).toMatchObject({ type: 'join_request', to: ['alpha'] });
    await until('the join request in alpha’s session', () =>
      inSession(team!, 'alpha', 'beta asks to join the team'),
    );

    // A member cannot approve; the owner can.
    const approve = await alpha!.ois(['members', 'approve', 'beta', '--json']);
    expect(approve.code).toBe(0);
    expect(json(approve)).toMatchObject({
      ok: true,
      op: 'approve',
      member: { name: 'beta', status: 'active', role: 'member' },
    });
    await until('the approval in beta’s session', () => inSession(team!, 'beta', 'alpha approved beta'));

    // The chat log has the notices, of kind notice.
    const chat = json(await alpha!.ois(['chat', '--json']));
    const notices = chat.entries.filter((e: { kind: string }) => e.kind === 'notice');
    expect(notices.map((e: { notice: { type: string } }) => e.notice.type)).toEqual(
      expect.arrayContaining(['join_request', 'left', 'approved']),
    );
    const approved = notices.find((e: { notice: { type: string } }) => e.notice.type === 'approved');
    expect(approved).toMatchObject({
      from: 'alpha',
      notice: { subject: 'beta' },
      deliveries: [{ to: 'beta', outcome: 'delivered' }],
    });

    // Now beta is a member: messages flow both ways.
    expect((await beta!.ois(['send', 'alpha', 'thanks'])).code).toBe(0);
    expect((await alpha!.ois(['send', 'beta', 'welcome'])).code).toBe(0);

    // ois notices: unread once, then read.
    const unread = json(await beta!.ois(['notices', '--unread', '--json']));
    expect(unread.notices.map((n: { type: string }) => n.type)).toContain('approved');
    expect(json(await beta!.ois(['notices', '--unread', '--json'])).notices).toEqual([]);
  }, 60_000);

  it('two admins approving the same request at once: one approval, one clear refusal', async () => {
    team = await makeTeam(['alpha', 'gamma', 'beta'], {}, {}, { approve: false });
    const { alpha, gamma } = team.agents;
    expect((await alpha!.ois(['members', 'approve', 'gamma'])).code).toBe(0);
    expect((await alpha!.ois(['members', 'promote', 'gamma'])).code).toBe(0);
    const [a, g] = await Promise.all([
      alpha!.ois(['members', 'approve', 'beta', '--json']),
      gamma!.ois(['members', 'approve', 'beta', '--json']),
    ]);
    const codes = [a.code, g.code].sort();
    expect(codes).toEqual([0, 2]);
    const refused = [a, g].find((r) => r.code === 2)!;
    expect(json(refused).error.code).toBe('OIS_ERR_MEMBER_TRANSITION');
    const records = (await readFile(join(team.dir, 'members', 'records.jsonl'), 'utf8')).trim().split('\n');
    expect(records.filter((l) => l.includes('"op":"approve"') && l.includes('"name":"beta"'))).toHaveLength(
      1,
    );
  }, 60_000);

  it('guards through the command: a member cannot approve, the owner cannot leave, transfer needs --yes', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma'], {}, {}, { approve: false });
    const { alpha, beta, gamma } = team.agents;
    expect((await alpha!.ois(['members', 'approve', 'beta'])).code).toBe(0);
    const denied = await beta!.ois(['members', 'approve', 'gamma']);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('OIS_ERR_MEMBER_FORBIDDEN');
    const leave = await alpha!.ois(['leave']);
    expect(leave.stderr).toContain('OIS_ERR_MEMBER_OWNER');
    const self = await alpha!.ois(['members', 'remove', 'alpha']);
    expect(self.stderr).toContain('OIS_ERR_MEMBER_SELF');
    const unconfirmed = await alpha!.ois(['members', 'transfer-ownership', 'beta']);
    expect(unconfirmed.stderr).toContain('OIS_ERR_CONFIRM_REQUIRED');
    const rejected = await alpha!.ois(['members', 'reject', 'gamma', '--reason', 'not ours']);
    expect(rejected.code).toBe(0);
    const rejoin = await gamma!.ois(['join']);
    expect(rejoin.stderr).toContain('ois join --reapply');
    expect((await gamma!.ois(['join', '--reapply'])).code).toBe(0);
    expect((await alpha!.ois(['members', 'transfer-ownership', 'beta', '--yes'])).code).toBe(0);
    const ls = json(await beta!.ois(['members', '--json']));
    expect(ls.owner).toBe('beta');
    expect(ls.members.find((m: { name: string }) => m.name === 'alpha')).toMatchObject({
      role: 'admin',
      trust: 'verified',
    });
    // The face follows the records: AGENTS.md says so too.
    const text = await readFile(agentsFile(team), 'utf8');
    expect(text).toMatch(/## beta \(owner\)/);
    expect(text).toMatch(/name: gamma\nrole: member\nstatus: pending/);
  }, 60_000);
});

describe('membership - a hand-edited AGENTS.md makes nobody a member', () => {
  it('a swapped key or a flipped status is refused by every daemon and by ois send, and ois doctor names it', async () => {
    team = await makeTeam(['alpha', 'beta', 'mallory'], {}, {}, { approve: false });
    const { alpha, beta, mallory } = team.agents;
    expect((await alpha!.ois(['members', 'approve', 'beta'])).code).toBe(0);
    // mallory stays pending, then flips its own status to active by hand.
    const original = await readFile(agentsFile(team), 'utf8');
    const flipped = original.replace(/(name: mallory\nrole: member\nstatus: )pending/, '$1active');
    expect(flipped).not.toBe(original);
    await writeFile(agentsFile(team), flipped);
    await serve(alpha!);
    await serve(beta!);

    // Its sends are refused before they leave (its own view says unverified) …
    const send = await mallory!.ois(['send', 'alpha', 'I am a member now']);
    expect(send.code).toBe(2);
    expect(send.stderr).toContain('this instance (mallory) is unverified');
    // … and a signed envelope straight to alpha's daemon is refused there.
    const err = (await postSigned(mallory!.home, alpha!.home, {
      from: 'mallory',
      to: 'alpha',
      body: 'hi',
    })) as OisError;
    expect(err.code).toBe('OIS_ERR_SENDER_UNVERIFIED');
    expect(inSession(team, 'alpha', 'hi')).toBe(false);

    // Sending to it is refused with the reason.
    const to = await alpha!.ois(['send', 'mallory', 'are you?']);
    expect(to.code).toBe(2);
    expect(to.stderr).toContain('mallory is unverified');

    // Now beta's key is swapped for mallory's in AGENTS.md: mallory would speak as beta.
    const malloryKey = /name: mallory[\s\S]*?publicKey: '?([^'}\s]+)/.exec(flipped)![1]!;
    const swapped = flipped.replace(/(name: beta[\s\S]*?publicKey: '?)([^'}\s]+)/, `$1${malloryKey}`);
    await writeFile(agentsFile(team), swapped);
    const err2 = (await postSigned(mallory!.home, alpha!.home, {
      from: 'beta',
      to: 'alpha',
      body: 'from "beta"',
    })) as OisError;
    expect(err2.code).toBe('OIS_ERR_SENDER_UNVERIFIED');
    expect(inSession(team, 'alpha', 'from "beta"')).toBe(false);

    const doctor = await alpha!.ois(['doctor', '--json', '--timeout', '2000']);
    const checks = json(doctor).checks as { name: string; status: string; detail: string }[];
    const flagged = checks.filter((c) => c.name === 'unverified entry');
    expect(flagged.map((c) => c.detail.split(' ')[0]).sort()).toEqual(['beta', 'mallory']);
    expect(flagged.find((c) => c.detail.startsWith('beta'))!.detail).toContain(
      'key in AGENTS.md is not the one the records approved',
    );
    expect(doctor.code).not.toBe(0);

    // The next membership change by an admin restores beta's real key.
    expect((await alpha!.ois(['members', 'reject', 'mallory'])).code).toBe(0);
    expect((await alpha!.ois(['members', 'promote', 'beta'])).code).toBe(0);
    const restored = await readFile(agentsFile(team), 'utf8');
    const betaKey = (await loadIdentity(beta!.home))!.publicKey;
    expect(/name: beta[\s\S]*?publicKey: '?([^'}\s]+)/.exec(restored)![1]).toBe(betaKey);
    const view = json(await alpha!.ois(['members', '--json']));
    expect(view.members.find((m: { name: string }) => m.name === 'beta')).toMatchObject({
      trust: 'verified',
      role: 'admin',
    });
  }, 60_000);

  it('a removed member is out: its daemon takes only its own notices, sends to it are refused', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const { alpha, beta, gamma } = team.agents;
    await serve(alpha!);
    await serve(beta!);
    await serve(gamma!);
    const removed = await alpha!.ois(['members', 'remove', 'beta', '--reason', 'left the company', '--json']);
    expect(removed.code).toBe(0);
    expect(json(removed).notice).toMatchObject({ type: 'removed', to: ['beta'] });
    await until('the removal in beta’s session', () =>
      inSession(team!, 'beta', 'alpha removed beta from the team (left the company)'),
    );
    const to = await gamma!.ois(['send', 'beta', 'still there?']);
    expect(to.code).toBe(2);
    expect(to.stderr).toContain('beta is removed');
    const from = await beta!.ois(['send', 'gamma', 'I am still here']);
    expect(from.code).toBe(2);
    expect(from.stderr).toContain('this instance (beta) is removed');
    // A hand-made envelope from beta to gamma's daemon is refused as well.
    const err = (await postSigned(beta!.home, gamma!.home, {
      from: 'beta',
      to: 'gamma',
      body: 'sneaky',
    })) as OisError;
    expect(err.code).toBe('OIS_ERR_SENDER_INACTIVE');
    expect(inSession(team, 'gamma', 'sneaky')).toBe(false);
  }, 60_000);
});

describe('membership - key rotation', () => {
  it('the old key signs until an admin approves the new one; then the new one does', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await serve(alpha!);
    const before = (await loadIdentity(beta!.home))!.publicKey;
    const rotate = await beta!.ois(['keys', 'rotate', '--json']);
    expect(rotate.code).toBe(0);
    const next = json(rotate).newKey as string;
    expect(next).not.toBe(before);
    // Until approved, beta still sends with its old key.
    expect((await beta!.ois(['send', 'alpha', 'old key'])).code).toBe(0);
    expect((await alpha!.ois(['members', 'approve', 'beta'])).code).toBe(0);
    const r = await beta!.ois(['send', 'alpha', 'new key']);
    expect(r.code).toBe(0);
    expect((await loadIdentity(beta!.home))!.publicKey).toBe(next);
    expect(inSession(team, 'alpha', 'new key')).toBe(true);
    expect(json(await beta!.ois(['keys', '--json']))).toMatchObject({ publicKey: next, approved: true });
  }, 60_000);
});

describe('membership - an instance pins the owner', () => {
  it('records replaced or taken away make every member unverified for an instance that pinned them', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { beta } = team.agents;
    const pin = JSON.parse(await readFile(join(beta!.home, 'team-pin.json'), 'utf8'));
    expect(pin).toMatchObject({ owner: 'alpha' });
    const file = join(team.dir, 'members', 'records.jsonl');
    const records = await readFile(file, 'utf8');
    await writeFile(file, '');
    const send = await beta!.ois(['send', 'alpha', 'hello?']);
    expect(send.code).toBe(2);
    const doctor = json(await beta!.ois(['doctor', '--json', '--timeout', '1000']));
    expect(JSON.stringify(doctor.checks)).toContain(
      'is missing or empty, but this instance joined a team owned by alpha',
    );
    await writeFile(file, records);
    expect((await beta!.ois(['send', 'alpha', 'hello again'])).code).toBe(0);

    // A forged byte, same size, mtime set back: the verification this instance keeps in its home is not
    // trusted for it (the file's ctime changed), so the forgery shows.
    const before = await stat(file);
    const last = records.trimEnd().split('\n').at(-1)!;
    const sig = /"sig":"(.)/.exec(last)!;
    const forged = records.replace(
      last,
      last.replace(`"sig":"${sig[1]}`, `"sig":"${sig[1] === 'A' ? 'B' : 'A'}`),
    );
    expect(forged.length).toBe(records.length);
    await writeFile(file, forged);
    await utimes(file, before.atime, before.mtime);
    const agents = json(await beta!.ois(['agents', '--json']));
    const approvedOne = agents.agents.find((a: { name: string }) => a.name === 'beta');
    expect(approvedOne).toMatchObject({ status: 'unverified', trust: 'unverified' });
    await writeFile(file, records);
    expect(inSession(team, 'alpha', 'hello again')).toBe(true);
  }, 60_000);
});

describe('membership - ZeroTier', () => {
  it('with a Central token, disable de-authorises the member’s node and enable authorises it again', async () => {
    const t = await makeNetTeam();
    const network = await startTeamNetwork({
      localToken: 'zt-local',
      centralToken: 'central-0123456789',
      betaAuthorized: true,
    });
    try {
      const env = network.env;
      const off = await runOis(['--home', t.homes.alpha!, 'members', 'disable', 'beta', '--json'], { env });
      expect(off.code).toBe(0);
      expect(json(off).zerotier.done).toContain(`de-authorised node ${BETA_NODE}`);
      expect(network.central.state.networks[NET]!.members[BETA_NODE]!.config).toMatchObject({
        authorized: false,
      });
      const on = await runOis(['--home', t.homes.alpha!, 'members', 'enable', 'beta', '--json'], { env });
      expect(on.code).toBe(0);
      expect(network.central.state.networks[NET]!.members[BETA_NODE]!.config).toMatchObject({
        authorized: true,
      });
      expect(network.local.violations).toEqual([]);
      expect(network.central.violations).toEqual([]);
    } finally {
      await network.local.close();
      await network.central.close();
    }
  }, 60_000);

  it('without a ZeroTier token, approve says what to do by hand', async () => {
    team = await makeTeam(['alpha', 'beta'], {}, {}, { approve: false });
    const { alpha } = team.agents;
    const text = (await readFile(agentsFile(team), 'utf8'))
      .replace('name: beta\n', 'name: beta\nzerotier: {nodeId: 89e92ceee5, ip: 10.147.17.6}\n')
      .replace('# ', '```yaml ois-team\nzerotier: {network: 8056c2e21c000001}\n```\n\n# ');
    await writeFile(agentsFile(team), text);
    const r = await runOis(['--home', alpha!.home, 'members', 'approve', 'beta'], {
      env: { ZEROTIER_HOME: join(alpha!.home, 'no-zerotier') },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'zerotier: authorise node 89e92ceee5 (beta) on network 8056c2e21c000001 by hand',
    );
  }, 60_000);
});
