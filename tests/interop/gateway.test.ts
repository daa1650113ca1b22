import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeader } from '../../src/federation/index.js';
import { type RunResult, runOis, tempDir } from '../helpers/cli.js';
import { serve, stopDaemons } from '../helpers/daemon.js';
import { gatewayContract } from '../helpers/gateway-contract.js';
import type { TestAgent } from '../helpers/team.js';
import { type CountingProxy, startCountingProxy } from './helpers/counting-proxy.js';
import { openclawInstall, type RealGateway, startGateway, stopAllGateways } from './helpers/gateway.js';
import { type ModelServer, startModelServer } from './helpers/model-server.js';
import { contentText, findInSession, sessionHistory, todaysChat } from './helpers/session.js';

/**
 * The interop suite: `ois` against real openclaw gateways (version in OIS_OPENCLAW_VERSION, installed by
 * scripts/interop.sh), each in its own OPENCLAW_HOME on loopback, with a local OpenAI-compatible model
 * server as their provider.
 */

const REPLY = 'interop reply from beta: all green';
let dir: string;
let team: string;
let model: ModelServer;
let gw: Record<'alpha' | 'beta' | 'gamma', RealGateway>;
let proxy: CountingProxy;

function ois(name: string, args: string[], input?: string): Promise<RunResult> {
  return runOis(['--home', join(dir, `home-${name}`), ...args], {
    env: { OIS_SEND_RETRIES: '2', HOME: dir },
    ...(input === undefined ? {} : { input }),
    timeoutMs: 100_000,
  });
}

const history = sessionHistory;
const chatEntries = () => todaysChat(team);

async function setToken(from: string, peer: string, token: string): Promise<void> {
  const r = await ois(from, ['secrets', 'set', peer, '--token-stdin'], token);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  dir = await tempDir('ois-interop-');
  team = join(dir, 'team');
  // The model answers each message that asks for a reply, once; every other turn (the gateway's reply-back
  // exchange, announces) is skipped, as an assistant with nothing to add would.
  model = await startModelServer((_last, all) => {
    const texts = all.map((m) => ({ role: m.role, text: contentText(m.content) }));
    const asked = texts.filter(
      (m) => m.role === 'user' && m.text.includes('[OIS ') && m.text.includes('please reply'),
    ).length;
    const answered = texts.filter((m) => m.role === 'assistant' && m.text.includes(REPLY)).length;
    return answered < asked ? REPLY : 'REPLY_SKIP';
  });
  const base = 20_000 + Math.floor(Math.random() * 200) * 100;
  const [alpha, beta, gamma] = await Promise.all([
    startGateway({ name: 'alpha', port: base, dir, allowSessionsSend: true, modelUrl: model.url }),
    startGateway({ name: 'beta', port: base + 150, dir, allowSessionsSend: true, modelUrl: model.url }),
    startGateway({ name: 'gamma', port: base + 300, dir, allowSessionsSend: false, modelUrl: model.url }),
  ]);
  gw = { alpha: alpha!, beta: beta!, gamma: gamma! };
  proxy = await startCountingProxy({ host: '127.0.0.1', port: gw.beta.port });
  for (const name of ['alpha', 'beta', 'gamma'] as const) {
    // beta is published behind the counting proxy, so tests can count the requests ois makes.
    const url = name === 'beta' ? proxy.url : gw[name].url;
    const init = await ois(name, ['init', '--name', name, '--team', team, '--gateway', url]);
    expect(init.code, init.stderr).toBe(0);
    expect((await ois(name, ['join'])).code).toBe(0);
  }
  for (const from of ['alpha', 'beta', 'gamma'] as const) {
    for (const to of ['alpha', 'beta', 'gamma'] as const)
      if (from !== to) await setToken(from, to, gw[to].token);
  }
  // alpha founded the team; beta asks again now that it can reach alpha (its first request, before the
  // tokens, is only in the chat log), then alpha approves both: the notices go into the real sessions.
  expect((await ois('beta', ['join', '--withdraw'])).code).toBe(0);
  const request = await ois('beta', ['join']);
  expect(request.stdout, request.stderr).toContain('notice join_request → alpha delivered');
  for (const name of ['beta', 'gamma']) {
    const approve = await ois('alpha', ['members', 'approve', name]);
    expect(approve.code, approve.stderr).toBe(0);
  }
}, 240_000);

