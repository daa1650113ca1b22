import { execFile } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OIS_BIN, runOis, tempDir } from './helpers/cli.js';
import { ROOT } from './helpers/spec-blocks.js';

const run = promisify(execFile);

/** The modules one `ois` run loads, recorded by tests/helpers/record-modules.mjs. */
async function modulesOf(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const dir = await tempDir('ois-startup-');
  const file = join(dir, 'modules.txt');
  await run(
    process.execPath,
    ['--import', join(ROOT, 'tests', 'helpers', 'record-modules.mjs'), OIS_BIN, ...args],
    {
      env: { PATH: process.env.PATH, HOME: dir, OIS_RECORD_MODULES: file, ...env },
    },
  );
  return (await readFile(file, 'utf8')).split('\n');
}

describe('startup - a command loads only what it needs', () => {
  it('startup - ois runs from the bundle, and ois agents --json loads no undici, fastify, pino or node:sqlite', async () => {
    const dir = await tempDir('ois-startup-team-');
    const home = join(dir, 'home');
    expect(
      (await runOis(['--home', home, 'init', '--name', 'alpha', '--team', join(dir, 'team')])).code,
    ).toBe(0);
    expect((await runOis(['--home', home, 'join'])).code).toBe(0);
    const loaded = await modulesOf(['--home', home, 'agents', '--json']);
    expect(loaded.some((m) => m.includes('dist/bundle/main.cjs'))).toBe(true);
    expect(loaded.some((m) => m.includes('dist/bundle/commands/agents.cjs'))).toBe(true);
    const heavy = loaded.filter((m) =>
      /node_modules\/(undici|fastify|pino|@fastify)\/|^node:(sqlite|http|net|crypto)$/.test(m),
    );
    expect(heavy).toEqual([]);
    // Two files of ours: the entry and the command.
    const ours = new Set(loaded.filter((m) => m.includes('/dist/')).map((m) => m.slice(m.indexOf('/dist/'))));
    expect([...ours].sort()).toEqual(['/dist/bundle/commands/agents.cjs', '/dist/bundle/main.cjs']);
  });

  it('startup - ois send loads only the HTTP/1.1 part of undici: no http2, tls, zlib or worker threads', async () => {
    const { makeTeam } = await import('./helpers/team.js');
    const team = await makeTeam(['alpha', 'beta']);
    try {
      const alpha = team.agents.alpha!;
      const loaded = await modulesOf(['--home', alpha.home, 'send', 'beta', 'hi'], { OIS_SEND_RETRIES: '1' });
      expect(team.agents.beta!.sim.transcript('agent:main:main')).toHaveLength(1);
      expect(loaded.filter((m) => /^node:(http2|tls|zlib|worker_threads|dns)$/.test(m))).toEqual([]);
    } finally {
      await team.close();
    }
  });

  it('startup - ois serve runs fastify from its bundle and, idle or delivering, never loads node:tls, https or http2', async () => {
    const { makeTeam } = await import('./helpers/team.js');
    const { postSigned, serve, stopDaemons } = await import('./helpers/daemon.js');
    const team = await makeTeam(['alpha', 'beta']);
    try {
      const { alpha, beta } = team.agents;
      const file = join(await tempDir('ois-startup-serve-'), 'modules.txt');
      const helper = join(ROOT, 'tests', 'helpers', 'record-modules.mjs');
      const d = await serve(beta!, 0, {
        env: { NODE_OPTIONS: `--import=${helper}`, OIS_RECORD_MODULES: file },
      });
      const answer = await postSigned(alpha!.home, beta!.home, { from: 'alpha', to: 'beta', body: 'hi' });
      expect(answer).toMatchObject({ status: 'delivered' });
      expect(beta!.sim.transcript('agent:main:main')).toHaveLength(1);
      const exited = new Promise((r) => d.child.once('exit', r));
      d.child.kill('SIGTERM');
      await exited;
      const loaded = (await readFile(file, 'utf8')).split('\n');
      expect(loaded.some((m) => m.includes('dist/bundle/commands/serve.cjs'))).toBe(true);
      expect(loaded.filter((m) => /node_modules\/(fastify|@fastify)\//.test(m))).toEqual([]);
      expect(loaded.filter((m) => /^(node|builtin):(tls|https|http2)$/.test(m))).toEqual([]);
    } finally {
      stopDaemons();
      await team.close();
    }
  }, 30_000);

  it('startup - ois --help and --version load no command at all', async () => {
    for (const args of [['--help'], ['--version']]) {
      const loaded = await modulesOf(args);
      expect(
        loaded.filter((m) => m.includes('dist/bundle/commands/')),
        args.join(' '),
      ).toEqual([]);
      expect(loaded.filter((m) => /node_modules\/(undici|fastify)\//.test(m))).toEqual([]);
    }
  });
});

describe('startup - compiled code kept across runs', () => {
  /** A copy of the entry and the bundles, so a test can rebuild "its" bundle without touching dist/. */
  async function copyOfOis(): Promise<{ bin: string; main: string; cache: string }> {
    const dir = await tempDir('ois-startup-cache-');
    await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    await cp(join(ROOT, 'dist', 'bundle'), join(dir, 'dist', 'bundle'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
    return {
      bin: join(dir, 'bin', 'ois.js'),
      main: join(dir, 'dist', 'bundle', 'main.cjs'),
      cache: join(dir, 'compile-cache'),
    };
  }
  const version = async (bin: string, env: Record<string, string>) =>
    (await run(process.execPath, [bin, '--version'], { env: { PATH: process.env.PATH, ...env } })).stdout;
  /** The files ois keeps in Node's compile cache folder (one per bundle). */
  async function kept(cache: string): Promise<string[]> {
    const [sub] = await readdir(cache);
    return readdir(join(cache, sub!, 'ois')).catch(() => []);
  }

  it('startup - the code of a bundle is kept, and a rebuilt bundle of the same size never runs the old code', async () => {
    const ois = await copyOfOis();
    const env = { NODE_COMPILE_CACHE: ois.cache };
    expect(await version(ois.bin, env)).toBe('0.1.0\n');
    expect((await kept(ois.cache)).filter((f) => f.endsWith('-main.cjs.none'))).toHaveLength(1);
    expect(await version(ois.bin, env)).toBe('0.1.0\n');
    // V8 checks a cache against the source's length only: the same length with other code must not pass.
    const text = await readFile(ois.main, 'utf8');
    await writeFile(ois.main, text.replace('var VERSION = "0.1.0"', 'var VERSION = "9.9.9"'));
    expect(await version(ois.bin, env)).toBe('9.9.9\n');
    // A damaged cache file is refused by V8 and written again.
    const [file] = (await kept(ois.cache)).filter((f) => f.endsWith('-main.cjs.none'));
    const path = join(ois.cache, (await readdir(ois.cache))[0]!, 'ois', file!);
    const data = await readFile(path);
    await writeFile(path, Buffer.concat([data.subarray(0, data.indexOf(10) + 1), Buffer.alloc(64, 7)]));
    expect(await version(ois.bin, env)).toBe('9.9.9\n');
    expect((await readFile(path)).length).toBeGreaterThan(1000);
    expect(await version(ois.bin, env)).toBe('9.9.9\n');
  });

  it('startup - NODE_DISABLE_COMPILE_CACHE keeps nothing', async () => {
    const ois = await copyOfOis();
    const env = { NODE_COMPILE_CACHE: ois.cache, NODE_DISABLE_COMPILE_CACHE: '1' };
    expect(await version(ois.bin, env)).toBe('0.1.0\n');
    expect(await readdir(ois.cache).catch(() => [])).toEqual([]);
  });
});
