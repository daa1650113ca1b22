import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { tempDir } from './helpers/cli.js';
import { type Daemon, serve, stopDaemons } from './helpers/daemon.js';
import { describeNats, type NatsServers, startNats, startNatsCluster, uniqueTeam } from './helpers/nats.js';
import { makeTeam, ok, type TestTeam } from './helpers/team.js';
import { until } from './helpers/until.js';

/**
 * A whole team on NATS through the commands a user runs: init, join and approval, agents, send (into the
 * peer's inbox stream, taken by its daemon when it runs), chat, shared files and the viewer, with no team
 * folder anywhere.
 */
describeNats('NATS team - the commands on a team that lives on NATS', () => {
  let servers: NatsServers;
  let team: TestTeam;
  let url: string;
  beforeAll(async () => {
    servers = await startNats();
    url = `${servers.servers[0]}/${uniqueTeam('lab')}`;
    team = await makeTeam(['alpha', 'beta', 'gamma'], {}, {}, { team: url });
  }, 60_000);
  afterEach(() => stopDaemons());
  afterAll(async () => {
    await team?.close();
    await servers?.stop();
  });
  const texts = (d: { sim: { transcript(k: string): { content: unknown }[] } }) =>
    d.sim.transcript('agent:main:main').map((m) => JSON.stringify(m.content));

  it('NATS team - members joined and were approved in the records on NATS', async () => {
    const { alpha, gamma } = team.agents;
    const agents = JSON.parse((await ok(gamma!, ['agents', '--json'])).stdout);
    expect(agents.agents.map((a: { name: string; status: string }) => [a.name, a.status])).toEqual([
      ['alpha', 'active'],
      ['beta', 'active'],
      ['gamma', 'active'],
    ]);
    const init = JSON.parse((await ok(alpha!, ['init', '--json'])).stdout);
    expect(init).toMatchObject({ team: url, backend: 'nats', createdTeamFolder: false });
  });

  it('NATS team - a message goes through the inbox stream and waits there while the peer is down', async () => {
    const { alpha, beta } = team.agents;
    let daemon: Daemon = await serve(beta!);
    await serve(alpha!);
    const first = JSON.parse((await ok(alpha!, ['send', 'beta', 'over NATS', '--json'])).stdout);
    expect(first.deliveries[0]).toMatchObject({ to: 'beta', outcome: 'delivered', via: 'nats' });
    await until('beta to get it', () => texts(beta!).some((t) => t.includes('over NATS')));

    // Beta's daemon stops: what alpha sends is stored for it, and arrives, in order, when it is back.
    daemon.child.kill('SIGTERM');
    await until('beta to stop', () => daemon.child.exitCode !== null);
    for (const n of [1, 2, 3]) {
      const r = JSON.parse((await ok(alpha!, ['send', 'beta', `while away ${n}`, '--json'])).stdout);
      expect(r.deliveries[0]).toMatchObject({ outcome: 'delivered', via: 'nats' });
    }
    expect(texts(beta!).some((t) => t.includes('while away'))).toBe(false);
    daemon = await serve(beta!, 0, { keepToken: true });
    await until(
      'beta to take the three',
      () => texts(beta!).filter((t) => t.includes('while away')).length === 3,
    );
    const order = texts(beta!)
      .filter((t) => t.includes('while away'))
      .map((t) => /while away (\d)/.exec(t)![1]);
    expect(order).toEqual(['1', '2', '3']);

    // Everyone reads the same chat log, from NATS.
    const chat = JSON.parse((await ok(team.agents.gamma!, ['chat', '--with', 'beta', '--json'])).stdout);
    expect(chat.entries.map((e: { body: string }) => e.body)).toEqual(
      expect.arrayContaining(['over NATS', 'while away 1', 'while away 2', 'while away 3']),
    );
    // And the viewer of beta's daemon shows them.
    const today = new Date().toISOString().slice(0, 10);
    const page = await fetch(`${daemon.url}/api/chat/day/${today}?limit=100`, {
      headers: { host: new URL(daemon.url).host },
    });
    expect(page.status).toBe(200);
    const body = (await page.json()) as { entries: { body: string }[] };
    expect(body.entries.map((e) => e.body)).toEqual(expect.arrayContaining(['over NATS', 'while away 3']));
  }, 60_000);

  it('NATS team - shared files and team memory are the same for every member', async () => {
    const { alpha, gamma } = team.agents;
    const file = join(await tempDir('ois-nats-share-'), 'the-plan.md');
    await writeFile(file, '# The plan\n');
    await ok(alpha!, ['share', 'put', file, '--as', 'plan.md']);
    expect((await ok(gamma!, ['share', 'get', 'plan.md', '--out', '-'])).stdout).toBe('# The plan\n');
    const list = JSON.parse((await ok(gamma!, ['share', 'ls', '--json'])).stdout);
    expect(list.files.map((f: { name: string }) => f.name)).toContain('plan.md');
    await ok(alpha!, ['memory', 'put', 'deploy.window', 'Fridays after 18:00']);
    const got = JSON.parse((await ok(gamma!, ['memory', 'get', 'deploy.window', '--json'])).stdout);
    expect(JSON.stringify(got)).toContain('Fridays after 18:00');
  });

  it('NATS team - doctor checks the connection, JetStream, the streams, the permissions and the lock', async () => {
    const { gamma } = team.agents;
    const r = await gamma!.ois(['doctor', '--json', '--timeout', '2000']);
    const checks = JSON.parse(r.stdout).checks as {
      subject: string;
      name: string;
      status: string;
      detail: string;
    }[];
    const mine = (name: string) => checks.filter((c) => c.subject === 'this instance' && c.name === name);
    expect(mine('NATS connection')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining(url) });
    expect(mine('JetStream')[0]).toMatchObject({ status: 'ok' });
    expect(mine('team streams').find((c) => c.status === 'ok')?.detail).toContain('chat log');
    // gamma never ran a daemon: it has no inbox yet, and says how to get one.
    expect(mine('team streams').find((c) => c.status === 'warn')?.detail).toContain('own inbox');
    // One server without per-agent users: anyone may publish as anyone (signatures still hold).
    expect(mine('permissions')[0]).toMatchObject({ status: 'warn' });
    expect(mine('team lock')[0]).toMatchObject({ status: 'ok' });
    expect(mine('AGENTS.md')[0]).toMatchObject({ status: 'ok', detail: '3 agents' });

    // The servers gone: the connection fails with its code, and nothing else is guessed.
    const dead = await gamma!.ois(['doctor', '--json'], {
      env: { OIS_TEAM: `nats://127.0.0.1:1/${uniqueTeam()}` },
    });
    expect(dead.code).toBe(4);
    const failed = JSON.parse(dead.stdout).checks.find((c: { name: string }) => c.name === 'NATS connection');
    expect(failed).toMatchObject({ status: 'fail', code: 'OIS_ERR_NATS_UNREACHABLE' });
  });

  it('NATS team - while the servers are down the team is still known: a send goes over HTTP, the log says why it is not written', async () => {
    const { alpha, beta } = team.agents;
    let daemon = await serve(beta!);
    await ok(alpha!, ['agents', '--json']); // the copy of the registry in alpha's home is current
    await servers.nodes[0]!.stop();
    try {
      const agents = JSON.parse((await ok(alpha!, ['agents', '--json'])).stdout);
      expect(agents.agents.map((a: { name: string }) => a.name)).toEqual(['alpha', 'beta', 'gamma']);
      const r = await alpha!.ois(['send', 'beta', 'while NATS is down', '--json']);
      const report = JSON.parse(r.stdout);
      expect(report.deliveries[0]).toMatchObject({ to: 'beta', outcome: 'delivered', via: 'federated' });
      expect(report.deliveries[0].paths[0]).toMatchObject({
        via: 'nats',
        outcome: 'failed',
        code: 'OIS_ERR_NATS_UNREACHABLE',
      });
      expect(report.log.error.code).toBe('OIS_ERR_NATS_UNREACHABLE');
      await until('beta to get it', () => texts(beta!).some((t) => t.includes('while NATS is down')));
      // Nothing else is read from a copy: the chat log needs the servers.
      const chat = await alpha!.ois(['chat', '--json']);
      expect(JSON.parse(chat.stdout).error.code).toBe('OIS_ERR_NATS_UNREACHABLE');
      // A daemon that starts while NATS is down serves HTTP, and reads its inbox once NATS is back.
      daemon.child.kill('SIGTERM');
      await until('beta to stop', () => daemon.child.exitCode !== null);
      daemon = await serve(beta!, 0, { keepToken: true });
      expect(daemon.stderr()).toContain('could not publish');
    } finally {
      await servers.nodes[0]!.start();
    }
    const back = JSON.parse((await ok(alpha!, ['send', 'beta', 'NATS is back', '--json'])).stdout);
    expect(back.deliveries[0]).toMatchObject({ outcome: 'delivered', via: 'nats' });
    await until(
      'beta to take it from its inbox',
      () => texts(beta!).some((t) => t.includes('NATS is back')),
      20_000,
    );
  }, 60_000);
});

