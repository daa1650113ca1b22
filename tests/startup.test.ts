import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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
