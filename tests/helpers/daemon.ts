import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OisError } from '../../src/errors.js';
import { type PostEnvelopeResult, postEnvelope } from '../../src/federation/client.js';
import {
  loadIdentity,
  newMessageId,
  signEnvelope,
  type UnsignedEnvelope,
} from '../../src/federation/index.js';
import { OIS_BIN } from './cli.js';
import type { TestAgent } from './team.js';

const daemons: ChildProcess[] = [];

/** Kills every daemon `serve` started (call in afterEach). */
export function stopDaemons(): void {
  for (const d of daemons.splice(0)) if (d.exitCode === null) d.kill('SIGKILL');
}

export interface Daemon {
  child: ChildProcess;
  url: string;
  port: number;
  stderr: () => string;
  stdout: () => string;
}

/** Starts `ois serve` for an agent (its own gateway token stored first) and waits for its state file. */
export async function serve(
  a: TestAgent,
  port = 0,
  options: { env?: Record<string, string>; args?: string[]; keepToken?: boolean } = {},
): Promise<Daemon> {
  if (!options.keepToken) await a.ois(['secrets', 'set', a.name, '--token-stdin'], { input: a.token });
  const child = spawn(process.execPath, [OIS_BIN, '--home', a.home, 'serve', ...(options.args ?? [])], {
    env: {
      PATH: process.env.PATH,
      HOME: a.home,
      OIS_SERVE_PORT: String(port),
      OIS_PRESENCE_INTERVAL_MS: '200',
      ...options.env,
    },
  });
  daemons.push(child);
  let err = '';
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    let state: { pid?: number; url: string; port: number } | null = null;
    try {
      state = JSON.parse(await readFile(join(a.home, 'daemon.json'), 'utf8'));
    } catch {}
    if (state !== null && state.pid === child.pid) {
      const { url, port } = state;
      // The banner follows the state file by a moment, a line at a time: wait for its gateway line (or for
      // the JSON start document).
      const until = Date.now() + 3000;
      const whole = () => out.includes('\ngateway: ') || out.trimStart().startsWith('{');
      while (!(whole() && out.endsWith('\n')) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
      return { child, url, port, stderr: () => err, stdout: () => out };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ois serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Signs an envelope with the key in `signerHome` (whatever `from` it claims) and posts it straight to the
 * daemon that serves `targetHome`, as a member who bypasses `ois send` would. Resolves to the daemon's
 * answer, or to the OisError it refused with.
 */
export async function postSigned(
  signerHome: string,
  targetHome: string,
  fields: Pick<UnsignedEnvelope, 'from' | 'to' | 'body'> & Partial<UnsignedEnvelope>,
): Promise<PostEnvelopeResult | OisError> {
  const identity = (await loadIdentity(signerHome))!;
  const { url } = JSON.parse(await readFile(join(targetHome, 'daemon.json'), 'utf8')) as { url: string };
  const envelope = signEnvelope(
    { v: 1, id: newMessageId(), createdAt: new Date().toISOString(), ...fields },
    identity.privateKey,
  );
  return postEnvelope(url, envelope, { connectTimeoutMs: 2000, timeoutMs: 5000, retries: 0 }).catch(
    (e: OisError) => e,
  );
}
