import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonLogger } from '../src/logger.js';
import { serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, type TestTeam } from './helpers/team.js';

let team: TestTeam | undefined;
afterEach(async () => {
  stopDaemons();
  await team?.close();
  team = undefined;
});

async function logOnce(tty: boolean): Promise<string> {
  const stream = Object.assign(new PassThrough(), { isTTY: tty });
  let out = '';
  stream.on('data', (d) => {
    out += d;
  });
  const app = Fastify({ logger: await daemonLogger(stream) });
  app.log.info(
    { req: { headers: { authorization: 'Bearer s3cret-token' } }, peer: { token: 's3cret-token' } },
    'hello log',
  );
  await app.close();
  await new Promise((r) => setImmediate(r));
  return out;
}

describe('logger - the daemon log', () => {
  it('logger - in a terminal: one readable line with the local time, secrets redacted', async () => {
    const out = await logOnce(true);
    expect(out).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO: hello log/m);
    expect(out).not.toMatch(/^\{"level"/m);
    expect(out).not.toContain('s3cret');
  });

  it('logger - elsewhere: JSON lines with ISO times, secrets redacted', async () => {
    const out = await logOnce(false);
    const line = JSON.parse(out.split('\n')[0]!);
    expect(line).toMatchObject({ level: 30, msg: 'hello log' });
    expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(out).not.toContain('s3cret');
  });

  it('logger - ois serve says when it stops on SIGTERM, and when it has stopped', async () => {
    team = await makeTeam(['alpha']);
    const d = await serve(team.agents.alpha!);
    d.child.kill('SIGTERM');
    const code = await new Promise((r) => d.child.on('close', r));
    expect(code).toBe(0);
    const lines = d
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    const msgs = lines.map((l) => JSON.parse(l).msg as string);
    expect(msgs).toContain('stopping on SIGTERM: no new requests, finishing what is in flight');
    expect(msgs.at(-1)).toBe('stopped');
  });
});
