// The tasks share of `npm run bench` (issue 12): a task round trip between two daemons on one machine, as
// assistants do it: `ois task send` (a process), the assignee's `ois task update --status completed` (a
// process) as soon as its daemon has recorded the task, until the delegator's daemon has recorded the
// completion. p50 and p99 over `runs` round trips.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGatewaySimulator } from '../dist/simulator/index.js';
import { TaskStore } from '../dist/tasks/index.js';

const run = promisify(execFile);
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function until(fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function benchTasks({ root, runs = 20 }) {
  const ois = join(root, 'bin', 'ois.js');
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-tasks-'));
  const sims = {};
  const daemons = [];
  try {
    const env = { PATH: process.env.PATH, HOME: dir, OIS_SERVE_PORT: '0', OIS_PRESENCE_INTERVAL_MS: '60000' };
    const team = join(dir, 'team');
    for (const name of ['alpha', 'beta']) {
      const token = randomBytes(24).toString('hex');
      sims[name] = await startGatewaySimulator({ token });
      const home = join(dir, name);
      await run(
        process.execPath,
        [ois, '--home', home, 'init', '--name', name, '--team', team, '--gateway', sims[name].url],
        { env },
      );
      await run(process.execPath, [ois, '--home', home, 'join'], { env });
      await run(process.execPath, [ois, '--home', home, 'secrets', 'set', name, '--token-env', 'T'], {
        env: { ...env, T: token },
      });
    }
    await run(process.execPath, [ois, '--home', join(dir, 'alpha'), 'members', 'approve', 'beta'], { env });
    for (const name of ['alpha', 'beta']) {
      const child = spawn(process.execPath, [ois, '--home', join(dir, name), 'serve', '--quiet'], {
        env,
        stdio: 'ignore',
      });
      daemons.push(child);
      await until(() => {
        try {
          return JSON.parse(readFileSync(join(dir, name, 'daemon.json'), 'utf8')).pid === child.pid;
        } catch {
          return false;
        }
      });
    }
    const alphaTasks = TaskStore.open(join(dir, 'alpha'));
    const betaTasks = TaskStore.open(join(dir, 'beta'));
    const times = [];
    for (let i = 0; i < runs + 2; i++) {
      const started = process.hrtime.bigint();
      const sent = JSON.parse(
        (
          await run(
            process.execPath,
            [ois, '--home', join(dir, 'alpha'), 'task', 'send', 'beta', `bench task ${i}`, '--json'],
            { env },
          )
        ).stdout,
      );
      const id = sent.task.id;
      await until(() => betaTasks.get(id));
      await run(
        process.execPath,
        [ois, '--home', join(dir, 'beta'), 'task', 'update', id, '--status', 'completed', '--result', 'done'],
        { env },
      );
      await until(() => alphaTasks.get(id)?.status === 'completed');
      if (i >= 2) times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    alphaTasks.close();
    betaTasks.close();
    return { runs, p50: pct(times, 50), p99: pct(times, 99) };
  } finally {
    for (const d of daemons) d.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const s of Object.values(sims)) await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}
