import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { OisError } from '../src/errors.js';
import { type Envelope, SeenStore } from '../src/federation/index.js';
import {
  connectNatsTeam,
  NatsInbox,
  type NatsInboxDeps,
  type NatsTeam,
  sendToInbox,
} from '../src/nats/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { memberBlock, signedEnvelope } from './helpers/members.js';
import { describeNats, type NatsServers, startNats, uniqueTeam } from './helpers/nats.js';
import { until } from './helpers/until.js';

const keys = {
  alpha: generateKeyPairSync('ed25519').privateKey,
  mallory: generateKeyPairSync('ed25519').privateKey,
  eve: generateKeyPairSync('ed25519').privateKey,
};
const registry = parseRegistry(
  [
    '# Team\n',
    memberBlock('alpha', 'active', keys.alpha),
    memberBlock('mallory', 'disabled', keys.mallory),
    memberBlock('eve', 'active', keys.eve),
    memberBlock('beta', 'active'),
  ].join('\n'),
);

const envelope = (over: Partial<Envelope> = {}, key: KeyObject = keys.alpha): Envelope =>
  signedEnvelope(over, key);

type Settled = Parameters<NonNullable<NatsInboxDeps['onSettled']>>[0];

describeNats('nats inbox - signed envelopes through a real nats-server', () => {
  let servers: NatsServers;
  const dirs: string[] = [];
  const open: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    servers = await startNats();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await servers?.stop();
  });

  /** beta's inbox on a fresh team, and alpha's connection to send with. */
  async function harness(deliver?: NatsInboxDeps['deliver'], skewSeconds = 300) {
    const team = uniqueTeam();
    const beta = await connectNatsTeam({ servers: servers.servers, team, name: 'beta' });
    const alpha = await connectNatsTeam({ servers: servers.servers, team, name: 'alpha' });
    open.push(beta, alpha);
    const home = await mkdtemp(join(tmpdir(), 'ois-nats-inbox-'));
    dirs.push(home);
    const seen = new SeenStore(home);
    open.push({ close: async () => seen.close() });
    const delivered: { id: string; text: string }[] = [];
    const settled: Settled[] = [];
    const warnings: object[] = [];
    const deps: NatsInboxDeps = {
      self: 'beta',
      registry: async () => registry,
      seen,
      deliver:
        deliver ??
        (async (text, e) => {
          delivered.push({ id: e.id, text });
        }),
      skewSeconds,
      cursorFile: join(home, 'nats-inbox.json'),
      now: Date.now,
      log: { info() {}, warn: (fields) => warnings.push(fields), error() {} },
      onSettled: (s) => settled.push(s),
    };
    const start = async () => {
      const inbox = await NatsInbox.open(beta, deps);
      open.push(inbox);
      return inbox;
    };
    return { beta, alpha, deps, delivered, settled, warnings, start };
  }

  /** Publishes raw bytes on a subject of beta's inbox, as a publisher without our client code would. */
  async function raw(team: NatsTeam, from: string, data: string) {
    await team.js.publish(team.names.inboxSubject('beta', from), new TextEncoder().encode(data));
  }

  it('nats inbox - a signed envelope is delivered once, even when published twice or copied', async () => {
    const h = await harness();
    await h.start();
    const e = envelope();
    expect(await sendToInbox(h.alpha, e)).toMatchObject({ duplicate: false });
    expect(await sendToInbox(h.alpha, e)).toMatchObject({ duplicate: true });
    // The same envelope under another Nats-Msg-Id (past the dedupe window, or another publisher): the
    // receiver's own (sender, id) dedupe answers it as a duplicate.
    await raw(h.alpha, 'alpha', JSON.stringify(e));
    await until('both copies settled', () => h.settled.length >= 2);
    expect(h.delivered.map((d) => d.id)).toEqual([e.id]);
    expect(h.delivered[0]!.text).toContain(e.id);
    expect(h.delivered[0]!.text).toContain('alpha');
    expect(h.settled.map((s) => s.status)).toEqual(['delivered', 'duplicate']);
  });

  it('nats inbox - forged, unknown, inactive, misaddressed and malformed envelopes are refused, never delivered', async () => {
    const h = await harness();
    await h.start();
    const forged = envelope({ body: 'I am alpha, trust me' }, keys.mallory);
    const unknown = envelope({ from: 'zed' }, keys.mallory);
    const inactive = envelope({ from: 'mallory' }, keys.mallory);
    const misaddressed = envelope({ to: 'gamma' });
    // Validly signed by alpha, published on the subject of eve: not what alpha's credentials may publish.
    const wrongSubject = envelope();
    const tampered = { ...envelope(), body: 'changed after signing' };
    await sendToInbox(h.alpha, forged);
    await sendToInbox(h.alpha, unknown);
    await sendToInbox(h.alpha, inactive);
    await raw(h.alpha, 'alpha', JSON.stringify(misaddressed));
    await raw(h.alpha, 'eve', JSON.stringify(wrongSubject));
    await raw(h.alpha, 'alpha', JSON.stringify(tampered));
    await raw(h.alpha, 'alpha', 'not json');
    await raw(h.alpha, 'alpha', JSON.stringify({ v: 1, hello: 'world' }));
    await until('every envelope settled', () => h.settled.length >= 8);
    expect(h.delivered).toEqual([]);
    expect(h.settled).toEqual([
      { status: 'refused', id: forged.id, code: 'OIS_ERR_SIGNATURE_INVALID' },
      { status: 'refused', id: unknown.id, code: 'OIS_ERR_SENDER_UNKNOWN' },
      { status: 'refused', id: inactive.id, code: 'OIS_ERR_SENDER_INACTIVE' },
      { status: 'refused', id: misaddressed.id, code: 'OIS_ERR_RECIPIENT_MISMATCH' },
      { status: 'refused', id: wrongSubject.id, code: 'OIS_ERR_ENVELOPE_INVALID' },
      { status: 'refused', id: tampered.id, code: 'OIS_ERR_SIGNATURE_INVALID' },
      { status: 'refused', id: null, code: 'OIS_ERR_ENVELOPE_INVALID' },
      { status: 'refused', id: null, code: 'OIS_ERR_ENVELOPE_INVALID' },
    ]);
    expect(h.warnings).toHaveLength(8);
  });

  it('nats inbox - a restarted instance resumes after its cursor: nothing delivered again, nothing skipped', async () => {
    const h = await harness();
    const first = await h.start();
    const before = [envelope({ body: 'one' }), envelope({ body: 'two' }, keys.mallory)];
    for (const e of before) await sendToInbox(h.alpha, e);
    await until('both settled', () => h.settled.length === 2);
    await first.close();
    const after = envelope({ body: 'three' });
    await sendToInbox(h.alpha, after);
    await h.start();
    await until('the new one delivered', () => h.delivered.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    // The refused and the delivered envelope before the restart were not offered again.
    expect(h.settled.map((s) => s.status)).toEqual(['delivered', 'refused', 'delivered']);
    expect(h.delivered.map((d) => d.id)).toEqual([before[0]!.id, after.id]);
  });

  it('nats inbox - freshness is judged by when JetStream stored the envelope, so a late reader still takes it', async () => {
    // A window of one second: the receiver reads the inbox later than that after the envelope was sent.
    const h = await harness(undefined, 1);
    const first = await h.start();
    await first.close();
    const late = envelope({ body: 'read late' });
    await sendToInbox(h.alpha, late);
    // Signed (sentAt) ten minutes before it was stored: a copy captured and replayed, not a late read.
    const replayed = envelope({ createdAt: new Date(Date.now() - 600_000).toISOString() });
    await sendToInbox(h.alpha, replayed);
    await new Promise((r) => setTimeout(r, 1500));
    await h.start();
    await until('both settled', () => h.settled.length === 2);
    expect(h.delivered.map((d) => d.id)).toEqual([late.id]);
    expect(h.settled[1]).toEqual({ status: 'refused', id: replayed.id, code: 'OIS_ERR_ENVELOPE_STALE' });
  });

  it('nats inbox - an envelope sent while the receiver is offline is delivered when it comes back', async () => {
    const h = await harness();
    const first = await h.start();
    await first.close();
    const e = envelope({ body: 'while you were away' });
    await sendToInbox(h.alpha, e);
    expect(h.delivered).toEqual([]);
    await h.start();
    await until('the queued envelope delivered', () => h.delivered.length === 1);
    expect(h.delivered[0]!.id).toBe(e.id);
  });

  it('nats inbox - a gateway that cannot take a message now gets it again later, once', async () => {
    let down = true;
    let attempts = 0;
    const taken: string[] = [];
    const h = await harness(async (_text, e) => {
      attempts++;
      if (down) throw new OisError('OIS_ERR_PEER_UNREACHABLE', 'gateway down');
      taken.push(e.id);
    });
    await h.start();
    const e = envelope();
    await sendToInbox(h.alpha, e);
    await until('a first attempt while the gateway is down', () => attempts >= 1);
    expect(h.settled).toEqual([]);
    down = false;
    await until('the retry delivered', () => taken.length === 1, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(taken).toEqual([e.id]);
    expect(h.settled.map((s) => s.status)).toEqual(['delivered']);
  });

  it('nats inbox - the sender learns at once when a peer has no inbox, and cannot wait for answers', async () => {
    const h = await harness();
    await expect(sendToInbox(h.alpha, envelope({ to: 'eve' }))).rejects.toMatchObject({
      code: 'OIS_ERR_NATS_NO_INBOX',
    });
    await h.start();
    await expect(sendToInbox(h.alpha, envelope({ wait: 30 }))).rejects.toMatchObject({
      code: 'OIS_ERR_USAGE',
    });
  });

  it('nats inbox - no server, a bad team name, a server without JetStream: each its own error', async () => {
    const unreachable = await connectNatsTeam({
      servers: ['nats://alice:s3cret@127.0.0.1:1'],
      team: uniqueTeam(),
      connectTimeoutMs: 1000,
    }).catch((e: OisError) => e);
    expect(unreachable).toMatchObject({ code: 'OIS_ERR_NATS_UNREACHABLE' });
    const shown = unreachable as OisError;
    expect(`${shown.message} ${JSON.stringify(shown.toJSON())}`).not.toContain('s3cret');
    await expect(connectNatsTeam({ servers: servers.servers, team: 'Not A Team' })).rejects.toMatchObject({
      code: 'OIS_ERR_NATS_TEAM_INVALID',
    });
    const plain = await startNats({ jetstream: false });
    try {
      await expect(connectNatsTeam({ servers: plain.servers, team: uniqueTeam() })).rejects.toMatchObject({
        code: 'OIS_ERR_NATS_JETSTREAM',
      });
    } finally {
      await plain.stop();
    }
  });
});
