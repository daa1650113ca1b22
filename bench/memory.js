// The memory share of `npm run bench` (issue 13): `ois memory search` over 100,000 entries from 8 authors
// (p50 warm, the index query in-process and the whole command), and how long the first run after 1,000
// new entries takes to bring the index up to date.
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadIdentity } from '../dist/membership/index.js';
import { nextHlc, openMemory, signLine } from '../dist/memory/index.js';
import { promptContext, resolvePluginConfig } from '../dist/plugin/index.js';
import { FsTeamStore } from '../dist/team/index.js';

const run = promisify(execFile);
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const WORDS =
  'backup disk nas volume schedule wiki deploy prod staging build cache report summary research paper model gpu cpu memory network zerotier gateway token session agent task review code test bench kernel docker image photo video music invoice budget travel meeting calendar garden recipe'.split(
    ' ',
  );

function sentence(i) {
  const w = (k) => WORDS[(i * 7 + k * 13) % WORDS.length];
  return `note ${i}: ${w(1)} ${w(2)} ${w(3)} for the ${w(4)} of ${w(5)}, checked ${i % 28} days ago`;
}

export async function benchMemory({ root, entries = 100_000, authors = 8, fresh = 1000, queries = 50 }) {
  const ois = join(root, 'bin', 'ois.js');
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-memory-'));
  const env = { PATH: process.env.PATH, HOME: dir };
  try {
    const team = join(dir, 'team');
    const names = Array.from({ length: authors }, (_, i) => `agent${i}`);
    for (const name of names) {
      await run(process.execPath, [ois, '--home', join(dir, name), 'init', '--name', name, '--team', team], {
        env,
      });
      await run(process.execPath, [ois, '--home', join(dir, name), 'join'], { env });
      if (name !== names[0])
        await run(process.execPath, [ois, '--home', join(dir, names[0]), 'members', 'approve', name], {
          env,
        });
    }
    const keys = await Promise.all(names.map((n) => loadIdentity(join(dir, n))));
    await mkdir(join(team, 'memory'), { recursive: true });
    const write = async (from, count, append) => {
      const per = names.map(() => []);
      let hlc = null;
      for (let i = from; i < from + count; i++) {
        const a = i % authors;
        hlc = nextHlc(hlc, 1_780_000_000_000 + i);
        per[a].push(
          JSON.stringify(
            signLine(
              {
                v: 1,
                op: 'put',
                key: `k/${i}`,
                scope: 'team',
                tags: [WORDS[i % WORDS.length]],
                value: sentence(i),
                author: names[a],
                hlc,
              },
              keys[a].privateKey,
            ),
          ),
        );
      }
      for (const [a, lines] of per.entries()) {
        const file = join(team, 'memory', `${names[a]}.jsonl`);
        const text = `${lines.join('\n')}\n`;
        if (append) await appendFile(file, text);
        else await writeFile(file, text);
      }
    };
    await write(0, entries, false);
    const reader = { self: names[1], home: join(dir, names[1]), store: new FsTeamStore(team) };
    let t = performance.now();
    (await openMemory(reader)).close();
    const buildMs = performance.now() - t;
    const mem = await openMemory(reader);
    const times = [];
    for (let q = 0; q < queries; q++) {
      t = performance.now();
      mem.index.search(`${WORDS[q % WORDS.length]} ${WORDS[(q * 3) % WORDS.length]} schedule`, 10);
      times.push(performance.now() - t);
    }
    mem.close();
    // The whole command, warm: a process that checks the files for news and searches.
    const cmd = [];
    for (let q = 0; q < 10; q++) {
      t = performance.now();
      await run(
        process.execPath,
        [ois, '--home', reader.home, 'memory', 'search', `${WORDS[q]} backup`, '--json'],
        { env },
      );
      cmd.push(performance.now() - t);
    }
    // The OpenClaw plugin's prompt hook (issue 14): what it adds to a prompt, in the gateway's process, warm
    // (the gateway keeps the plugin loaded): notices and recall for the request, with a budget it never hits.
    const plugin = resolvePluginConfig({ home: reader.home, hookTimeoutMs: 5000 });
    const hook = [];
    let recalled = 0;
    for (let q = 0; q < queries + 5; q++) {
      t = performance.now();
      const added = await promptContext(
        {
          currentUserMessage: `when is the ${WORDS[q % WORDS.length]} ${WORDS[(q * 5) % WORDS.length]} scheduled?`,
        },
        plugin,
      );
      if (q >= 5) hook.push(performance.now() - t);
      if (added.parts.memory > 0) recalled++;
    }
    await write(entries, fresh, true);
    t = performance.now();
    (await openMemory(reader)).close();
    const incrementalMs = performance.now() - t;
    return {
      entries,
      authors,
      buildMs,
      queryP50: pct(times, 50),
      queryP99: pct(times, 99),
      commandP50: pct(cmd, 50),
      hookP50: pct(hook, 50),
      hookP99: pct(hook, 99),
      hookRecalled: recalled,
      hookCount: queries + 5,
      fresh,
      incrementalMs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
