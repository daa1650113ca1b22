import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { main } from '../src/cli/main.js';
import { captured } from './helpers/streams.js';

async function runInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = captured();
  const err = captured();
  const { stream: stdout } = out;
  const { stream: stderr } = err;
  const code = await main({
    argv,
    env: { HOME: '/nonexistent' },
    stdin: new PassThrough(),
    stdout,
    stderr,
    cwd: '/',
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('cli - command metadata', () => {
  it('cli - commands are listed in name order, once each', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
  });

  for (const entry of COMMANDS) {
    it(`cli - ${entry.name} has consistent metadata and help`, async () => {
      const { spec } = await entry.load();
      expect(spec.name).toBe(entry.name);
      expect(spec.summary).toBe(entry.summary);
      expect(spec.usage.length).toBeGreaterThan(0);
      for (const u of spec.usage) expect(u.startsWith(spec.name)).toBe(true);
      for (const [flag, o] of Object.entries(spec.options)) {
        expect(flag).toMatch(/^[a-z][a-z-]*$/);
        expect(o.description.length).toBeGreaterThan(5);
      }
      const help = await runInProcess([entry.name, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`ois ${entry.name}: ${entry.summary}`);
      for (const flag of Object.keys(spec.options)) expect(help.stdout).toContain(`--${flag}`);
      expect(help.stdout).toContain('--json');
    });
  }

  it('cli - the main help lists every command; an unknown command is a usage error', async () => {
    const help = await runInProcess(['--help']);
    for (const c of COMMANDS) expect(help.stdout).toContain(c.name);
    const bad = await runInProcess(['sned', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^error OIS_ERR_UNKNOWN_COMMAND: unknown command "sned"\n {2}hint: did you mean send/,
    );
  });

  it('cli - an unknown flag is a usage error with the command help named', async () => {
    const r = await runInProcess(['agents', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error OIS_ERR_USAGE');
    expect(r.stderr).toContain('see: ois agents --help');
  });

  it('cli - --json errors are one JSON document on stdout', async () => {
    const r = await runInProcess(['send', 'beta', 'hi', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'OIS_ERR_CONFIG_MISSING' } });
  });
});
