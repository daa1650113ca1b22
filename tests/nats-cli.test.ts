import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSeed } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { publishOnce } from '../src/nats/connection.js';
import { connectNatsTeam, NatsChatLog } from '../src/nats/index.js';
import { runOis, tempDir } from './helpers/cli.js';
import { memberBlock } from './helpers/members.js';
import { describeNats, startNatsWith, uniqueTeam } from './helpers/nats.js';

/** `ois nats config` as users run it: the real command in a subprocess, its files read back. */

const mode = async (path: string) => (await stat(path)).mode & 0o777;
const seedIn = async (file: string) => (await readFile(file, 'utf8')).trim();
const publicKeyOf = (seed: string) => fromSeed(new TextEncoder().encode(seed)).getPublicKey();

async function config(args: string[], options: { home?: string } = {}) {
  return runOis([...(options.home ? ['--home', options.home] : []), 'nats', 'config', ...args]);
}

describe('nats cli - ois nats config', () => {
  it('nats cli - writes a seed file per agent and the admin (0600, in a 0700 folder) and a server config with their public keys; no seed on stdout or stderr', async () => {
    const out = join(await tempDir('ois-nats-cli-'), 'nats');
    const r = await config([
      '--team-name',
      'home-lab',
      '--agent',
      'alpha',
      '--agent',
      'Data Bot',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['admin.nk', 'alpha.nk', 'data-bot.nk', 'nats-server.conf']);
    expect(await mode(out)).toBe(0o700);
    const conf = await readFile(join(out, 'nats-server.conf'), 'utf8');
    for (const user of ['admin', 'alpha', 'data-bot']) {
      const file = join(out, `${user}.nk`);
      expect(await mode(file)).toBe(0o600);
      const seed = await seedIn(file);
      expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
      expect(conf).toContain(publicKeyOf(seed));
      expect(conf).not.toContain(seed);
      expect(r.stdout + r.stderr).not.toContain(seed);
    }
    expect(await mode(join(out, 'nats-server.conf'))).toBe(0o600);
    expect(conf).toContain('"ois.home-lab.chat.*.data-bot"');
    expect(r.stdout).toContain(`nats-server -c ${join(out, 'nats-server.conf')}`);
    expect(r.stdout).toContain(
      'ois init --name "Data Bot" --team nats://HOST:4222/home-lab --nkey data-bot.nk',
    );
  });

  it('nats cli - a second run keeps the keys it finds and adds the new agent; --force makes new keys for all', async () => {
    const out = await tempDir('ois-nats-cli-');
    const base = ['--team-name', 'lab', '--out', out, '--agent', 'alpha'];
    expect((await config(base)).code).toBe(0);
    const first = { alpha: await seedIn(join(out, 'alpha.nk')), admin: await seedIn(join(out, 'admin.nk')) };
    const again = await config([...base, '--agent', 'beta', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout);
    expect(doc.agents.map((a: { name: string; created: boolean }) => [a.name, a.created])).toEqual([
      ['alpha', false],
      ['beta', true],
    ]);
    expect(doc.admin.created).toBe(false);
    expect(await seedIn(join(out, 'alpha.nk'))).toBe(first.alpha);
    expect(doc.agents[0].publicKey).toBe(publicKeyOf(first.alpha));
    const conf = await readFile(join(out, 'nats-server.conf'), 'utf8');
    expect(conf).toContain(publicKeyOf(first.alpha));
    expect(conf).toContain(publicKeyOf(await seedIn(join(out, 'beta.nk'))));
    expect(again.stdout).not.toMatch(/SU[A-Z2-7]{56}/);

    const forced = await config([...base, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).agents[0].created).toBe(true);
    const renewed = await seedIn(join(out, 'alpha.nk'));
    expect(renewed).not.toBe(first.alpha);
    expect(await seedIn(join(out, 'admin.nk'))).not.toBe(first.admin);
    expect(await mode(join(out, 'alpha.nk'))).toBe(0o600);
    const now = await readFile(join(out, 'nats-server.conf'), 'utf8');
    expect(now).toContain(publicKeyOf(renewed));
    expect(now).not.toContain(publicKeyOf(first.alpha));
  });

  it("nats cli - the agents are the team's members as the membership records back them; a hand-written entry gets no user", async () => {
    const dir = await tempDir('ois-nats-cli-team-');
    const team = join(dir, 'team');
    const alpha = join(dir, 'alpha');
    const beta = join(dir, 'beta');
    for (const [home, name] of [
      [alpha, 'alpha'],
      [beta, 'beta'],
    ] as const) {
      expect((await runOis(['--home', home, 'init', '--name', name, '--team', team])).code).toBe(0);
      expect((await runOis(['--home', home, 'join'])).code).toBe(0);
    }
    // alpha founded the team (active); beta asked to join (pending); mallory only wrote itself in.
    await appendFile(join(team, 'AGENTS.md'), `\n${memberBlock('mallory', 'active')}`);
    const out = join(dir, 'nats');
    const r = await config(['--team-name', 'lab', '--out', out, '--json'], { home: alpha });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).agents.map((a: { name: string }) => a.name)).toEqual(['alpha', 'beta']);
    expect(r.stderr).toMatch(/warning: mallory is not backed by the team's membership records/);
    expect(await readdir(out)).not.toContain('mallory.nk');
  });

  it('nats cli - three cluster hosts: one config per node, routed to the other two with one password', async () => {
    const out = await tempDir('ois-nats-cli-');
    const r = await config([
      '--team-name',
      'lab',
      '--agent',
      'alpha',
      '--cluster',
      'nas.lan,10.0.0.2,vps.example.org',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.servers.map((s: { node: number; host: string }) => [s.node, s.host])).toEqual([
      [1, 'nas.lan'],
      [2, '10.0.0.2'],
      [3, 'vps.example.org'],
    ]);
    expect(doc.agents[0].init).toBe('ois init --name alpha --team nats://nas.lan:4222/lab --nkey alpha.nk');
    const confs = await Promise.all(
      [1, 2, 3].map((n) => readFile(join(out, `nats-server-${n}.conf`), 'utf8')),
    );
    const passwords = confs.map((c) => /password: "([^"]+)"/.exec(c)?.[1]);
    expect(new Set(passwords).size).toBe(1);
    expect(passwords[0]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(r.stdout).not.toContain(passwords[0]);
    expect(confs[0]).toContain(`@10.0.0.2:6222`);
    expect(confs[0]).toContain(`@vps.example.org:6222`);
    expect(confs[0]).not.toContain(`@nas.lan:6222`);
    expect(confs[1]).toContain('server_name: "ois-lab-2"');
    // Run again after a member joined: the nodes keep their routes' password (they are reloaded one by one).
    const again = await config([
      '--team-name',
      'lab',
      '--agent',
      'alpha',
      '--agent',
      'beta',
      '--cluster',
      'nas.lan,10.0.0.2,vps.example.org',
      '--out',
      out,
    ]);
    expect(again.code, again.stderr).toBe(0);
    const after = await readFile(join(out, 'nats-server-2.conf'), 'utf8');
    expect(/password: "([^"]+)"/.exec(after)?.[1]).toBe(passwords[0]);
    expect(after).toContain('beta');
  });

  it('nats cli - refusals write nothing: no --out, no team name, an agent called admin, two hosts, a seed file that is not one', async () => {
    const dir = await tempDir('ois-nats-cli-');
    const out = join(dir, 'nats');
    const refused = async (args: string[], code: string) => {
      const r = await config(args);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toContain(`error ${code}:`);
    };
    await refused(['--team-name', 'lab', '--agent', 'alpha'], 'OIS_ERR_USAGE');
    await refused(['--agent', 'alpha', '--out', out], 'OIS_ERR_USAGE');
    await refused(
      ['--team-name', 'Not A Team', '--agent', 'alpha', '--out', out],
      'OIS_ERR_NATS_TEAM_INVALID',
    );
    await refused(['--team-name', 'lab', '--agent', 'Admin', '--out', out], 'OIS_ERR_USAGE');
    await refused(
      ['--team-name', 'lab', '--agent', 'alpha', '--cluster', 'a,b', '--out', out],
      'OIS_ERR_USAGE',
    );
    const status = await runOis(['nats', 'status']);
    expect([status.code, status.stderr]).toEqual([
      2,
      expect.stringContaining('unknown subcommand "nats status"'),
    ]);
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(join(dir, 'alpha.nk'), 'not a seed\n');
    await refused(['--team-name', 'lab', '--agent', 'alpha', '--out', dir], 'OIS_ERR_NATS_CREDENTIALS');
    expect(await readFile(join(dir, 'alpha.nk'), 'utf8')).toBe('not a seed\n');
    expect(await readdir(dir)).toEqual(['alpha.nk']);
  });
});

describeNats('nats cli - the written config runs', () => {
  it('nats cli - a team set up on the secured server: ois init --nkey, join, approve, doctor, and ois nats config again from the configured team', async () => {
    const dir = await tempDir('ois-nats-cli-e2e-');
    const out = join(dir, 'nats');
    const team = uniqueTeam('e2e');
    expect(
      (await config(['--team-name', team, '--agent', 'alpha', '--agent', 'beta', '--out', out])).code,
    ).toBe(0);
    const written = await readFile(join(out, 'nats-server.conf'), 'utf8');
    const servers = await startNatsWith((node) =>
      written
        .replace(/^listen: .*$/m, `listen: "127.0.0.1:${node.port}"`)
        .replace(/^ {2}store_dir: .*$/m, `  store_dir: ${JSON.stringify(node.storeDir)}`),
    );
    try {
      const url = `${servers.servers[0]}/${team}`;
      const home = (name: string) => join(dir, name);
      const as = async (name: string, args: string[]) => {
        const r = await runOis(['--home', home(name), ...args], { timeoutMs: 30_000 });
        expect(r.code, `${name} ${args.join(' ')}:\n${r.stdout}${r.stderr}`).toBe(0);
        return r;
      };
      // Everything the team stores (registry, membership records, locks) goes through the agents' own users.
      for (const name of ['alpha', 'beta']) {
        await as(name, ['init', '--name', name, '--team', url, '--nkey', join(out, `${name}.nk`)]);
        await as(name, ['join']);
      }
      await as('alpha', ['members', 'approve', 'beta']);
      // A shared file put and removed (the store purges it from the bucket's stream), a large one too.
      const small = join(dir, 'plan.md');
      const large = join(dir, 'photo.bin');
      await writeFile(small, 'the plan');
      await writeFile(large, Buffer.alloc(600 * 1024, 7));
      await as('beta', ['share', 'put', small]);
      await as('beta', ['share', 'put', large]);
      await as('alpha', ['share', 'rm', 'plan.md']);
      await as('alpha', ['share', 'rm', 'photo.bin']);
      const left = JSON.parse((await as('beta', ['share', 'ls', '--json'])).stdout);
      expect(left.files).toEqual([]);
      const doctor = await runOis(['--home', home('beta'), 'doctor', '--json'], { timeoutMs: 30_000 });
      const checks = JSON.parse(doctor.stdout).checks as { name: string; status: string; detail: string }[];
      // No gateway runs here; everything else passes, the NATS checks included.
      const failed = checks.filter((c) => c.status === 'fail' && !c.name.includes('gateway'));
      expect(failed, doctor.stdout).toEqual([]);
      expect(checks.map((c) => c.detail).join('\n')).toContain('publishes as itself only');
      // No --team-name, no --agent: the configured team and its members, read over NATS; the keys kept.
      const again = await as('alpha', ['nats', 'config', '--out', out, '--json']);
      const doc = JSON.parse(again.stdout);
      expect(doc.team).toBe(team);
      expect(doc.agents.map((a: { name: string; created: boolean }) => [a.name, a.created])).toEqual([
        ['alpha', false],
        ['beta', false],
      ]);
      expect(doc.agents[0].init).toBe(`ois init --name alpha --team ${url} --nkey alpha.nk`);
    } finally {
      await servers.stop();
    }
  }, 120_000);

  it("nats cli - nats-server starts with the written config, and alpha's file connects as alpha and as alpha only", async () => {
    const out = await tempDir('ois-nats-cli-run-');
    const team = uniqueTeam('cli');
    expect(
      (await config(['--team-name', team, '--agent', 'alpha', '--agent', 'beta', '--out', out])).code,
    ).toBe(0);
    const written = await readFile(join(out, 'nats-server.conf'), 'utf8');
    // Only where it listens and keeps its files changes: on loopback, on a free port, in a temp dir.
    const servers = await startNatsWith((node) =>
      written
        .replace(/^listen: .*$/m, `listen: "127.0.0.1:${node.port}"`)
        .replace(/^ {2}store_dir: .*$/m, `  store_dir: ${JSON.stringify(node.storeDir)}`),
    );
    try {
      const alpha = await connectNatsTeam({
        servers: servers.servers,
        team,
        name: 'alpha',
        auth: { nkeyFile: join(out, 'alpha.nk') },
      });
      try {
        const chat = await NatsChatLog.open(alpha);
        const at = new Date().toISOString();
        const entry = {
          id: `m-${team}`,
          at,
          from: 'alpha',
          to: ['beta'],
          kind: 'message' as const,
          body: 'hi',
          deliveries: [],
        };
        expect(await chat.append(entry)).toEqual({ duplicate: false });
        // Entries go out under their writer's subject; beta's is refused to alpha.
        const asBeta = alpha.names.chatSubject(at.slice(0, 10), 'beta');
        await expect(
          publishOnce(alpha, asBeta, new TextEncoder().encode('x'), `m2-${team}`),
        ).rejects.toMatchObject({
          code: 'OIS_ERR_NATS_PERMISSION',
        });
      } finally {
        await alpha.close();
      }
    } finally {
      await servers.stop();
    }
  });
});
