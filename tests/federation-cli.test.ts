import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHeader } from '../src/federation/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, type TestTeam } from './helpers/team.js';

let team: TestTeam | undefined;
const servers: Server[] = [];
afterEach(async () => {
  stopDaemons();
  for (const s of servers.splice(0)) s.close();
  await team?.close();
  team = undefined;
});

async function registryOf(t: TestTeam) {
  return parseRegistry(await readFile(join(t.dir, 'AGENTS.md'), 'utf8'));
}

describe('federation - daemons on loopback', () => {
  it('federation - a body over an envelope’s limit goes to the peer’s gateway when there is a token, else is refused', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await serve(beta!);
    const big = 'x'.repeat(1_950_000);
    const r = await alpha!.ois(['send', 'beta', '-', '--json'], { input: big });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deliveries).toMatchObject([
      { to: 'beta', outcome: 'delivered', via: 'direct' },
    ]);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const refused = await alpha!.ois(['send', 'beta', '-'], { input: big });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('OIS_ERR_MESSAGE_TOO_LARGE');
  }, 30_000);

  it('federation - a peer with a daemon gets signed messages: no gateway token handed around', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await serve(beta!);
    // alpha holds no token for beta at all.
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const r = await alpha!.ois(['send', 'beta', '--json', 'signed hello']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries).toMatchObject([{ to: 'beta', outcome: 'delivered', via: 'federated' }]);
    expect(parseHeader(beta!.sim.transcript('agent:main:main')[0]!.content)).toMatchObject({
      from: 'alpha',
      id: out.id,
      body: 'signed hello',
    });
    const entries = JSON.parse((await beta!.ois(['chat', '--json'])).stdout).entries;
    expect(entries).toMatchObject([
      { id: out.id, from: 'alpha', to: ['beta'], deliveries: [{ outcome: 'delivered' }] },
    ]);
  });

  it('federation - --all through three daemons', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const { alpha, beta, gamma } = team.agents;
    await Promise.all([serve(beta!), serve(gamma!)]);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    await alpha!.ois(['secrets', 'rm', 'gamma']);
    const r = await alpha!.ois(['send', '--all', '--json', 'hello all']);
    expect(r.code, r.stderr).toBe(0);
    const vias = JSON.parse(r.stdout)
      .deliveries.map((d: { to: string; via: string }) => `${d.to}:${d.via}`)
      .sort();
    expect(vias).toEqual(['beta:federated', 'gamma:federated']);
    for (const p of [beta!, gamma!]) expect(p.sim.transcript('agent:main:main')).toHaveLength(1);
  });

  it('federation - a second daemon on the same home refuses and names the first', async () => {
    team = await makeTeam(['alpha']);
    const first = await serve(team.agents.alpha!);
    const second = await team.agents.alpha!.ois(['serve'], {
      env: { OIS_SERVE_PORT: '0' },
      timeoutMs: 10_000,
    });
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(
      `error OIS_ERR_DAEMON_RUNNING: a daemon already serves ${team.agents.alpha!.home}: pid ${first.child.pid}`,
    );
  });

  it('federation - a taken port: the daemon takes a free one and publishes it in AGENTS.md', async () => {
    team = await makeTeam(['alpha']);
    const blocker = createServer();
    servers.push(blocker);
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    const d = await serve(team.agents.alpha!, taken);
    expect(d.port).not.toBe(taken);
    const alpha = (await registryOf(team)).agents.find((a) => a.name === 'alpha')!;
    expect((alpha.extra.federation as { url: string }).url).toBe(`http://127.0.0.1:${d.port}`);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
  });

  it('federation - SIGTERM stops the daemon gracefully, exit 0, and removes its state', async () => {
    team = await makeTeam(['alpha']);
    const d = await serve(team.agents.alpha!);
    d.child.kill('SIGTERM');
    const code = await new Promise((r) => d.child.on('close', r));
    // SIGTERM is how a service is stopped: a clean stop is a success.
    expect(code).toBe(0);
    await expect(readFile(join(team.agents.alpha!.home, 'daemon.json'))).rejects.toThrow();
  });

  it('federation - two instances on one host never share a port, key or state', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const [a, b] = await Promise.all([serve(team.agents.alpha!), serve(team.agents.beta!)]);
    expect(a.port).not.toBe(b.port);
    const registry = await registryOf(team);
    const keys = registry.agents.map((x) => (x.extra.federation as { publicKey: string }).publicKey);
    expect(new Set(keys).size).toBe(2);
    expect(team.agents.alpha!.home).not.toBe(team.agents.beta!.home);
  });

  it('federation - presence: ois agents shows a peer online, then offline with when it was last seen', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const { alpha, beta } = team.agents;
    await serve(beta!);
    await serve(alpha!);
    const presence = async () => {
      const r = await alpha!.ois(['agents', '--json']);
      return Object.fromEntries(
        JSON.parse(r.stdout).agents.map(
          (a: { name: string; presence: { status: string } | null; delivery: string }) => [
            a.name,
            `${a.presence?.status ?? 'none'}/${a.delivery}`,
          ],
        ),
      );
    };
    const until = async (want: Record<string, string>) => {
      const deadline = Date.now() + 8000;
      let last: Record<string, string> = {};
      while (Date.now() < deadline) {
        last = await presence();
        if (Object.entries(want).every(([k, v]) => last[k] === v)) return last;
        await new Promise((r) => setTimeout(r, 150));
      }
      return last;
    };
    expect(await until({ beta: 'up/federated', gamma: 'up/direct' })).toMatchObject({
      beta: 'up/federated',
      gamma: 'up/direct',
    });
    await team.agents.gamma!.sim.close();
    expect(await until({ gamma: 'down/direct' })).toMatchObject({ gamma: 'down/direct' });
    const table = await alpha!.ois(['agents']);
    expect(table.stdout).toMatch(/ gamma +member +active +offline \(seen \d+s ago\) +direct/);
    expect(table.stdout).toMatch(/ beta +member +active +online +federated/);
  });

  it('federation - a peer down: messages are durably queued, then delivered once each, in order, when it is back', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    await new Promise((r) => blocker.close(r));
    const betaDaemon = await serve(beta!, port);
    await serve(alpha!);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    betaDaemon.child.kill('SIGTERM');
    await new Promise((r) => betaDaemon.child.on('close', r));

    const sent: string[] = [];
    for (const n of [1, 2, 3]) {
      const r = await alpha!.ois(['send', 'beta', '--json', `queued ${n}`]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.deliveries[0].outcome).toBe('queued');
      sent.push(out.id);
    }
    const ls = JSON.parse((await alpha!.ois(['outbox', 'ls', '--json'])).stdout);
    expect(JSON.stringify(ls)).toContain(sent[0]);
    expect(beta!.sim.transcript('agent:main:main')).toEqual([]);

    await serve(beta!, port);
    const deadline = Date.now() + 10_000;
    while (beta!.sim.transcript('agent:main:main').length < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const got = beta!.sim.transcript('agent:main:main').map((m) => parseHeader(m.content));
    expect(got.map((h) => h?.body)).toEqual(['queued 1', 'queued 2', 'queued 3']);
    expect(got.map((h) => h?.id)).toEqual(sent);
    // The log said 'queued'; the daemon adds a receipt for each when it is delivered.
    const deadline2 = Date.now() + 5000;
    let receipts: { replyTo: string; to: string[] }[] = [];
    while (receipts.length < 3 && Date.now() < deadline2) {
      const entries = JSON.parse((await alpha!.ois(['chat', '--json'])).stdout).entries as {
        kind: string;
        replyTo: string;
        to: string[];
      }[];
      receipts = entries.filter((e) => e.kind === 'receipt');
      if (receipts.length < 3) await new Promise((r) => setTimeout(r, 100));
    }
    expect(receipts.map((r) => r.replyTo)).toEqual(sent);
    expect(receipts.every((r) => r.to[0] === 'beta')).toBe(true);
  });

  it('federation - --no-queue fails at once when the peer is down', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    const d = await serve(beta!);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    d.child.kill('SIGTERM');
    await new Promise((r) => d.child.on('close', r));
    const r = await alpha!.ois(['send', 'beta', '--no-queue', 'now or never']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('error OIS_ERR_PEER_UNREACHABLE');
    expect(JSON.parse((await alpha!.ois(['outbox', 'ls', '--json'])).stdout)).not.toContain('now or never');
  });

  it('federation - kill -9 of the receiving daemon mid-delivery: after restart nothing is lost or doubled', async () => {
    let onDeliver: (() => void) | null = null;
    team = await makeTeam(['alpha', 'beta'], { onMessage: () => onDeliver?.() });
    const { alpha, beta } = team.agents;
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise((r) => free.close(r));
    const first = await serve(beta!, port);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const died = new Promise((res) => first.child.on('close', res));
    // The message reaches beta's gateway, and beta's daemon dies before it can acknowledge or record it.
    onDeliver = () => {
      onDeliver = null;
      first.child.kill('SIGKILL');
    };
    const r = await alpha!.ois(['send', 'beta', '--json', 'exactly once']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries[0].outcome).toBe('queued');
    await died;
    expect(beta!.sim.transcript('agent:main:main')).toHaveLength(1);

    // Restart: the daemon finds the message in its session and settles the id; alpha's daemon then sends the
    // queued copy, which is acknowledged as a duplicate.
    await serve(beta!, port);
    await serve(alpha!);
    const deadline = Date.now() + 10_000;
    let left = 1;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      left = JSON.parse((await alpha!.ois(['outbox', 'ls', '--json'])).stdout).messages?.length ?? 0;
    }
    expect(left).toBe(0);
    const ids = beta!.sim.transcript('agent:main:main').map((m) => parseHeader(m.content)?.id);
    expect(ids).toEqual([out.id]);
  });

  it('federation - ois serve serves the viewer on loopback: page with a CSP, and the API', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const d = await serve(team.agents.alpha!);
    const page = await fetch(`${d.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<html');
    const agents = await (await fetch(`${d.url}/api/agents`)).json();
    expect(JSON.stringify(agents)).toContain('beta');
  });
});
