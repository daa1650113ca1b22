import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHeader } from '../src/federation/index.js';
import { freePort } from './helpers/cli.js';
import { type Daemon, serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, type TestAgent, type TestTeam } from './helpers/team.js';

let team: TestTeam | undefined;
afterEach(async () => {
  stopDaemons();
  await team?.close();
  team = undefined;
});

async function stop(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  if (d.child.exitCode === null) await new Promise((r) => d.child.on('close', r));
}

/** The bodies beta's session got, in order, once `n` have arrived (10 s at most). */
async function received(peer: TestAgent, n: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  while (peer.sim.transcript('agent:main:main').length < n && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  return peer.sim.transcript('agent:main:main').map((m) => parseHeader(m.content)?.body ?? '?');
}

describe('routing - queued messages follow the agent, not the URL', () => {
  it('routing - a peer whose daemon came back on another port, after an outage longer than its clock window, gets what was queued, once each, in order', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const first = await serve(beta!, await freePort());
    await serve(alpha!);
    await stop(first);
    for (const n of [1, 2, 3]) {
      const r = await alpha!.ois(['send', 'beta', '--json', `queued ${n}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).deliveries[0].outcome).toBe('queued');
    }
    // The outage outlasts beta's clock window (5 s here, 300 s by default): the copies signed when the
    // messages were queued would be refused as stale; each attempt signs afresh.
    await new Promise((r) => setTimeout(r, 5500));
    // Back on a port of its own choosing, published in AGENTS.md: alpha's outbox follows it.
    const skew = { env: { OIS_SERVE_SKEW_SECONDS: '5' } };
    let second = await serve(beta!, await freePort(), skew);
    while (second.port === first.port) {
      await stop(second);
      second = await serve(beta!, await freePort(), skew);
    }
    expect(await received(beta!, 3)).toEqual(['queued 1', 'queued 2', 'queued 3']);
    await new Promise((r) => setTimeout(r, 500));
    expect(beta!.sim.transcript('agent:main:main')).toHaveLength(3);
  });

  it('routing - without a local daemon, a send first sends what waits for that peer, in order', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await alpha!.ois(['secrets', 'rm', 'beta']);
    await stop(await serve(beta!));
    const queued = await alpha!.ois(['send', 'beta', 'one']);
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stdout).toMatch(
      /^queued for beta .*it waits in the outbox until ois serve runs or you send to it again/,
    );
    expect(queued.stderr).toContain('nothing goes out of the outbox while this instance runs no daemon');
    await serve(beta!);
    // alpha runs no daemon: this send takes "one" along first.
    const r = await alpha!.ois(['send', 'beta', '--json', 'two']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deliveries[0]).toMatchObject({
      outcome: 'delivered',
      via: 'federated',
      note: 'sent after 1 earlier queued message(s)',
    });
    expect(await received(beta!, 2)).toEqual(['one', 'two']);
    expect(JSON.parse((await alpha!.ois(['outbox', 'ls', '--json'])).stdout).messages).toEqual([]);
    const entries = JSON.parse((await alpha!.ois(['chat', '--json'])).stdout).entries as { kind: string }[];
    expect(entries.filter((e) => e.kind === 'receipt')).toHaveLength(1);
  });

  it('routing - ois outbox retry without a daemon sends the message now', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await alpha!.ois(['secrets', 'rm', 'beta']);
    await stop(await serve(beta!));
    const id = `${JSON.parse((await alpha!.ois(['send', 'beta', '--json', 'later'])).stdout).id}.beta`;
    const stillDown = await alpha!.ois(['outbox', 'retry', id]);
    expect(stillDown.code).toBe(4);
    expect(stillDown.stdout).toContain(`${id} to beta is still queued`);
    await serve(beta!);
    const r = await alpha!.ois(['outbox', 'retry', id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`delivered ${id} to beta`);
    expect(await received(beta!, 1)).toEqual(['later']);
  });
});

describe('routing - the report tells what a send did', () => {
  it('routing - a dead daemon URL costs one short try; the report names every path and the whole time', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    // beta published a daemon that is gone; alpha still holds beta's gateway token.
    await stop(await serve(beta!));
    const r = await alpha!.ois(['send', 'beta', '--json', 'via the gateway']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout).deliveries[0];
    expect(d).toMatchObject({ outcome: 'delivered', via: 'direct' });
    expect(d.paths).toMatchObject([
      { via: 'federated', outcome: 'failed', code: 'OIS_ERR_PEER_UNREACHABLE' },
      { via: 'direct', outcome: 'delivered', note: 'its daemon cannot be reached: straight to its gateway' },
    ]);
    // One refused connect, no backoff (p-retry's first wait alone is 500 ms).
    expect(d.paths[0].seconds).toBeLessThan(0.4);
    expect(d.seconds).toBeGreaterThanOrEqual(d.paths[0].seconds + d.paths[1].seconds - 0.002);
    const text = await alpha!.ois(['send', 'beta', 'again']);
    expect(text.stdout).toMatch(/^delivered to beta in \d+\.\d\d s via direct/);
    expect(text.stdout).toMatch(/\n {2}federated http:\/\/127\.0\.0\.1:\d+: OIS_ERR_PEER_UNREACHABLE in /);
    expect(text.stdout).toMatch(/\n {2}direct http:\/\/127\.0\.0\.1:\d+: delivered in /);
  });

  it('routing - a refused delivery with an unwritable chat log never says "delivered"', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha } = team.agents;
    await alpha!.ois(['secrets', 'set', 'beta', '--token-stdin'], { input: 'not-the-token' });
    // A file where the chat folder should be: the log cannot be written, even by root.
    await rm(join(team.dir, 'chat'), { recursive: true, force: true });
    await writeFile(join(team.dir, 'chat'), 'not a folder');
    const r = await alpha!.ois(['send', 'beta', 'hello']);
    expect(r.stdout).toMatch(/^failed to deliver to beta/);
    expect(r.stderr).toMatch(/the chat log was not written/);
    expect(r.stderr).not.toContain('delivered');
    // With --json the one document says both, and stderr stays free of errors.
    const json = await alpha!.ois(['send', 'beta', '--json', 'hello']);
    const out = JSON.parse(json.stdout);
    expect(out).toMatchObject({
      ok: false,
      deliveries: [{ outcome: 'failed' }],
      log: { error: { code: expect.any(String) } },
    });
    expect(json.stderr).not.toMatch(/^error /m);
    await rm(join(team.dir, 'chat'));
    await mkdir(join(team.dir, 'chat'));
  });
});

describe('routing - the daemon and its own gateway', () => {
  it('routing - ois serve without a token for its own gateway does not start, and says how to fix it', async () => {
    team = await makeTeam(['alpha']);
    const r = await team.agents.alpha!.ois(['serve'], { env: { OIS_SERVE_PORT: '0' }, timeoutMs: 10_000 });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error OIS_ERR_TOKEN_MISSING: no token for this instance's own gateway");
    expect(r.stderr).toContain('OPENCLAW_GATEWAY_TOKEN');
  });

  it("routing - the daemon finds its token in OPENCLAW_GATEWAY_TOKEN or the local profile's openclaw.json", async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    const fromEnv = await serve(beta!, 0, { keepToken: true, env: { OPENCLAW_GATEWAY_TOKEN: beta!.token } });
    expect(fromEnv.stdout()).toContain('token from OPENCLAW_GATEWAY_TOKEN');
    expect(fromEnv.stdout() + fromEnv.stderr()).not.toContain(beta!.token);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    expect((await alpha!.ois(['send', 'beta', 'hi'])).code).toBe(0);
    expect(await received(beta!, 1)).toEqual(['hi']);
    await stop(fromEnv);

    const openclawHome = join(alpha!.home, 'oc');
    await mkdir(join(openclawHome, '.openclaw-work'), { recursive: true });
    await writeFile(
      join(openclawHome, '.openclaw-work', 'openclaw.json'),
      JSON.stringify({ gateway: { auth: { mode: 'token', token: beta!.token } } }),
    );
    const fromFile = await serve(beta!, 0, {
      keepToken: true,
      args: ['--profile', 'work'],
      env: { OPENCLAW_HOME: openclawHome },
    });
    expect(fromFile.stdout()).toContain(
      `token from ${join(openclawHome, '.openclaw-work', 'openclaw.json')} (gateway.auth.token)`,
    );
    expect(fromFile.stdout() + fromFile.stderr()).not.toContain(beta!.token);
  });

  it('routing - ois serve --port listens there; a taken port is said plainly, not only in a log line', async () => {
    team = await makeTeam(['alpha']);
    const port = await freePort();
    const d = await serve(team.agents.alpha!, 0, { args: ['--port', String(port)] });
    expect(d.port).toBe(port);
    await stop(d);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const moved = await serve(team.agents.alpha!, 0, { args: ['--port', String(port), '--quiet'] });
      expect(moved.port).not.toBe(port);
      expect(moved.stderr()).toContain(`warning: port ${port} is taken: serving on ${moved.port} instead`);
    } finally {
      blocker.close();
    }
    const bad = await team.agents.alpha!.ois(['serve', '--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error OIS_ERR_USAGE: --port eighty is not a port number');
  });
});
