import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { OIS_BIN, type RunResult, runOis, tempDir } from './helpers/cli.js';
import { ROOT } from './helpers/spec-blocks.js';
import { makeTeam, type TestAgent, type TestTeam } from './helpers/team.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'docs/json-envelope.schema.json'), 'utf8'));
const validate = new Ajv().compile(schema);

/** The envelope contract of docs/json.md, for a run that ended. */
function expectEnvelope(r: RunResult, what: string, ok: boolean): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`${what}: stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  expect(validate(doc), `${what}: ${JSON.stringify(validate.errors)}`).toBe(true);
  expect(doc.ok, `${what}: ${r.stdout}\n${r.stderr}`).toBe(ok);
  // ok true exactly when the exit code is 0.
  expect(r.code === 0, `${what}: exit ${r.code}`).toBe(ok);
  if (!ok) expect((doc.error as { code: string }).code).toMatch(/^OIS_ERR_/);
  // stderr: warnings only, never the error a second time.
  for (const line of r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('  ')))
    expect(line, `${what}: stderr`).toMatch(/^warning: /);
  return doc;
}

/** A service: its start document, then SIGTERM must stop it with exit 0. */
async function runService(args: string[], env: Record<string, string>): Promise<RunResult> {
  const child: ChildProcess = spawn(process.execPath, [OIS_BIN, ...args], {
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const closed = new Promise<number | null>((r) => child.on('close', r));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${stderr}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      try {
        JSON.parse(stdout);
        clearTimeout(timer);
        resolve();
      } catch {}
    });
  });
  child.kill('SIGTERM');
  return { code: await closed, stdout, stderr };
}

let team: TestTeam;
let alpha: TestAgent;
beforeAll(async () => {
  team = await makeTeam(['alpha', 'beta', 'gamma']);
  alpha = team.agents.alpha!;
  await alpha.ois(['secrets', 'set', 'alpha', '--token-stdin'], { input: alpha.token });
  await alpha.ois(['send', 'beta', 'something for the chat log']);
  await alpha.ois(['share', 'put', '-', '--as', 'notes.txt'], { input: 'shared notes' });
}, 30_000);
afterAll(async () => {
  await team?.close();
});

type Case = (json: string[]) => Promise<RunResult>;
const fresh = async () => tempDir('ois-json-home-');

/** For each command: a run that succeeds and one that fails, both with --json. */
const CASES: Record<string, { success: Case; failure: Case }> = {
  agents: {
    success: (j) => alpha.ois(['agents', ...j]),
    failure: (j) => alpha.ois(['agents', 'show', 'nobody', ...j]),
  },
  chat: {
    success: (j) => alpha.ois(['chat', ...j]),
    failure: (j) => alpha.ois(['chat', '--since', 'yesterday', ...j]),
  },
  demo: {
    success: async (j) => runOis(['demo', ...j], { timeoutMs: 60_000 }),
    failure: (j) => runOis(['demo', 'extra', ...j]),
  },
  doctor: {
    success: (j) => alpha.ois(['doctor', '--timeout', '2000', ...j]),
    failure: async (j) => runOis(['--home', await fresh(), 'doctor', ...j]),
  },
  export: {
    success: async (j) => alpha.ois(['export', '--to', join(await fresh(), 'copy'), ...j]),
    failure: (j) => alpha.ois(['export', ...j]),
  },
  import: {
    success: async (j) =>
      runOis(['--home', await fresh(), '--team', await fresh(), 'import', '--from', team.dir, ...j]),
    failure: async (j) =>
      runOis(['--home', await fresh(), '--team', await fresh(), 'import', '--from', await fresh(), ...j]),
  },
  'gateway-sim': {
    success: (j) =>
      runService(['gateway-sim', '--token-env', 'T', '--port', '0', ...j], { T: 'sim-0123456789' }),
    failure: (j) => runOis(['gateway-sim', '--port', '0', ...j]),
  },
  init: {
    success: async (j) =>
      runOis(['--home', await fresh(), 'init', '--name', 'gamma', '--team', team.dir, ...j]),
    failure: async (j) => runOis(['--home', await fresh(), 'init', '--team', team.dir, ...j]),
  },
  join: {
    success: (j) => alpha.ois(['join', '--description', 'alpha, again', ...j]),
    failure: (j) => alpha.ois(['join', '--role', 'boss', ...j]),
  },
  keys: {
    success: (j) => alpha.ois(['keys', 'show', ...j]),
    failure: (j) => alpha.ois(['keys', 'lose', ...j]),
  },
  leave: {
    success: (j) => team.agents.gamma!.ois(['leave', ...j]),
    // The owner cannot leave before handing the team on.
    failure: (j) => alpha.ois(['leave', ...j]),
  },
  members: {
    success: (j) => alpha.ois(['members', 'ls', ...j]),
    failure: (j) => alpha.ois(['members', 'approve', 'nobody', ...j]),
  },
  notices: {
    success: (j) => alpha.ois(['notices', ...j]),
    failure: (j) => alpha.ois(['notices', 'extra', ...j]),
  },
  memory: {
    success: (j) => alpha.ois(['memory', 'put', 'json/test', 'a value', ...j]),
    failure: (j) => alpha.ois(['memory', 'get', 'no/such/key', ...j]),
  },
  nats: {
    // The users: the team's members (alpha, beta, gamma), from alpha's team folder.
    success: async (j) => alpha.ois(['nats', 'config', '--team-name', 'lab', '--out', await tempDir(), ...j]),
    failure: async (j) => alpha.ois(['nats', 'config', '--out', await tempDir(), ...j]),
  },
  net: {
    success: (j) => alpha.ois(['net', 'use', '8056c2e21c000001', ...j]),
    failure: (j) => alpha.ois(['net', 'use', 'not-a-network', ...j]),
  },
  outbox: {
    success: (j) => alpha.ois(['outbox', 'ls', ...j]),
    failure: (j) => alpha.ois(['outbox', 'drop', '01ARZ3NDEKTSV4RRFFQ69G5FAV', ...j]),
  },
  reply: {
    success: async (j) => {
      const sent = JSON.parse((await alpha.ois(['send', 'beta', '--json', 'please answer'])).stdout);
      return team.agents.beta!.ois(['reply', sent.id, 'answered', ...j]);
    },
    failure: (j) => alpha.ois(['reply', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'to nothing', ...j]),
  },
  secrets: {
    success: (j) => alpha.ois(['secrets', 'ls', ...j]),
    failure: (j) => alpha.ois(['secrets', 'set', ...j]),
  },
  send: {
    success: (j) => alpha.ois(['send', 'beta', 'hello in json', ...j]),
    failure: (j) => alpha.ois(['send', 'nobody', 'hello', ...j]),
  },
  serve: {
    success: (j) => runService(['--home', alpha.home, 'serve', '--quiet', ...j], { OIS_SERVE_PORT: '0' }),
    failure: async (j) => runOis(['--home', await fresh(), 'serve', ...j]),
  },
  share: {
    success: (j) => alpha.ois(['share', 'ls', ...j]),
    failure: (j) => alpha.ois(['share', 'get', 'no-such-file.txt', ...j]),
  },
  skill: {
    success: async (j) => alpha.ois(['skill', 'install', '--workspace', await tempDir('ois-ws-'), ...j]),
    failure: (j) => alpha.ois(['skill', 'uninstall', ...j]),
  },
  skills: {
    success: (j) => alpha.ois(['skills', 'ls', ...j]),
    failure: (j) => alpha.ois(['skills', 'show', 'no-such-skill', ...j]),
  },
  task: {
    success: (j) => alpha.ois(['task', 'send', 'beta', 'Check the backups', ...j]),
    failure: (j) => alpha.ois(['task', 'show', '01ARZ3NDEKTSV4RRFFQ69G5FAV', ...j]),
  },
};

describe('cli - one --json envelope for every command (docs/json.md)', () => {
  it('cli - every command in the list has a success and a failure case here', () => {
    expect(Object.keys(CASES).sort()).toEqual(COMMANDS.map((c) => c.name));
  });

  for (const entry of COMMANDS) {
    it(`cli - ${entry.name} --json: success and failure are envelopes, ok matching the exit code`, async () => {
      const c = CASES[entry.name]!;
      expectEnvelope(await c.success(['--json']), `${entry.name} (success)`, true);
      expectEnvelope(await c.failure(['--json']), `${entry.name} (failure)`, false);
      const help = expectEnvelope(
        await runOis([entry.name, '--help', '--json']),
        `${entry.name} --help`,
        true,
      );
      const { spec } = await entry.load();
      expect(help.command).toMatchObject({ name: spec.name, summary: spec.summary, usage: spec.usage });
    }, 90_000);
  }

  it('cli - ois --help, ois help, --version and a bad global argument, all with --json', async () => {
    const main = expectEnvelope(await runOis(['--help', '--json']), '--help', true);
    expect((main.commands as { name: string }[]).map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    expectEnvelope(await runOis(['help', 'send', '--json']), 'help send', true);
    const v = expectEnvelope(await runOis(['--version', '--json']), '--version', true);
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
    expectEnvelope(await runOis(['--frobnicate', '--json']), '--frobnicate', false);
    expectEnvelope(await runOis(['sned', '--json']), 'sned', false);
    expectEnvelope(await runOis(['agents', '--frobnicate', '--json']), 'agents --frobnicate', false);
  });

  it('cli - without --json an error is text on stderr only; with it, JSON on stdout only', async () => {
    const text = await runOis(['send', 'beta', 'hi']);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^error OIS_ERR_CONFIG_MISSING: /);
    const json = await runOis(['send', 'beta', 'hi', '--json']);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout).error.code).toBe('OIS_ERR_CONFIG_MISSING');
  });
});
