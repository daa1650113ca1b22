import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runOis, tempDir } from './helpers/cli.js';
import { serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, type TestTeam } from './helpers/team.js';
import { until } from './helpers/until.js';

/** The notices a daemon makes itself, and what an instance mutes: real daemons, real files. */

let team: TestTeam | undefined;
afterEach(async () => {
  stopDaemons();
  await team?.close();
  team = undefined;
});

const json = (r: { stdout: string }) => JSON.parse(r.stdout);

async function localNotices(home: string): Promise<{ type: string; subject: string }[]> {
  const text = await readFile(join(home, 'notices.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

describe('notices - from the daemon', () => {
  it('a peer down for notices.offlineAfterMs is peer_offline once, then peer_online when it is back', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await serve(alpha!, 0, { env: { OIS_NOTICES_OFFLINE_AFTER_MS: '1000' } });
    const b = await serve(beta!);
    await until('beta seen up', async () =>
      json(await alpha!.ois(['agents', '--json'])).agents.some(
        (a: { name: string; presence: { status: string } | null }) =>
          a.name === 'beta' && a.presence?.status === 'up',
      ),
    );
    b.child.kill('SIGKILL');
    const offline = await until('peer_offline', async () =>
      (await localNotices(alpha!.home)).find((n) => n.type === 'peer_offline' && n.subject === 'beta'),
    );
    expect(offline).toBeDefined();
    // Once per outage, not once per probe.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await localNotices(alpha!.home)).filter((n) => n.type === 'peer_offline')).toHaveLength(1);
    await serve(beta!, b.port, { keepToken: true });
    await until('peer_online', async () =>
      (await localNotices(alpha!.home)).find((n) => n.type === 'peer_online' && n.subject === 'beta'),
    );
    const listed = json(await alpha!.ois(['notices', '--json']));
    const types = listed.notices.map((n: { type: string; source: string }) => `${n.source}:${n.type}`);
    expect(types).toEqual(
      expect.arrayContaining(['local:peer_offline', 'local:peer_online', 'local:daemon_restarted']),
    );
  }, 60_000);

  it('a daemon killed and started again logs daemon_restarted for the team', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha } = team.agents;
    const first = await serve(alpha!);
    const chat1 = await team.chatText();
    expect(chat1).not.toContain('daemon_restarted');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    await serve(alpha!, 0, { keepToken: true });
    const entries = json(await alpha!.ois(['chat', '--json'])).entries;
    expect(
      entries.find(
        (e: { kind: string; notice?: { type: string } }) =>
          e.kind === 'notice' && e.notice?.type === 'daemon_restarted',
      ),
    ).toMatchObject({
      from: 'alpha',
      notice: { subject: 'alpha' },
      body: expect.stringContaining('restarted after it stopped unexpectedly'),
    });
  }, 60_000);

  it('a muted type is acknowledged and logged, not put into the session', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await serve(beta!, 0, { env: { OIS_NOTICES_MUTE: 'role_changed' } });
    const promote = await alpha!.ois(['members', 'promote', 'beta', '--json']);
    expect(promote.code).toBe(0);
    expect(json(promote).notice.deliveries).toEqual([{ to: 'beta', outcome: 'delivered' }]);
    expect(
      beta!.sim.transcript('agent:main:main').some((m) => m.content.includes('made beta an admin')),
    ).toBe(false);
    expect((await alpha!.ois(['members', 'demote', 'beta'])).code).toBe(0);
    expect(
      beta!.sim.transcript('agent:main:main').some((m) => m.content.includes('made beta a member')),
    ).toBe(false);
    // A type that is not muted arrives.
    expect((await alpha!.ois(['members', 'disable', 'beta', '--reason', 'holiday'])).code).toBe(0);
    await until('the disabled notice', () =>
      beta!.sim
        .transcript('agent:main:main')
        .some((m) => m.content.includes('alpha disabled beta (holiday)')),
    );
    // ois notices lists the muted ones only with --all.
    const mute = { env: { OIS_NOTICES_MUTE: 'role_changed' } };
    const quiet = json(await beta!.ois(['notices', '--json'], mute));
    expect(quiet.notices.map((n: { type: string }) => n.type)).not.toContain('role_changed');
    const all = json(await beta!.ois(['notices', '--all', '--json'], mute));
    expect(all.notices.map((n: { type: string }) => n.type)).toContain('role_changed');
  }, 60_000);

  it('an unknown type in notices.mute stops the daemon at start with the list of types', async () => {
    team = await makeTeam(['alpha']);
    const r = await team.agents.alpha!.ois(['serve'], {
      env: { OIS_NOTICES_MUTE: 'approved,gossip', OIS_SERVE_PORT: '0' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('notices.mute names unknown types: gossip');
  }, 30_000);
});

describe('membership - two instances, one name', () => {
  it('a second instance under a name the team knows by another key is refused', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const home = await tempDir('ois-home-beta2-');
    expect((await runOis(['--home', home, 'init', '--name', 'beta', '--team', team.dir])).code).toBe(0);
    const r = await runOis(['--home', home, 'join']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OIS_ERR_MEMBER_TRANSITION');
    expect(r.stderr).toContain('the team knows beta by another key');
  }, 30_000);
});
