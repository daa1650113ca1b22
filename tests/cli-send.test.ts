import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHeader } from '../src/federation/index.js';
import { freePort, OIS_BIN } from './helpers/cli.js';
import { makeTeam, type TestTeam } from './helpers/team.js';

let team: TestTeam | undefined;
afterEach(async () => {
  await team?.close();
  team = undefined;
});

async function allFiles(dir: string): Promise<string> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
  }
  return out.join('\n');
}

describe('send - direct delivery through the ois command', () => {
  it('send - a message lands in the peer session with the sender header and is logged', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    const r = await alpha!.ois(['send', 'beta', 'Please review shared/plan.md']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^delivered to beta in \d+\.\d\d s via direct \(id [0-9A-Z]{26}\)\n$/);

    const [message] = beta!.sim.transcript('agent:main:main');
    const header = parseHeader(message!.content);
    expect(header).toMatchObject({ from: 'alpha', to: 'beta', body: 'Please review shared/plan.md' });
    const body = beta!.sim.requests.at(-1)!.body as { tool: string; args: Record<string, unknown> };
    expect(body).toEqual({
      tool: 'sessions_send',
      args: { sessionKey: 'agent:main:main', message: message!.content, timeoutSeconds: 0 },
    });

    const chat = await team.chatText();
    expect(chat).toContain('## ');
    expect(chat).toContain(`"id":"${header!.id}"`);
    expect(chat).toContain('"outcome":"delivered"');
    const log = await beta!.ois(['chat', '--json']);
    expect(JSON.parse(log.stdout).entries).toMatchObject([
      { from: 'alpha', to: ['beta'], body: 'Please review shared/plan.md' },
    ]);
    // No token anywhere in the team folder, the outputs or the chat log.
    const everything = (await allFiles(team.dir)) + r.stdout + r.stderr + log.stdout;
    for (const a of [alpha!, beta!]) expect(everything).not.toContain(a.token);
  });

  it('send - both instances send by name and ois chat shows both directions', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    expect((await alpha!.ois(['send', 'BETA', 'ping from alpha'])).code).toBe(0);
    expect((await beta!.ois(['send', 'alpha', '-'], { input: 'pong from beta\n' })).code).toBe(0);
    const chat = await alpha!.ois(['chat']);
    expect(chat.stdout).toMatch(/alpha → beta {2}\[delivered \d+\.\d\d s\]\n {4}ping from alpha/);
    expect(chat.stdout).toMatch(/beta → alpha {2}\[delivered \d+\.\d\d s\]\n {4}pong from beta\n/);
    expect(alpha!.sim.transcript('agent:main:main')[0]!.content.endsWith('\npong from beta')).toBe(true);
  });

  it('send - --wait prints the reply and logs it as a reply entry', async () => {
    team = await makeTeam(['alpha', 'beta'], { reply: (m) => `beta says: got ${m.split('\n')[1]}` });
    const r = await team.agents.alpha!.ois(['send', 'beta', '--wait', '5', 'status?']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^beta replied in .* s \(id [0-9A-Z]{26}\):\nbeta says: got status\?\n$/);
    const req = team.agents.beta!.sim.requests.at(-1)!.body as Record<string, unknown>;
    expect(req).toMatchObject({ sessionKey: 'agent:main:ois', args: { timeoutSeconds: 5 } });
    const log = JSON.parse((await team.agents.alpha!.ois(['chat', '--json'])).stdout).entries;
    expect(log).toMatchObject([
      { kind: 'message', from: 'alpha', deliveries: [{ outcome: 'replied' }] },
      { kind: 'reply', from: 'beta', to: ['alpha'], replyTo: log[0].id, body: 'beta says: got status?' },
    ]);
  });

  it('send - --wait with no reply in time says timeout', async () => {
    team = await makeTeam(['alpha', 'beta'], { replyDelayMs: 3000 });
    const r = await team.agents.alpha!.ois(['send', 'beta', '--wait', '1', 'slow?']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('timeout: no reply within the wait');
  });

  it('send - --all delivers to every other active agent concurrently', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const r = await team.agents.alpha!.ois(['send', '--all', '--json', 'all hands']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries.map((d: { to: string; outcome: string }) => [d.to, d.outcome]).sort()).toEqual([
      ['beta', 'delivered'],
      ['gamma', 'delivered'],
    ]);
    for (const peer of ['beta', 'gamma']) {
      expect(parseHeader(team.agents[peer]!.sim.transcript('agent:main:main')[0]!.content)).toMatchObject({
        id: out.id,
        body: 'all hands',
      });
    }
    expect(team.agents.alpha!.sim.requests).toHaveLength(0);
    const entries = JSON.parse((await team.agents.gamma!.ois(['chat', '--json'])).stdout).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0].to.sort()).toEqual(['beta', 'gamma']);
  });

  it('send - a rejected token fails with exit 5 after exactly one request, and is logged as failed', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    await alpha!.ois(['secrets', 'set', 'beta', '--token-env', 'T'], { env: { T: 'wrong-token-0000' } });
    const r = await alpha!.ois(['send', 'beta', 'hello']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('error OIS_ERR_PEER_AUTH');
    expect(r.stderr).not.toContain('wrong-token-0000');
    expect(beta!.sim.requests.filter((q) => q.path === '/tools/invoke')).toHaveLength(1);
    expect(await team.chatText()).toContain('"outcome":"failed","code":"OIS_ERR_PEER_AUTH"');
  });

  it('send - a peer that denies sessions_send gets the openclaw.json fix in the message', async () => {
    team = await makeTeam(['alpha', 'beta'], { allowSessionsSend: false });
    const r = await team.agents.alpha!.ois(['send', 'beta', 'hello']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('error OIS_ERR_PEER_TOOL_DENIED');
    expect(r.stderr).toContain('"gateway": {"tools": {"allow": ["sessions_send"]}}');
  });

  it('send - an unreachable peer is retried, then exit 4, with one whole entry in the log', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const port = await freePort();
    const agents = join(team.dir, 'AGENTS.md');
    const text = await readFile(agents, 'utf8');
    await writeFile(agents, text.replace(team.agents.beta!.sim.url, `http://127.0.0.1:${port}`));
    const r = await team.agents.alpha!.ois(['send', 'beta', '--no-queue', '--json', 'anyone there?']);
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries[0]).toMatchObject({
      outcome: 'failed',
      error: { code: 'OIS_ERR_PEER_UNREACHABLE' },
    });
    const entries = JSON.parse((await team.agents.alpha!.ois(['chat', '--json'])).stdout).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0].torn).toBeUndefined();
    expect(entries[0]).toMatchObject({
      deliveries: [{ outcome: 'failed', code: 'OIS_ERR_PEER_UNREACHABLE' }],
    });
  });
});

