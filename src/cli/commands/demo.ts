import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type InstanceConfig, loadConfig } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { publishDaemonUrl } from '../../federation/index.js';
import { type RunningDaemon, startDaemon } from '../../server/index.js';
import { type GatewaySimulator, startGatewaySimulator } from '../../simulator/index.js';
import { FsTeamStore } from '../../team/index.js';
import type { CliIo, Command } from '../command.js';
import { utcDate } from '../io.js';

const NAMES = ['alpha', 'beta'] as const;
type Name = (typeof NAMES)[number];

export const command: Command = {
  spec: {
    name: 'demo',
    summary: 'Try OIS on one machine: two instances, two gateway simulators, federated and queued messages',
    usage: ['demo [--keep]'],
    options: {
      keep: {
        type: 'boolean',
        description: 'Keep the temporary team folder and homes to look at afterwards',
      },
    },
    args: { min: 0, max: 0 },
    examples: ['ois demo', 'ois demo --keep'],
  },
  async run(ctx) {
    const dir = await mkdtemp(join(tmpdir(), 'ois-demo-'));
    const team = join(dir, 'team');
    // With --json the narration is left out: stdout carries the one document at the end.
    const say = (line = '') => {
      if (!ctx.json) ctx.io.stdout.write(`${line}\n`);
    };
    const sims: Partial<Record<Name, GatewaySimulator>> = {};
    const daemons: Partial<Record<Name, RunningDaemon>> = {};
    const tokens = { alpha: randomBytes(24).toString('hex'), beta: randomBytes(24).toString('hex') };
    // Each instance sees only its own token; daemons poll presence often so the demo does not wait.
    const envOf = (name: Name) => ({
      ...ctx.io.env,
      [`OIS_TOKEN_${name.toUpperCase()}`]: tokens[name],
      OIS_SERVE_PORT: '0',
      OIS_PRESENCE_INTERVAL_MS: '300',
    });
    const home = (name: Name) => join(dir, name);
    const ois = async (name: Name, argv: string[], show = true): Promise<number> => {
      if (show)
        say(
          `$ ois --home ${home(name)} ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
        );
      const out = new PassThrough();
      out.on('data', (d) => {
        if (show && !ctx.json) ctx.io.stdout.write(String(d).replace(/^(?=.)/gm, '  '));
      });
      const io: CliIo = {
        ...ctx.io,
        argv: ['--home', home(name), ...argv],
        env: envOf(name),
        stdout: out,
        stderr: out,
        stdin: new PassThrough(),
      };
      (io.stdin as PassThrough).end();
      const code = await ctx.runCommand(io);
      if (code !== 0)
        throw new OisError('OIS_ERR_INTERNAL', `demo step failed: ois ${argv.join(' ')} (exit ${code})`);
      return code;
    };
    const configOf = (name: Name) =>
      loadConfig({ env: envOf(name), cwd: dir, flags: { home: home(name) } }) as InstanceConfig & {
        name: string;
        team: string;
      };
    const serve = async (name: Name, port = 0) => {
      const config = configOf(name);
      const store = new FsTeamStore(team);
      daemons[name] = await startDaemon({
        config: { ...config, serve: { ...config.serve, port } },
        env: envOf(name),
        log: false,
        onListening: (url) => publishDaemonUrl(store, config, url, utcDate()),
      });
      say(`  ${name}'s daemon (ois serve) on ${daemons[name]!.state.url}`);
    };

    try {
      say(
        'OIS demo: two OpenClaw gateway SIMULATORS (not real gateways), two OIS instances, one team folder.',
      );
      say(
        `Everything lives in ${dir} and is removed at the end${ctx.args.values.keep ? ' (kept: --keep)' : ''}.\n`,
      );
      for (const name of NAMES) {
        sims[name] = await startGatewaySimulator({
          token: tokens[name],
          onMessage: (m) =>
            say(`  [${name}'s gateway simulator] into ${m.sessionKey}:\n${m.message.replace(/^/gm, '    ')}`),
        });
        say(`${name}'s gateway simulator on ${sims[name]!.url}`);
      }
      say(
        '\n1. alpha: init (makes its signing key) and join. The first to join founds the team and owns it.',
      );
      await ois('alpha', ['init', '--name', 'alpha', '--team', team, '--gateway', sims.alpha!.url]);
      await ois('alpha', ['join', '--description', 'alpha of the demo']);
      say(
        '\n2. alpha runs its daemon. It delivers into its own gateway with its own token: no token is shared.',
      );
      await serve('alpha');
      say("\n3. beta asks to join: its request is signed with beta's key and reaches alpha's session.");
      await ois('beta', ['init', '--name', 'beta', '--team', team, '--gateway', sims.beta!.url]);
      await ois('beta', ['join', '--description', 'beta of the demo']);
      await serve('beta');
      say("\n4. alpha approves: a signed record in members/records.jsonl, and a notice in beta's session.");
      await ois('alpha', ['members', 'pending']);
      await ois('alpha', ['members', 'approve', 'beta']);

      say('\n5. Messages by name, both ways, signed and verified:');
      await ois('alpha', ['send', 'beta', 'Hi beta, can you review shared/plan.md?']);
      await ois('beta', ['send', 'alpha', 'Done: two nits, otherwise fine.']);

      say("\n6. beta's daemon stops. alpha sends anyway: the message waits in alpha's outbox.");
      const betaPort = daemons.beta!.state.port;
      await daemons.beta!.stop();
      await ois('alpha', ['send', 'beta', '--json', 'While you were away: the build is green.'], false).catch(
        () => 0,
      );
      await ois('alpha', ['outbox', 'ls']);

      say("\n7. beta comes back on the same address; alpha's daemon notices and sends what waited:");
      await serve('beta', betaPort);
      const deadline = Date.now() + 15_000;
      // beta's session: the approval notice, alpha's first message, and the one that waited.
      while (sims.beta!.transcript('agent:main:main').length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      await ois('alpha', ['agents']);
      await ois('alpha', ['chat']);

      say('\nWhere to look:');
      say(`  team registry   ${join(team, 'AGENTS.md')}`);
      say(`  chat log        ${join(team, 'chat', `${utcDate()}.md`)}`);
      say(`  outboxes        ${join(home('alpha'), 'outbox.db')}, ${join(home('beta'), 'outbox.db')}`);
      say(
        `  viewer          ${daemons.alpha!.state.url}/ (while ois serve runs; this demo's daemons stop now)`,
      );
      say('  on your own machines: README.md, "Quick start".');
      const delivered = sims.beta!.transcript('agent:main:main').length;
      if (delivered < 3)
        throw new OisError(
          'OIS_ERR_INTERNAL',
          `the queued message did not arrive (${delivered} of 3 in beta's session)`,
        );
      say('\ndemo finished: every message arrived.');
      if (ctx.json) {
        ctx.printJson({
          delivered,
          ...(ctx.args.values.keep ? { dir, team: join(team, 'AGENTS.md') } : {}),
        });
      }
      return 0;
    } finally {
      for (const d of Object.values(daemons)) await d?.stop().catch(() => {});
      for (const s of Object.values(sims)) await s?.close().catch(() => {});
      if (!ctx.args.values.keep) await rm(dir, { recursive: true, force: true });
    }
  },
};
