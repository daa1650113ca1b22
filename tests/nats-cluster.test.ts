import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChatEntry } from '../src/chatlog/index.js';
import { appendEntry, readDay } from '../src/chatlog/index.js';
import { newMessageId, SeenStore, signEnvelope } from '../src/federation/index.js';
import {
  connectNatsTeam,
  NatsChatLog,
  NatsInbox,
  type NatsTeam,
  NatsTeamStore,
  sendToInbox,
} from '../src/nats/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { memberBlock } from './helpers/members.js';
import { describeNats, type NatsServers, startNatsCluster, uniqueTeam } from './helpers/nats.js';
import { until } from './helpers/until.js';

const SENDERS = 8;
const EACH = 125; // 8 × 125 = 1,000 chat appends and 1,000 envelopes
const KILL_AFTER = 300;

const senders = Array.from({ length: SENDERS }, (_, i) => ({
  name: `s${i}`,
  key: generateKeyPairSync('ed25519').privateKey,
}));
const registry = parseRegistry(
  [
    '# Team\n',
    ...senders.map((s) => memberBlock(s.name, 'active', s.key)),
    memberBlock('beta', 'active'),
  ].join('\n'),
);

describeNats('nats cluster - three JetStream nodes, replicas 3, one node lost mid-flight', () => {
  let cluster: NatsServers;
  const close: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  }, 60_000);
  afterAll(async () => {
    for (const c of close.splice(0).reverse()) await c();
    await cluster?.stop();
  }, 60_000);

  it('nats cluster - 1,000 chat appends and 1,000 envelopes from 8 senders: nothing lost, nothing twice, each sender in order (log, follower, deliveries)', async () => {
    const team = uniqueTeam('cluster');
    const connect = async (name: string): Promise<NatsTeam> => {
      const t = await connectNatsTeam({
        servers: cluster.servers,
        team,
        name,
        replicas: 3,
        writeDeadlineMs: 60_000,
      });
      close.push(() => t.close());
      return t;
    };
    const beta = await connect('beta');
    const home = await mkdtemp(join(tmpdir(), 'ois-nats-cluster-'));
    close.push(() => rm(home, { recursive: true, force: true }));
    const seen = new SeenStore(home);
    close.push(() => seen.close());
    const delivered: { id: string; from: string; body: string }[] = [];
    const refused: string[] = [];
    const restarts: string[] = [];
    const inbox = await NatsInbox.open(beta, {
      self: 'beta',
      registry: async () => registry,
      seen,
      deliver: async (_text, e) => {
        delivered.push({ id: e.id, from: e.from, body: e.body });
      },
      skewSeconds: 300,
      now: Date.now,
      cursorFile: join(home, 'nats-inbox.json'),
      log: {
        info() {},
        // A reader that lost its node and started again is expected; a refusal or an error is not.
        warn: (f, message) => (message === 'refused' ? refused : restarts).push(JSON.stringify(f)),
        error: (f) => refused.push(JSON.stringify(f)),
      },
    });
    close.push(() => inbox.close());
    // Appends go through the team store, as the commands make them (appendEntry, the day files).
    const stores = await Promise.all(senders.map(async (s) => NatsTeamStore.onTeam(await connect(s.name))));
    const chats = await Promise.all(stores.map((store) => store.chatLog()));
    const links = await Promise.all(senders.map((s) => connect(`${s.name}-send`)));
    // A follower of the chat log (as `ois chat --follow` and the viewer), on its own connection, through
    // the node loss too; its clock says the entries' day.
    const followed: { id: string; from: string; body: string }[] = [];
    const following = new AbortController();
    close.push(() => following.abort());
    let followReady = false;
    const follower = (await NatsChatLog.open(await connect('follower'))).follow(
      {
        signal: following.signal,
        now: () => new Date('2026-11-21T12:00:00.000Z'),
        onReady: () => (followReady = true),
        onError: () => {},
      },
      (e) => followed.push({ id: e.id, from: e.from, body: e.body }),
    );
    await until('the follower to start', () => followReady);

    let appended = 0;
    let sent = 0;
    let killed: { node: string; appended: number; sent: number } | null = null;
    const inboxStream = beta.names.inboxStream('beta');
    const kill = async () => {
      // The node that leads beta's inbox stream: the worst one to lose.
      const leader = (await beta.jsm.streams.info(inboxStream)).cluster?.leader;
      const node = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0]!;
      killed = { node: node.name, appended, sent };
      await node.kill();
    };
    let killing: Promise<void> | null = null;
    const maybeKill = () => {
      if (!killing && appended + sent >= KILL_AFTER * 2) killing = kill();
    };

    const started = Date.now();
    await Promise.all(
      senders.flatMap((s, i) => [
        (async () => {
          for (let k = 0; k < EACH; k++) {
            const at = new Date(Date.UTC(2026, 10, 21, 10, 0, 0, i * EACH + k)).toISOString();
            const entry: ChatEntry = {
              id: newMessageId(Date.parse(at)),
              at,
              from: s.name,
              to: ['beta'],
              kind: 'message',
              body: `${s.name} #${k}`,
              deliveries: [{ to: 'beta', outcome: 'delivered' }],
            };
            await appendEntry(stores[i]!, entry);
            appended++;
            maybeKill();
          }
        })(),
        (async () => {
          for (let k = 0; k < EACH; k++) {
            const now = Date.now();
            const envelope = signEnvelope(
              {
                v: 1,
                id: newMessageId(now),
                from: s.name,
                to: 'beta',
                createdAt: new Date(now).toISOString(),
                body: `${s.name} #${k}`,
              },
              s.key,
            );
            await sendToInbox(links[i]!, envelope);
            sent++;
            maybeKill();
          }
        })(),
      ]),
    );
    await killing;
    const seconds = (Date.now() - started) / 1000;
    // The node went down in the middle, not before or after.
    expect(killed).not.toBeNull();
    expect(killed!.appended + killed!.sent).toBeLessThan(SENDERS * EACH * 2);
    expect(cluster.nodes.filter((n) => n.running)).toHaveLength(2);

    await until('every envelope delivered', () => delivered.length >= SENDERS * EACH, 60_000, 100).catch(
      async (err: Error) => {
        const info = await beta.jsm.streams.info(inboxStream).catch((e: Error) => e.message);
        throw new Error(
          `${err.message}: ${delivered.length} delivered; restarts ${JSON.stringify(restarts)}; killed ${JSON.stringify(killed)}; stream ${JSON.stringify(info)}`,
        );
      },
    );
    await until('the follower saw every entry', () => followed.length >= SENDERS * EACH, 60_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    following.abort();
    await follower;
    const entries = (await chats[0]!.readDay('2026-11-21')).entries;
    // The day file a reader of the store gets (ois chat, the viewer, ois export) holds the same entries.
    expect((await readDay(stores[1]!, '2026-11-21')).entries).toEqual(entries);
    console.log(
      `nats cluster: killed ${killed!.node} after ${killed!.appended} appends and ${killed!.sent} sends; ${SENDERS * EACH * 2} writes in ${seconds.toFixed(1)} s; inbox reader restarts: ${restarts.length}`,
    );

    for (const [what, got] of [
      ['chat log', entries.map((e) => ({ id: e.id, from: e.from, body: e.body }))],
      ['deliveries', delivered],
      ['followed', followed],
    ] as const) {
      expect(got, what).toHaveLength(SENDERS * EACH);
      expect(new Set(got.map((g) => g.id)).size, `${what}: ids once`).toBe(SENDERS * EACH);
      for (const s of senders) {
        expect(
          got.filter((g) => g.from === s.name).map((g) => g.body),
          `${what}: ${s.name} in order`,
        ).toEqual(Array.from({ length: EACH }, (_, k) => `${s.name} #${k}`));
      }
    }
    expect(refused).toEqual([]);
  }, 180_000);
});
