import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTRY } from './e2e/viewer-fixture.js';
import { runOis, tempDir } from './helpers/cli.js';

describe('share - CLI', () => {
  it('share - put, ls, get, rm with --json', async () => {
    const team = await tempDir('ois-team-');
    const home = await tempDir('ois-home-');
    await writeFile(join(team, 'AGENTS.md'), REGISTRY);
    const ois = (args: string[], cwd?: string) => runOis(['--home', home, ...args], cwd ? { cwd } : {});
    const init = await ois(['init', '--name', 'alpha', '--team', team, '--gateway', 'http://127.0.0.1:9']);
    expect(init.stderr).toBe('');
    const work = await tempDir('ois-work-');
    await writeFile(join(work, 'plan.md'), '# Plan\n');

    const put = await ois(['share', 'put', 'plan.md', '--json'], work);
    expect(put.code).toBe(0);
    expect(JSON.parse(put.stdout).file).toMatchObject({ name: 'plan.md', size: 7, uploader: 'alpha' });
    const again = await ois(['share', 'put', 'plan.md'], work);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('OIS_ERR_SHARED_EXISTS');
    expect((await ois(['share', 'put', 'plan.md', '--as', 'plan.md', '--force'], work)).code).toBe(0);
    expect((await ois(['share', 'put', 'plan.md', '--as', '../escape.md'], work)).code).toBe(2);

    const ls = await ois(['share', 'ls', '--json']);
    expect(JSON.parse(ls.stdout).files.map((f: { name: string }) => f.name)).toEqual(['plan.md']);
    const out = join(work, 'copy.md');
    expect((await ois(['share', 'get', 'plan.md', '--out', out])).code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('# Plan\n');
    expect((await ois(['share', 'get', 'plan.md', '--out', out])).code).toBe(2);
    expect((await ois(['share', 'rm', 'plan.md'])).code).toBe(0);
    expect((await ois(['share', 'get', 'plan.md'])).code).toBe(2);
  });
});