/**
 * The same commands on a three-node cluster with replicas 3: a node is lost (SIGKILL) in the middle of a
 * run of `ois send`, and every message reaches the peer's session once, in order, and is in the chat log.
 */
describeNats('NATS team - the commands on a three-node cluster that loses a node', () => {
  let cluster: NatsServers;
  let team: TestTeam;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    const hosts = cluster.servers.map((s) => s.replace('nats://', '')).join(',');
    team = await makeTeam(
      ['alpha', 'beta'],
      {},
      { OIS_NATS_REPLICAS: '3' },
      { team: `nats://${hosts}/${uniqueTeam('ha')}` },
    );
  }, 90_000);
  afterEach(() => stopDaemons());
  afterAll(async () => {
    await team?.close();
    await cluster?.stop();
  });

  it('NATS team - 20 sends, the leader of the inbox stream killed after 8: each arrives once, in order', async () => {
    const { alpha, beta } = team.agents;
    await serve(beta!, 0, { env: { OIS_NATS_REPLICAS: '3' } });
    const doctor = JSON.parse((await beta!.ois(['doctor', '--json', '--timeout', '2000'])).stdout);
    const streams = doctor.checks.find(
      (c: { name: string; status: string }) => c.name === 'team streams' && c.status === 'ok',
    );
    expect(streams.detail).toContain('(3 replicas');
    const sent: string[] = [];
    for (let n = 1; n <= 20; n++) {
      if (n === 9) await cluster.nodes[0]!.kill();
      const run = await alpha!.ois(['send', 'beta', `ha ${n}`, '--json']);
      expect(run.code, run.stdout).toBe(0);
      const r = JSON.parse(run.stdout);
      expect(r.deliveries[0].outcome).toBe('delivered');
      sent.push(`ha ${n}`);
    }
    const got = () =>
      beta!.sim
        .transcript('agent:main:main')
        .map((m) => /ha (\d+)/.exec(JSON.stringify(m.content))?.[0])
        .filter((x): x is string => x !== undefined);
    await until('beta to get all 20', () => got().length >= 20, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(got()).toEqual(sent);
    // Right after a node loss a read can wait for the cluster's new leaders: allow it, and say how long.
    const reading = Date.now();
    const read = await beta!.ois(['chat', '--json'], { timeoutMs: 60_000 });
    console.log(`NATS team on a cluster: ois chat after the node loss took ${Date.now() - reading} ms`);
    expect(read.code, read.stderr).toBe(0);
    const chat = JSON.parse(read.stdout);
    const logged = chat.entries
      .map((e: { body: string }) => e.body)
      .filter((b: string) => b.startsWith('ha '));
    expect(logged).toEqual(sent);
  }, 120_000);
});