afterAll(async () => {
  if (process.env.OIS_INTEROP_DUMP) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(process.env.OIS_INTEROP_DUMP, JSON.stringify(model?.requests ?? [], null, 2));
  }
  await proxy?.close();
  await stopAllGateways();
  await model?.close();
});

// The same contract the simulator passes (tests/simulator.test.ts), against the real gateways. First, while
// every gateway still runs (a later scenario stops gamma).
gatewayContract(`real openclaw ${process.env.OIS_OPENCLAW_VERSION ?? ''}`.trim(), () => ({
  allowed: { url: gw.alpha.url, token: gw.alpha.token },
  denied: { url: gw.gamma.url, token: gw.gamma.token },
}));

describe(`interop - ois against real openclaw ${process.env.OIS_OPENCLAW_VERSION ?? ''} gateways`, () => {
  it('interop membership) the join request and the approval are in the real sessions, signed by who made them', async () => {
    const find = (g: RealGateway, text: string) => findInSession(g, (t) => t.includes(text), 120);
    const request = await find(gw.alpha, 'beta asks to join the team');
    expect(request).toBeDefined();
    expect(parseHeader(request!.slice(request!.indexOf('[OIS ')))).toMatchObject({
      from: 'beta',
      to: 'alpha',
    });
    expect(await find(gw.beta, 'alpha approved beta: beta is now a member of the team.')).toBeDefined();
    const { entries } = await chatEntries();
    const approved = entries.find(
      (e) => e.kind === 'notice' && e.notice?.type === 'approved' && e.notice.subject === 'beta',
    );
    expect(approved?.deliveries).toEqual([expect.objectContaining({ to: 'beta', outcome: 'delivered' })]);
    // gamma's gateway does not allow sessions_send: its approval notice says so, it is not lost silently.
    const gammaApproved = entries.find(
      (e) => e.kind === 'notice' && e.notice?.type === 'approved' && e.notice.subject === 'gamma',
    );
    expect(gammaApproved?.deliveries.find((d) => d.to === 'gamma')?.outcome).toMatch(/failed|queued/);
  });

  it('interop a) a send lands in the peer session with the sender header, and is logged', async () => {
    const r = await ois('alpha', ['send', 'beta', '--json', 'Interop hello from alpha']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries).toMatchObject([{ to: 'beta', outcome: 'delivered' }]);
    // The message is in beta's own transcript, read back through its gateway.
    let found: { from: string; to: string; id: string; body: string } | null = null;
    for (let i = 0; i < 40 && !found; i++) {
      for (const m of await history(gw.beta)) {
        const text = contentText(m.content);
        const at = text.indexOf('[OIS alpha');
        const h = at >= 0 ? parseHeader(text.slice(at)) : null;
        if (h?.id === out.id) found = h;
      }
      if (!found) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toMatchObject({ from: 'alpha', to: 'beta', id: out.id });
    expect(found!.body).toContain('Interop hello from alpha');
    const { entries } = await chatEntries();
    expect(entries.find((e) => e.id === out.id)).toMatchObject({
      from: 'alpha',
      to: ['beta'],
      deliveries: [{ outcome: 'delivered' }],
    });
  });

  it("interop b) send --wait returns the peer's reply", async () => {
    const r = await ois('alpha', ['send', 'beta', '--wait', '60', '--json', 'Status? please reply']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries).toMatchObject([{ to: 'beta', outcome: 'replied', reply: REPLY }]);
    const { entries } = await chatEntries();
    expect(entries.find((e) => e.kind === 'reply' && e.replyTo === out.id)).toMatchObject({
      from: 'beta',
      body: REPLY,
    });
  });

  it("interop b2) send --wait to a peer's daemon, without its token: the real model's reply comes back signed", async () => {
    const beta = {
      name: 'beta',
      home: join(dir, 'home-beta'),
      token: gw.beta.token,
      ois: (args: string[], options?: { input?: string }) => ois('beta', args, options?.input),
    };
    await serve(beta as unknown as TestAgent, 0, { env: { HOME: dir } });
    try {
      expect((await ois('alpha', ['secrets', 'rm', 'beta'])).code).toBe(0);
      const r = await ois('alpha', [
        'send',
        'beta',
        '--wait',
        '60',
        '--json',
        'Federated status? please reply',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.deliveries).toMatchObject([
        { to: 'beta', outcome: 'replied', via: 'federated', reply: REPLY },
      ]);
    } finally {
      stopDaemons();
      await setToken('alpha', 'beta', gw.beta.token);
    }
  });

  it("interop skills) a team skill installed into a gateway's workspace is seen by that OpenClaw", async () => {
    const skill = join(dir, 'skill-src', 'team-hello');
    await mkdir(skill, { recursive: true });
    await writeFile(
      join(skill, 'SKILL.md'),
      '---\nname: team-hello\ndescription: Greets the team the OIS way.\n---\n\nSay hello with `ois send --all`.\n',
    );
    expect((await ois('alpha', ['skills', 'publish', skill])).code).toBe(0);
    // beta installs it into its gateway's workspace (the default: <OPENCLAW_HOME>/.openclaw/workspace).
    const workspace = join(gw.beta.home, '.openclaw', 'workspace');
    const inst = await ois('beta', ['skills', 'install', 'team-hello', '--workspace', workspace]);
    expect(inst.code, inst.stderr).toBe(0);
    // And the OIS skill, for a gateway without the plugin.
    expect((await ois('beta', ['skill', 'install', '--workspace', workspace])).code).toBe(0);
    const { node, entry } = openclawInstall();
    const listed = await new Promise<string>((resolve, reject) => {
      execFile(
        node,
        [entry, 'skills', 'list', '--json'],
        {
          env: {
            PATH: process.env.PATH,
            HOME: gw.beta.home,
            OPENCLAW_HOME: gw.beta.home,
            OPENCLAW_OFFLINE: '1',
            OPENCLAW_NO_AUTO_UPDATE: '1',
            NO_COLOR: '1',
          },
          timeout: 90_000,
          maxBuffer: 16 * 1024 * 1024,
        },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const skills = (JSON.parse(listed) as { skills: { name: string; source: string; eligible: boolean }[] })
      .skills;
    expect(skills.find((s) => s.name === 'team-hello')).toMatchObject({
      source: 'openclaw-workspace',
      eligible: true,
    });
  }, 120_000);

  it('interop c) a gateway without gateway.tools.allow gives the 404 outcome with the fix', async () => {
    const r = await ois('alpha', ['send', 'gamma', 'hello gamma']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('error OIS_ERR_PEER_TOOL_DENIED');
    expect(r.stderr).toContain('"gateway": {"tools": {"allow": ["sessions_send"]}}');
  });

  it('interop d) a wrong token gives the 401 outcome after exactly one request', async () => {
    await setToken('gamma', 'beta', 'not-the-token-0123456789abcdef');
    proxy.reset();
    const r = await ois('gamma', ['send', 'beta', 'hello with a wrong token']);
    await setToken('gamma', 'beta', gw.beta.token);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('error OIS_ERR_PEER_AUTH');
    expect(r.stderr).not.toContain('not-the-token');
    expect(proxy.requests()).toBe(1);
  });

  it('interop f) --all sends to two gateways at once', async () => {
    const r = await ois('gamma', ['send', '--all', '--json', 'all hands from gamma']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries.map((d: { to: string; outcome: string }) => `${d.to}:${d.outcome}`).sort()).toEqual(
      ['alpha:delivered', 'beta:delivered'],
    );
  });

  it('interop g) 1.9 MiB is delivered; over the 2 MiB limit is refused before sending', async () => {
    const big = `big payload ${'x'.repeat(Math.floor(1.9 * 1024 * 1024))}`;
    proxy.reset();
    const ok = await ois('alpha', ['send', 'beta', '-'], big);
    expect(ok.code, ok.stderr).toBe(0);
    expect(proxy.requests()).toBe(1);
    proxy.reset();
    const tooBig = await ois('alpha', ['send', 'beta', '-'], 'y'.repeat(2 * 1024 * 1024));
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toContain('error OIS_ERR_MESSAGE_TOO_LARGE');
    expect(proxy.requests()).toBe(0);
  });

  it('interop doctor) passes for a healthy peer without delivering anything', async () => {
    // Earlier sends make beta's assistant run in the background; wait until its transcript is still.
    const userMessages = async () => (await history(gw.beta)).filter((m) => m.role === 'user').length;
    let before = await userMessages();
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await userMessages();
      if (now === before) break;
      before = now;
    }
    const r = await ois('alpha', ['doctor', 'beta', '--json']);
    const checks = JSON.parse(r.stdout).checks as {
      subject: string;
      name: string;
      status: string;
      detail: string;
    }[];
    const beta = Object.fromEntries(
      checks.filter((c) => c.subject === 'beta').map((c) => [c.name, c.status]),
    );
    expect(beta).toEqual({
      address: 'ok',
      'gateway up': 'ok',
      'gateway started': 'ok',
      'token accepted': 'ok',
      'sessions_send allowed': 'ok',
      'session key': 'ok',
      clock: 'ok',
    });
    expect(checks.find((c) => c.subject === 'beta' && c.name === 'gateway started')?.detail).toBe(
      `openclaw ${process.env.OIS_OPENCLAW_VERSION}`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await userMessages()).toBe(before);
  });

  it('interop doctor) tells apart tool not allowed, wrong token and unknown session key', async () => {
    const status = async (from: string, peer: string) => {
      const r = await ois(from, ['doctor', peer, '--json']);
      const checks = JSON.parse(r.stdout).checks as {
        subject: string;
        name: string;
        status: string;
        code?: string;
      }[];
      return {
        code: r.code,
        failed: checks
          .filter((c) => c.subject === peer && c.status === 'fail')
          .map((c) => `${c.name}:${c.code}`),
      };
    };
    expect(await status('alpha', 'gamma')).toEqual({
      code: 5,
      failed: ['sessions_send allowed:OIS_ERR_PEER_TOOL_DENIED'],
    });

    await setToken('gamma', 'beta', 'not-the-token-0123456789abcdef');
    proxy.reset();
    const wrong = await status('gamma', 'beta');
    await setToken('gamma', 'beta', gw.beta.token);
    expect(wrong).toEqual({ code: 5, failed: ['token accepted:OIS_ERR_PEER_AUTH'] });
    expect(proxy.requests()).toBe(3); // /health, /startupz and one authenticated call

    // delta: an agent on beta's gateway whose session key does not exist there.
    const init = await ois('delta', [
      'init',
      '--name',
      'delta',
      '--team',
      team,
      '--gateway',
      gw.beta.url,
      '--session-key',
      'agent:main:nowhere',
    ]);
    expect(init.code, init.stderr).toBe(0);
    expect((await ois('delta', ['join'])).code).toBe(0);
    await setToken('alpha', 'delta', gw.beta.token);
    expect((await ois('alpha', ['members', 'approve', 'delta'])).code).toBe(0);
    expect(await status('alpha', 'delta')).toEqual({
      code: 5,
      failed: ['session key:OIS_ERR_PEER_SESSION_UNKNOWN'],
    });
  });

  it('interop e) a stopped gateway: retries, then unreachable; the log entry is whole', async () => {
    await gw.gamma.stop();
    const before = (await chatEntries()).entries.length;
    const r = await ois('alpha', ['send', 'gamma', '--no-queue', '--json', 'anyone home?']);
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries[0]).toMatchObject({
      outcome: 'failed',
      error: { code: 'OIS_ERR_PEER_UNREACHABLE' },
    });
    const { entries, problems } = await chatEntries();
    expect(problems).toEqual([]);
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({ id: out.id, deliveries: [{ outcome: 'failed' }] });
    expect(entries.at(-1)!.torn).toBeUndefined();
    const doc = await ois('alpha', ['doctor', 'gamma', '--json']);
    expect(doc.code).toBe(4);
    const down = JSON.parse(doc.stdout).checks.find(
      (c: { subject: string; name: string }) => c.subject === 'gamma' && c.name === 'gateway up',
    );
    expect(down).toMatchObject({ status: 'fail', code: 'OIS_ERR_PEER_UNREACHABLE' });
  });
});