describe('send - a peer that cannot be reached', () => {
  it('send - by default the message is durably queued: exit 0, outcome queued, in the outbox and the log', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const port = await freePort();
    const agents = join(team.dir, 'AGENTS.md');
    await writeFile(
      agents,
      (await readFile(agents, 'utf8')).replace(team.agents.beta!.sim.url, `http://127.0.0.1:${port}`),
    );
    const r = await team.agents.alpha!.ois(['send', 'beta', '--json', 'see you later']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deliveries[0]).toMatchObject({
      to: 'beta',
      outcome: 'queued',
      code: 'OIS_ERR_PEER_UNREACHABLE',
    });
    expect(r.stderr).toContain('nothing goes out of the outbox while this instance runs no daemon');
    const queued = JSON.parse((await team.agents.alpha!.ois(['outbox', 'ls', '--json'])).stdout);
    expect(JSON.stringify(queued)).toContain(out.id);
    const entries = JSON.parse((await team.agents.alpha!.ois(['chat', '--json'])).stdout).entries;
    expect(entries[0].deliveries).toMatchObject([{ to: 'beta', outcome: 'queued' }]);
  });
});

describe('send - bad input sends and writes nothing', () => {
  const cases: [string, string[], number, string, { input?: string | Buffer }?][] = [
    ['an empty message', ['send', 'beta', '   '], 2, 'OIS_ERR_MESSAGE_EMPTY'],
    ['no message', ['send', 'beta'], 2, 'OIS_ERR_MESSAGE_EMPTY'],
    [
      'invalid UTF-8 on stdin',
      ['send', 'beta', '-'],
      2,
      'OIS_ERR_MESSAGE_INVALID_UTF8',
      { input: Buffer.from([0x68, 0xc3, 0x28]) },
    ],
    ['an unknown name', ['send', 'betta', 'hi'], 2, 'OIS_ERR_AGENT_UNKNOWN'],
    ['itself', ['send', 'alpha', 'hi'], 2, 'OIS_ERR_AGENT_SELF'],
    [
      'a message over 2 MiB',
      ['send', 'beta', '-'],
      2,
      'OIS_ERR_MESSAGE_TOO_LARGE',
      { input: 'x'.repeat(2 * 1024 * 1024) },
    ],
    ['a bad --wait', ['send', 'beta', '--wait=abc', 'hi'], 2, 'OIS_ERR_USAGE'],
  ];
  for (const [what, args, exit, code, options] of cases) {
    it(`send - ${what}: ${code}, exit ${exit}`, async () => {
      team = await makeTeam(['alpha', 'beta']);
      const r = await team.agents.alpha!.ois(args, options);
      expect(r.stderr).toContain(`error ${code}`);
      expect(r.stderr).toContain('hint: ');
      expect(r.code).toBe(exit);
      expect(team.agents.beta!.sim.requests).toHaveLength(0);
      expect(await readdir(join(team.dir, 'chat'))).toEqual([]);
    });
  }

  it('send - an unknown name suggests the closest', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const r = await team.agents.alpha!.ois(['send', 'betta', 'hi']);
    expect(r.stderr).toContain('hint: did you mean beta?');
  });

  it('send - a missing token: exit 3 and how to set it', async () => {
    team = await makeTeam(['alpha', 'beta']);
    await team.agents.alpha!.ois(['secrets', 'rm', 'beta']);
    const r = await team.agents.alpha!.ois(['send', 'beta', 'hi']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error OIS_ERR_TOKEN_MISSING: no gateway token for beta');
    expect(r.stderr).toContain('ois secrets set beta --token-stdin');
    expect(team.agents.beta!.sim.requests).toHaveLength(0);
  });

  it('send - a malformed AGENTS.md: exit 3 naming the line', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const file = join(team.dir, 'AGENTS.md');
    await writeFile(
      file,
      `${await readFile(file, 'utf8')}\n## gamma (admin)\n\n\`\`\`yaml ois-agent\nname: gamma\nrole: [admin\n\`\`\`\n`,
    );
    const r = await team.agents.alpha!.ois(['send', 'beta', 'hi']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /error OIS_ERR_REGISTRY_PARSE: cannot parse .*AGENTS\.md:\n {2}- .*AGENTS\.md:\d+: /,
    );
    expect(team.agents.beta!.sim.requests).toHaveLength(0);
  });

  it('send - a team folder that is gone: exit 3', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const r = await team.agents.alpha!.ois(['--team', join(team.dir, 'missing'), 'send', 'beta', 'hi']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error OIS_ERR_TEAM_NOT_FOUND');
  });
});

