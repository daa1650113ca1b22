// The daemon's share of `npm run bench`: messages per second through `ois serve` into a fast gateway
// simulator against the same messages sent directly to the simulator, the latency the daemon adds, and
// the resident memory of an idle daemon. Goals (issue 4): adds < 2 ms at p50, >= 1,000 messages/s, idles
// under 80 MB.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { loadIdentity, newMessageId, signEnvelope } from '../dist/federation/index.js';
import { startGatewaySimulator } from '../dist/simulator/index.js';

const run = promisify(execFile);
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

export async function benchDaemon({ root, messages = 3000, concurrency = 16, latencyRuns = 400 }) {
  const ois = join(root, 'bin', 'ois.js');
  const token = randomBytes(24).toString('hex');
  const sim = await startGatewaySimulator({ token });
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-daemon-'));
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    OIS_TOKEN_BETA: token,
    OIS_SERVE_RATE_LIMIT: '100000',
    OIS_SERVE_PORT: '0',
  };
  const team = join(dir, 'team');
  let daemon;
  try {
    for (const [name, gw] of [
      ['alpha', 'http://127.0.0.1:9'],
      ['beta', sim.url],
    ]) {
      await run(
        process.execPath,
        [ois, '--home', join(dir, name), 'init', '--name', name, '--team', team, '--gateway', gw],
        { env },
      );
      await run(process.execPath, [ois, '--home', join(dir, name), 'join'], { env });
    }
    // alpha founded the team; beta's join request is approved as a real team's would be.
    await run(process.execPath, [ois, '--home', join(dir, 'alpha'), 'members', 'approve', 'beta'], { env });
    daemon = spawn(process.execPath, [ois, '--home', join(dir, 'beta'), 'serve', '--quiet'], {
      env,
      stdio: 'ignore',
    });
    let state;
    for (let i = 0; i < 200 && !state; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await readFile(join(dir, 'beta', 'daemon.json'), 'utf8').then(JSON.parse, () => undefined);
    }
    if (!state) throw new Error('the daemon did not start');
    const { privateKey } = await loadIdentity(join(dir, 'alpha'));
    const envelope = () =>
      JSON.stringify(
        signEnvelope(
          {
            v: 1,
            id: newMessageId(),
            from: 'alpha',
            to: 'beta',
            createdAt: new Date().toISOString(),
            body: 'benchmark message',
          },
          privateKey,
        ),
      );
    const directBody = () =>
      JSON.stringify({
        tool: 'sessions_send',
        args: {
          sessionKey: 'agent:main:main',
          message: `[OIS alpha → beta · ${newMessageId()} · x]\nbenchmark message`,
          timeoutSeconds: 0,
        },
      });

    const daemonPool = new Pool(state.url, { connections: concurrency });
    const simPool = new Pool(sim.url, { connections: concurrency });
    const viaDaemon = async (body) => {
      const r = await daemonPool.request({
        method: 'POST',
        path: '/v1/messages',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await r.body.text();
      if (r.statusCode !== 202) throw new Error(`daemon answered ${r.statusCode}`);
    };
    const direct = async (body) => {
      const r = await simPool.request({
        method: 'POST',
        path: '/tools/invoke',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`gateway answered ${r.statusCode}`);
    };

    // Idle memory first, after the daemon settled.
    await new Promise((r) => setTimeout(r, 3000));
    const status = await readFile(`/proc/${daemon.pid}/status`, 'utf8');
    const mb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]) / 1024;
    const idleRssMb = mb('VmRSS');
    const idleAnonMb = mb('RssAnon');
    const idleFileMb = mb('RssFile');
    const mb2 = (text, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)[1]) / 1024;

    const throughput = async (send, makeBody) => {
      const bodies = Array.from({ length: messages }, makeBody);
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < bodies.length) await send(bodies[next++]);
        }),
      );
      return messages / ((performance.now() - started) / 1000);
    };
    const latency = async (send, makeBody) => {
      const times = [];
      for (let i = 0; i < latencyRuns; i++) {
        const body = makeBody();
        const t = performance.now();
        await send(body);
        times.push(performance.now() - t);
      }
      return { p50: pct(times, 50), p99: pct(times, 99) };
    };
    // Warm both paths, then measure them alternately.
    await throughput(direct, directBody);
    await throughput(viaDaemon, envelope);
    const directRate = await throughput(direct, directBody);
    const daemonRate = await throughput(viaDaemon, envelope);
    const directLat = await latency(direct, directBody);
    const daemonLat = await latency(viaDaemon, envelope);
    // Does the daemon's memory level off under load? RSS after each further round of messages.
    const rssSeries = [];
    let sent = messages * 2 + latencyRuns;
    for (let round = 0; round < 4; round++) {
      await throughput(viaDaemon, envelope);
      sent += messages;
      rssSeries.push({ sent, rssMb: mb2(await readFile(`/proc/${daemon.pid}/status`, 'utf8'), 'VmRSS') });
    }
    const delivered = sim.requests.length;
    await daemonPool.close();
    await simPool.close();
    return {
      messages,
      concurrency,
      directRate,
      daemonRate,
      directLat,
      daemonLat,
      idleRssMb,
      idleAnonMb,
      idleFileMb,
      rssSeries,
      delivered,
    };
  } finally {
    daemon?.kill('SIGTERM');
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}
