import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './helpers/cli.js';
import { ROOT } from './helpers/spec-blocks.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('readme - the newcomer path', () => {
  it('readme - .ci/run runs the two commands the README gives', () => {
    const blocks = [...readme.matchAll(/```bash\n([^\n]+)\n```/g)].map((m) => m[1]!);
    expect(blocks).toHaveLength(2);
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    for (const command of blocks) expect(ci).toContain(`{ ${command}; } || exit 1`);
    expect(blocks[1]).toContain('npm test');
  });

  it('readme - the quick start runs as written: two instances message each other by name', {
    timeout: 60_000,
  }, async () => {
    const block = /```bash quickstart\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    // The README uses fixed ports; here they must not collide with anything else on the machine.
    const script = block!
      .replaceAll('18901', String(await freePort()))
      .replaceAll('19021', String(await freePort()));
    const child = spawn('bash', ['-e', '-c', script], {
      cwd: ROOT,
      env: {
        PATH: `${join(ROOT, 'bin')}:${dirname(process.execPath)}:${process.env.PATH}`,
        HOME: process.env.HOME,
        npm_config_update_notifier: 'false',
      },
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 55_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    expect(out).toMatch(/delivered to beta in/);
    expect(out).toMatch(/delivered to alpha in/);
    expect(out).toMatch(/alpha replied in/);
    expect(out).toMatch(
      /alpha → beta {2}\[delivered [\d.]+ s\]\n {4}Hi beta, can you review shared\/plan\.md\?/,
    );
    expect(out).toMatch(/beta → alpha {2}\[delivered [\d.]+ s\]\n {4}Done: two nits, otherwise fine\.\n/);
    expect(code).toBe(0);
  });
});
