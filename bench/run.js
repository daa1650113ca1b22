// `npm run bench`: the performance targets of the project, measured on this machine.
//
// 0. Start-up of a command without network: `ois agents --json` against `node -e 0`. Target: <= 1.8x.
// 1. Start-up: one `ois send` process delivering to a local gateway (simulator) against a bare node
//    process making the same POST, alternating, medians. Target: ois <= 1.5x bare node.
// 2. Chat log: 8 writer processes appending concurrently to one day's log. Target: >= 300 entries/s in
//    total, none lost.
// Then the daemon, NATS (folder vs a three-node JetStream cluster, target >= 2,000 deliveries/s), the
// viewer, tasks, memory and search, each in its own file.
//
// Usage: npm run bench [-- --runs 30 --entries 100]
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { parseChatLog } from '../dist/chatlog/index.js';
import { startGatewaySimulator } from '../dist/simulator/index.js';
import { benchDaemon } from './daemon.js';
import { benchMemory } from './memory.js';
import { benchNats, reportNats } from './nats.js';
import { benchSearch, reportSearch } from './search.js';
import { benchTasks } from './tasks.js';
import { benchViewer } from './viewer.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ois = join(root, 'bin', 'ois.js');
const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    entries: { type: 'string', default: '100' },
    writers: { type: 'string', default: '8' },
  },
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function timeProcess(args, env) {
  const started = process.hrtime.bigint();
  await run(process.execPath, args, { env });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function startup() {
  const token = randomBytes(24).toString('hex');
  const sim = await startGatewaySimulator({ token });
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-'));
  const env = { PATH: process.env.PATH, HOME: dir };
  try {
    const home = join(dir, 'alpha');
    const team = join(dir, 'team');
    await run(process.execPath, [ois, '--home', home, 'init', '--name', 'alpha', '--team', team], { env });
    await run(process.execPath, [ois, '--home', home, 'join'], { env });
    await run(
      process.execPath,
      [ois, '--home', join(dir, 'beta'), 'init', '--name', 'beta', '--team', team, '--gateway', sim.url],
      { env },
    );
    await run(process.execPath, [ois, '--home', join(dir, 'beta'), 'join'], { env });
    await run(process.execPath, [ois, '--home', home, 'members', 'approve', 'beta'], { env });
    const sendEnv = { ...env, OIS_TOKEN_BETA: token };
    const message = 'benchmark message: please ignore';
    // The same request body ois sends (header line included), for the bare process.
    const bodyFile = join(dir, 'body.json');
    const header = `[OIS alpha → beta · 01KAJ7Z3XH2M8Q4V6N0R5T9W1Y · 2026-11-21T10:32:05Z · reply: ois send alpha "…"]`;
    await writeFile(
      bodyFile,
      JSON.stringify({
        tool: 'sessions_send',
        args: { sessionKey: 'agent:main:main', message: `${header}\n${message}`, timeoutSeconds: 0 },
      }),
    );
    const oisArgs = [ois, '--home', home, 'send', 'beta', message];
    const bareArgs = [join(root, 'bench', 'bare-post.js'), sim.url, token, bodyFile];
    // Warm up both (the compile cache, the page cache), then alternate so drift hits both alike.
    for (let i = 0; i < 3; i++) {
      await timeProcess(oisArgs, sendEnv);
      await timeProcess(bareArgs, env);
    }
    const oisTimes = [];
    const bareTimes = [];
    const runs = Number(values.runs);
    for (let i = 0; i < runs; i++) {
      oisTimes.push(await timeProcess(oisArgs, sendEnv));
      bareTimes.push(await timeProcess(bareArgs, env));
    }
    const delivered = sim.requests.filter((r) => r.status === 200).length;
    const expected = 2 * (runs + 3);
    return {
      runs,
      oisMs: median(oisTimes),
      oisP90: pct(oisTimes, 90),
      bareMs: median(bareTimes),
      bareP90: pct(bareTimes, 90),
      delivered,
      expected,
    };
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `node -e 0`, `ois agents --json` and `ois --help`, alternating, medians (issue 9 item 4). */
async function cliStartup() {
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-cli-'));
  const env = { PATH: process.env.PATH, HOME: dir };
  try {
    const home = join(dir, 'alpha');
    await run(
      process.execPath,
      [ois, '--home', home, 'init', '--name', 'alpha', '--team', join(dir, 'team')],
      { env },
    );
    await run(process.execPath, [ois, '--home', home, 'join'], { env });
    const cases = {
      node: ['-e', '0'],
      agents: [ois, '--home', home, 'agents', '--json'],
      help: [ois, '--help'],
    };
    const times = { node: [], agents: [], help: [] };
    for (let i = 0; i < 3; i++) for (const args of Object.values(cases)) await timeProcess(args, env);
    for (let i = 0; i < Number(values.runs); i++)
      for (const [name, args] of Object.entries(cases)) times[name].push(await timeProcess(args, env));
    return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function chatThroughput() {
  const writers = Number(values.writers);
  const entries = Number(values.entries);
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-chat-'));
  const date = '2026-11-21';
  try {
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from(
        { length: writers },
        (_, w) =>
          new Promise((resolve, reject) => {
            const child = spawn(
              process.execPath,
              [join(root, 'bench', 'append-worker.js'), dir, `w${w}`, String(entries), date],
              { stdio: 'inherit' },
            );
            child.on('error', reject);
            child.on('close', (code) =>
              code === 0 ? resolve() : reject(new Error(`writer ${w} exited ${code}`)),
            );
          }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const text = await readFile(join(dir, 'chat', `${date}.md`), 'utf8');
    const { entries: parsed, problems } = parseChatLog(text, date);
    const ids = new Set(parsed.map((e) => e.id));
    const torn = parsed.filter((e) => e.torn).length;
    return {
      writers,
      total: writers * entries,
      found: ids.size,
      torn,
      problems: problems.length,
      seconds,
      perSecond: (writers * entries) / seconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cli = await cliStartup();
const agentsRatio = cli.agents / cli.node;
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
console.log(`\nstart-up of one command (${values.runs} alternating runs each, after warm-up, medians)`);
console.log(`  node -e 0           ${cli.node.toFixed(1)} ms`);
console.log(
  `  ois agents --json   ${cli.agents.toFixed(1)} ms = ${agentsRatio.toFixed(2)}x (target <= 1.8x) ${agentsRatio <= 1.8 ? 'OK' : 'MISSED'}`,
);
console.log(`  ois --help          ${cli.help.toFixed(1)} ms = ${(cli.help / cli.node).toFixed(2)}x`);

const s = await startup();
const ratio = s.oisMs / s.bareMs;
console.log(`\nstart-up: ois send vs bare node POST (${s.runs} alternating runs each, after warm-up)`);
console.log(`  ois send        median ${s.oisMs.toFixed(1)} ms  p90 ${s.oisP90.toFixed(1)} ms`);
console.log(`  bare node POST  median ${s.bareMs.toFixed(1)} ms  p90 ${s.bareP90.toFixed(1)} ms`);
console.log(
  `  ratio ${ratio.toFixed(2)}x (target <= 1.5x) ${ratio <= 1.5 ? 'OK' : 'MISSED'}; delivered ${s.delivered}/${s.expected}`,
);

const c = await chatThroughput();
console.log(
  `\nchat log: ${c.writers} processes appending ${c.total / c.writers} entries each to one day's log`,
);
console.log(
  `  ${c.total} entries in ${c.seconds.toFixed(2)} s = ${c.perSecond.toFixed(0)} entries/s (target >= 300) ${c.perSecond >= 300 ? 'OK' : 'MISSED'}`,
);
console.log(
  `  found ${c.found}/${c.total}, torn ${c.torn}, problems ${c.problems} ${c.found === c.total && c.torn === 0 ? 'OK' : 'LOST ENTRIES'}`,
);
const d = await benchDaemon({ root });
const added = d.daemonLat.p50 - d.directLat.p50;
console.log(`\ndaemon: ${d.messages} messages, ${d.concurrency} at a time, into a gateway simulator`);
console.log(`  direct to the gateway   ${d.directRate.toFixed(0)} messages/s`);
console.log(
  `  through ois serve       ${d.daemonRate.toFixed(0)} messages/s (target >= 1000) ${d.daemonRate >= 1000 ? 'OK' : 'MISSED'}`,
);
console.log(
  `  latency direct          p50 ${d.directLat.p50.toFixed(2)} ms  p99 ${d.directLat.p99.toFixed(2)} ms`,
);
console.log(
  `  latency through daemon  p50 ${d.daemonLat.p50.toFixed(2)} ms  p99 ${d.daemonLat.p99.toFixed(2)} ms`,
);
console.log(
  `  added by the daemon     p50 ${added.toFixed(2)} ms (target < 2 ms) ${added < 2 ? 'OK' : 'MISSED'}`,
);
console.log(
  `  idle daemon RSS         ${d.idleRssMb.toFixed(1)} MB (target < 80 MB) ${d.idleRssMb < 80 ? 'OK' : 'MISSED'}`,
);
console.log(
  `    anonymous ${d.idleAnonMb.toFixed(1)} MB, file-backed ${d.idleFileMb.toFixed(1)} MB (mostly the node binary's own code)`,
);
console.log(
  `  RSS under load          ${d.rssSeries.map((x) => `${x.rssMb.toFixed(0)} MB after ${x.sent}`).join(', ')}`,
);
const natsOk = reportNats(await benchNats(), d.daemonRate);
const v = await benchViewer();
console.log(`\nviewer: first page (${v.pageSize} entries) of a day of ${v.entries} entries, server time`);
console.log(
  `  cold (parses the day)   ${v.coldMs.toFixed(1)} ms (target < 200 ms) ${v.coldMs < 200 ? 'OK' : 'MISSED'}`,
);
console.log(`  warm (cached parse)     ${v.warmMs.toFixed(1)} ms`);
const tk = await benchTasks({ root });
console.log(
  `\ntasks: ${tk.runs} round trips between two daemons (send, the assignee completes it, the delegator's daemon has it)`,
);
console.log(`  p50 ${tk.p50.toFixed(0)} ms  p99 ${tk.p99.toFixed(0)} ms  (two ois processes each)`);
const mm = await benchMemory({ root });
console.log(`\nmemory: ${mm.entries} entries from ${mm.authors} authors`);
console.log(`  first index (verify every line)  ${(mm.buildMs / 1000).toFixed(1)} s`);
console.log(
  `  search, warm, index query  p50 ${mm.queryP50.toFixed(1)} ms  p99 ${mm.queryP99.toFixed(1)} ms  (target p50 < 50 ms)`,
);
console.log(`  ois memory search, whole command  p50 ${mm.commandP50.toFixed(0)} ms`);
console.log(
  `  plugin prompt hook (recall + notices)  p50 ${mm.hookP50.toFixed(1)} ms, p99 ${mm.hookP99.toFixed(1)} ms  (target: <= 50 ms p50; ${mm.hookRecalled} of ${mm.hookCount} prompts got recall)`,
);
console.log(
  `  first run after ${mm.fresh} new entries  ${mm.incrementalMs.toFixed(0)} ms  (target < 1000 ms)`,
);
const searchOk = reportSearch(await benchSearch());
const failed =
  !searchOk ||
  !natsOk ||
  ratio > 1.5 ||
  agentsRatio > 1.8 ||
  c.perSecond < 300 ||
  c.found !== c.total ||
  s.delivered !== s.expected ||
  d.daemonRate < 1000 ||
  added >= 2 ||
  d.idleRssMb >= 80 ||
  v.coldMs >= 200 ||
  mm.queryP50 >= 50 ||
  mm.hookP50 > 50;
process.exitCode = failed ? 1 : 0;