describe('send - the arguments', () => {
  it('send - a bare --wait never swallows or leaks a word: a bad value is a usage error, not message text', async () => {
    team = await makeTeam(['alpha', 'beta'], { reply: () => 'ok' });
    const { alpha, beta } = team.agents;
    for (const args of [
      ['beta', '--wait', 'abc', 'hi'],
      ['beta', 'hi', '--wait', 'abc'],
      ['beta', '--wait=abc', 'hi'],
      ['beta', '--wait', '2m', 'hi'],
      ['beta', '--wait', '-5', 'hi'],
      ['beta', '--wait', '0', 'hi'],
      ['--all', '--wait', 'abc', 'hi'],
    ]) {
      const r = await alpha!.ois(['send', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^error OIS_ERR_USAGE: --wait .*"(abc|2m|-5|0)"/);
    }
    expect(beta!.sim.transcript('agent:main:main')).toHaveLength(0);
    // What stays legitimate: the value forms, a bare --wait before NAME, last, or before the whole message.
    for (const [args, body] of [
      [['beta', '--wait', '5', 'one'], 'one'],
      [['beta', '--wait=5', 'two', 'words'], 'two words'],
      [['--wait', 'beta', 'three'], 'three'],
      [['beta', 'four', '--wait'], 'four'],
      [['beta', '--wait', 'hello there'], 'hello there'],
    ] as const) {
      const r = await alpha!.ois(['send', ...args]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('beta replied');
      const sent = beta!.sim.transcript('agent:main:main').filter((m) => m.role === 'user');
      expect(parseHeader(sent.at(-1)!.content)?.body).toBe(body);
    }
    const help = await alpha!.ois(['send', '--help']);
    expect(help.stdout).toContain('`send beta --wait abc "hi"` is a usage error');
  });

  it('send - invalid UTF-8 in the message argument is refused like on standard input; U+FFFD on stdin is sent', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents;
    // Only a shell can put raw bytes into argv: Node's spawn takes strings.
    const raw = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(
        '/bin/sh',
        [
          '-c',
          `exec "$0" "$1" --home "$2" send beta "caf$(printf '\\351')"`,
          process.execPath,
          OIS_BIN,
          alpha!.home,
        ],
        { env: { PATH: process.env.PATH, HOME: alpha!.home }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(raw.code).toBe(2);
    expect(raw.stderr).toMatch(/^error OIS_ERR_MESSAGE_INVALID_UTF8: /);
    const stdin = await alpha!.ois(['send', 'beta', '-'], { input: Buffer.from([0x63, 0x61, 0x66, 0xe9]) });
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toMatch(/^error OIS_ERR_MESSAGE_INVALID_UTF8: /);
    expect(beta!.sim.transcript('agent:main:main')).toHaveLength(0);
    const typed = await alpha!.ois(['send', 'beta', '-'], { input: 'a \uFFFD on purpose' });
    expect(typed.code, typed.stderr).toBe(0);
    expect(parseHeader(beta!.sim.transcript('agent:main:main')[0]!.content)?.body).toBe(
      'a \uFFFD on purpose',
    );
  });
});
