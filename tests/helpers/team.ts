import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  type GatewaySimulator,
  type GatewaySimulatorOptions,
  startGatewaySimulator,
} from '../../src/simulator/index.js';
import { type RunOptions, type RunResult, runOis, tempDir } from './cli.js';

export interface TestAgent {
  name: string;
  home: string;
  token: string;
  sim: GatewaySimulator;
  /** Runs `ois` as this agent's instance. */
  ois(args: string[], options?: RunOptions): Promise<RunResult>;
}

export interface TestTeam {
  dir: string;
  agents: Record<string, TestAgent>;
  chatText(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A team folder with one instance per name, each next to its own gateway simulator on 127.0.0.1:0, set up
 * the way the README quick start does it: init, join, and every peer's token in each instance's secrets.
 */
export async function makeTeam(
  names: string[],
  simOptions: Partial<GatewaySimulatorOptions> = {},
  env: Record<string, string> = {},
  /**
   * approve false: the others' join requests stay pending (membership tests approve them themselves).
   * team: where the team is instead of a new folder (a `nats://…` team).
   */
  options: { approve?: boolean; team?: string } = {},
): Promise<TestTeam> {
  const dir = options.team ?? (await tempDir('ois-team-'));
  const agents: Record<string, TestAgent> = {};
  for (const name of names) {
    const token = randomBytes(24).toString('hex');
    const sim = await startGatewaySimulator({ token, ...simOptions });
    const home = await tempDir(`ois-home-${name}-`);
    agents[name] = {
      name,
      home,
      token,
      sim,
      ois: (args, options = {}) =>
        runOis(['--home', home, ...args], {
          ...options,
          env: { OIS_SEND_RETRIES: '1', ...env, ...options.env },
        }),
    };
  }
  // The first founds the team (its owner) and approves each of the others' join requests.
  const [owner] = Object.values(agents);
  for (const a of Object.values(agents)) {
    const init = await a.ois(['init', '--name', a.name, '--team', dir, '--gateway', a.sim.url]);
    if (init.code !== 0) throw new Error(init.stderr);
    const join = await a.ois(['join', '--description', `${a.name} agent`]);
    if (join.code !== 0) throw new Error(join.stderr);
    if (a !== owner && options.approve !== false) {
      const approve = await owner!.ois(['members', 'approve', a.name]);
      if (approve.code !== 0) throw new Error(approve.stderr);
    }
  }
  for (const a of Object.values(agents)) {
    for (const peer of Object.values(agents)) {
      if (peer === a) continue;
      const set = await a.ois(['secrets', 'set', peer.name, '--token-stdin'], { input: peer.token });
      if (set.code !== 0) throw new Error(set.stderr);
    }
  }
  // The set-up's notices (join requests, approvals) are not what the tests that use this team look at.
  for (const f of await readdir(join(dir, 'chat')).catch(() => [] as string[])) {
    await rm(join(dir, 'chat', f), { recursive: true, force: true });
  }
  return {
    dir,
    agents,
    async chatText() {
      const files = (await readdir(join(dir, 'chat')).catch(() => [] as string[]))
        .filter((f) => f.endsWith('.md'))
        .sort();
      const texts = await Promise.all(files.map((f) => readFile(join(dir, 'chat', f), 'utf8')));
      return texts.join('');
    },
    async close() {
      await Promise.all(Object.values(agents).map((a) => a.sim.close()));
    },
  };
}

/** Runs `ois` as an agent and expects it to succeed (the failure message names the command and its stderr). */
export async function ok(a: TestAgent, args: string[], input?: string): Promise<RunResult> {
  const r = await a.ois(args, input === undefined ? {} : { input });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}
