import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OIS_BIN } from './helpers/cli.js';

/** Starts `ois gateway-sim` on a free port and resolves once it listens (its one JSON document). */
async function startSim(): Promise<{ child: ReturnType<typeof spawn>; url: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [OIS_BIN, 'gateway-sim', '--token-env', 'SIM_TOKEN', '--port', '0', '--json'],
    { env: { PATH: process.env.PATH, SIM_TOKEN: 'sim-token-0123456789' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway-sim did not start: ${err}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      try {
        const doc = JSON.parse(out) as { url: string };
        clearTimeout(timer);
        resolve(doc.url);
      } catch {}
    });
  });
  return { child, url, stderr: () => err };
}

describe('cli - signals', () => {
  it('cli - a service stopped by SIGTERM exits 0 after a clean stop; Ctrl-C is still 130', async () => {
    for (const [signal, expected] of [
      ['SIGTERM', 0],
      ['SIGINT', 130],
    ] as const) {
      const sim = await startSim();
      expect((await fetch(`${sim.url}/`)).status).toBeLessThan(500);
      const closed = new Promise<number | null>((r) => sim.child.on('close', r));
      sim.child.kill(signal);
      expect(await closed, sim.stderr()).toBe(expected);
      // Stopped for real: the port no longer answers.
      await expect(fetch(`${sim.url}/`)).rejects.toThrow();
    }
  });
});
