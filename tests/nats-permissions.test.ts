import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { createUser, type KeyPair } from '@nats-io/nkeys';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEntry } from '../src/chatlog/index.js';
import { SeenStore } from '../src/federation/index.js';
import { publishOnce } from '../src/nats/connection.js';
import {
  agentPermissions,
  connectNatsTeam,
  inboxPrefix,
  NatsChatLog,
  NatsInbox,
  type NatsTeam,
  natsServerConfig,
  sendToInbox,
  teamNames,
} from '../src/nats/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { caught } from './helpers/errors.js';
import { memberBlock, signedEnvelope } from './helpers/members.js';
import { describeNats, type NatsServers, startNatsWith, uniqueTeam } from './helpers/nats.js';
import { until } from './helpers/until.js';

const AGENTS = ['alpha', 'beta', 'gamma'] as const;
type Name = (typeof AGENTS)[number] | 'admin';
const signing = {
  alpha: generateKeyPairSync('ed25519').privateKey,
  beta: generateKeyPairSync('ed25519').privateKey,
};
const registry = parseRegistry(
  [
    '# Team\n',
    memberBlock('alpha', 'active', signing.alpha),
    memberBlock('beta', 'active', signing.beta),
  ].join('\n'),
);
const seedOf = (k: KeyPair) => new TextDecoder().decode(k.getSeed());

function entry(from: string, body: string): ChatEntry {
  const at = new Date().toISOString();
  return {
    id: `m-${from}-${Math.random().toString(36).slice(2, 10)}`,
    at,
    from,
    to: ['beta'],
    kind: 'message',
    body,
    deliveries: [],
  };
}

describe('nats permissions - the server config, pure', () => {
  const key = () => createUser().getPublicKey();

  it('nats permissions - an agent publishes as itself only, and subscribes to its own reply prefix only', () => {
    const p = agentPermissions('home-lab', 'Data Bot');
    expect(p.publish.slice(0, 2)).toEqual(['ois.home-lab.chat.*.data-bot', 'ois.home-lab.inbox.*.data-bot']);
    expect(p.subscribe).toEqual(['_INBOX_home-lab_data-bot.>']);
    // Of the JetStream API only its own inbox stream besides the team's shared ones, and any stream's info;
    // no wildcard over the team's subjects or the API.
    const streams = new Set(
      p.publish.map((s) => /^\$JS\.(?:API\.[A-Z]+\.[A-Z.]*?|FC)\.?((?:OIS|KV|OBJ)_[^.]+)/.exec(s)?.[1]),
    );
    streams.delete(undefined);
    expect([...streams].sort()).toEqual([
      'KV_ois_home-lab_files',
      'OBJ_ois_home-lab_blobs',
      'OIS_home-lab_CHAT',
      'OIS_home-lab_INBOX_data-bot',
    ]);
    expect(p.publish).toContain('$JS.API.STREAM.INFO.*');
    expect(
      p.publish.filter((s) => /^(ois\.home-lab\.>|\$JS\.API\.>|\$JS\.API\.[A-Z.]+\.>|>)$/.test(s)),
    ).toEqual([]);
  });

  it('nats permissions - refuses users the server would refuse or misread', () => {
    const admin = key();
    const refused = (agents: { name: string; nkey: string }[], extra = {}) =>
      expect(() => natsServerConfig({ team: 'lab', agents, admin, ...extra })).toThrow(
        expect.objectContaining({ code: 'OIS_ERR_USAGE' }),
      );
    refused([{ name: 'Admin', nkey: key() }]);
    refused([
      { name: 'Data Bot', nkey: key() },
      { name: 'data-bot', nkey: key() },
    ]);
    refused([{ name: 'alpha', nkey: seedOf(createUser()) }]);
    refused([{ name: 'alpha', nkey: key() }], {
      cluster: { self: 0, password: 'x', nodes: [{ host: 'a' }, { host: 'b' }] },
    });
    refused([{ name: 'alpha', nkey: key() }], {
      cluster: { self: 0, password: 'x', nodes: [{ host: 'a' }, { host: 'b c' }, { host: 'd' }] },
    });
    expect(() => natsServerConfig({ team: 'Not A Team', agents: [], admin })).toThrow(
      expect.objectContaining({ code: 'OIS_ERR_NATS_TEAM_INVALID' }),
    );
  });
});

describeNats(
  'nats permissions - per-agent users on a real nats-server, started with the generated config',
  () => {
    const team = uniqueTeam('perm');
    const names = teamNames(team);
    const keys = Object.fromEntries([...AGENTS, 'admin'].map((a) => [a, createUser()])) as Record<
      Name,
      KeyPair
    >;
    let servers: NatsServers;
    let dir: string;
    const open: { close(): Promise<void> | void }[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ois-nats-perm-'));
      for (const [name, k] of Object.entries(keys)) await writeFile(join(dir, `${name}.nk`), seedOf(k));
      servers = await startNatsWith((node) =>
        natsServerConfig({
          team,
          agents: AGENTS.map((name) => ({ name, nkey: keys[name].getPublicKey() })),
          admin: keys.admin.getPublicKey(),
          listenHost: '127.0.0.1',
          port: node.port,
          storeDir: node.storeDir,
        }),
      );
    });
    afterAll(async () => {
      for (const o of open.splice(0).reverse()) await o.close();
      await servers?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A connection with `name`'s seed file; a write deadline long enough that a retried refusal would show. */
    async function as(name: Name, nkeyFile = join(dir, `${name}.nk`)): Promise<NatsTeam> {
      const t = await connectNatsTeam({
        servers: servers.servers,
        team,
        name,
        auth: { nkeyFile },
        writeDeadlineMs: 20_000,
      });
      open.push(t);
      return t;
    }

    /** `self`'s inbox read over `conn` (another agent's connection, to see it refused). */
    async function inboxOf(self: string, conn: NatsTeam) {
      const home = await mkdtemp(join(tmpdir(), 'ois-nats-perm-home-'));
      open.push({ close: () => rm(home, { recursive: true, force: true }) });
      const seen = new SeenStore(home);
      open.push(seen);
      const delivered: string[] = [];
      const errors: { stream?: string; code?: string; message?: string }[] = [];
      const inbox = await NatsInbox.open(conn, {
        self,
        registry: async () => registry,
        seen,
        deliver: async (_text, e) => {
          delivered.push(e.id);
        },
        skewSeconds: 300,
        cursorFile: join(home, 'nats-inbox.json'),
        now: Date.now,
        log: { info() {}, warn() {}, error: (fields) => errors.push(fields as (typeof errors)[number]) },
      });
      open.push(inbox);
      return { delivered, errors };
    }

    it("nats permissions - alpha's credentials append to the chat as alpha and send beta an envelope as alpha", async () => {
      const beta = await as('beta');
      const alpha = await as('alpha');
      const { delivered } = await inboxOf('beta', beta);
      const chat = await NatsChatLog.open(alpha);
      const written = entry('alpha', 'hello from alpha');
      expect(await chat.append(written)).toEqual({ duplicate: false });
      const day = await (await NatsChatLog.open(beta)).readDay(written.at.slice(0, 10));
      expect(day.entries.map((e) => e.id)).toContain(written.id);
      const envelope = signedEnvelope({}, signing.alpha);
      expect(await sendToInbox(alpha, envelope)).toMatchObject({ duplicate: false });
      await until('the envelope delivered to beta', () => delivered.includes(envelope.id));
      // A peer in no config has no inbox, and the sender is told at once.
      const started = Date.now();
      expect((await caught(sendToInbox(alpha, signedEnvelope({ to: 'zed' }, signing.alpha)))).code).toBe(
        'OIS_ERR_NATS_NO_INBOX',
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('nats permissions - alpha cannot write as beta: no chat entry as beta, no envelope on inbox.gamma.beta, refused at once', async () => {
      const alpha = await as('alpha');
      const admin = await as('admin');
      await inboxOf('beta', await as('beta'));
      const chat = await NatsChatLog.open(alpha);
      const started = Date.now();
      const betaSubject = `ois.${team}.chat.${new Date().toISOString().slice(0, 10)}.beta`;
      const asBeta = await caught(
        publishOnce(alpha, betaSubject, new TextEncoder().encode('I am beta'), 'forged'),
      );
      expect(asBeta.code).toBe('OIS_ERR_NATS_PERMISSION');
      expect(asBeta.message).toContain(`do not let this agent publish to ${betaSubject} (to store `);
      expect(asBeta.details).toEqual({ subject: betaSubject, operation: 'publish' });
      // gamma's inbox exists, so the only thing in the way is the permission.
      await inboxOf('gamma', await as('gamma'));
      const forged = await caught(
        sendToInbox(alpha, signedEnvelope({ from: 'beta', to: 'gamma' }, signing.beta)),
      );
      expect(forged.code).toBe('OIS_ERR_NATS_PERMISSION');
      expect(forged.message).toContain(names.inboxSubject('gamma', 'beta'));
      expect(forged.exitCode).toBe(5);
      // Permanent: not retried until the write deadline (20 s).
      expect(Date.now() - started).toBeLessThan(5_000);
      // Nothing was stored: the admin sees no entry of beta's and an empty inbox of gamma's.
      const chatInfo = await admin.jsm.streams.info(names.chatStream, {
        subjects_filter: `ois.${team}.chat.*.beta`,
      });
      expect(Object.keys(chatInfo.state.subjects ?? {})).toEqual([]);
      // What alpha logs for beta (the reply of an exchange) goes out under alpha's own subject: the server
      // enforces who wrote an entry.
      await chat.append(entry('beta', 'a reply alpha logs'));
      const logged = await admin.jsm.streams.info(names.chatStream, {
        subjects_filter: `ois.${team}.chat.*.*`,
      });
      expect(Object.keys(logged.state.subjects ?? {})).toEqual([
        `ois.${team}.chat.${new Date().toISOString().slice(0, 10)}.alpha`,
      ]);
      expect((await admin.jsm.streams.info(names.inboxStream('gamma'))).state.messages).toBe(0);
    });

    it("nats permissions - alpha cannot read beta's inbox (no consumer, no message get, no subscription) nor create another's", async () => {
      const beta = await as('beta');
      await inboxOf('beta', beta);
      await sendToInbox(beta, signedEnvelope({ from: 'beta', to: 'beta' }, signing.beta));
      const alpha = await as('alpha');
      const stream = names.inboxStream('beta');
      // The inbox as the daemon would open it: it may look the stream up, but the reader is refused and stops.
      const { delivered, errors } = await inboxOf('beta', alpha);
      await until('the refused reader logged', () => errors.length > 0);
      expect(errors[0]).toMatchObject({ stream, code: 'OIS_ERR_NATS_PERMISSION' });
      expect(String(errors[0]!.message)).toContain(`$JS.API.CONSUMER.CREATE.${stream}`);
      expect(delivered).toEqual([]);
      await expect(alpha.js.consumers.get(stream)).rejects.toThrow(/permissions violation/i);
      // Nor make an inbox stream for someone else (one that has none yet).
      const making = await caught(inboxOf('delta', alpha));
      expect(making.code).toBe('OIS_ERR_NATS_PERMISSION');
      const create = `$JS.API.STREAM.CREATE.${names.inboxStream('delta')}`;
      expect(making.message).toContain(`do not let this agent publish to ${create} (to create the stream `);
      expect(making.details).toEqual({ subject: create, operation: 'publish' });
      await expect(alpha.jsm.streams.getMessage(stream, { seq: 1 })).rejects.toThrow(
        /permissions violation/i,
      );
      // A plain subscription to the inbox's subjects, or to beta's replies, is refused by the server.
      for (const subject of [names.inboxSubjects('beta'), `${inboxPrefix(team, 'beta')}.>`, '_INBOX.>']) {
        const sub = alpha.nc.subscribe(subject);
        await expect(
          (async () => {
            for await (const _ of sub) {
            }
          })(),
        ).rejects.toThrow(/permissions violation/i);
      }
    });

    it('nats permissions - the team files (KV) and large files (object store) work under an agent user', async () => {
      const alpha = await as('alpha');
      const beta = await as('beta');
      const kv = await new Kvm(alpha.js).create(`ois_${team}_files`, { history: 5 });
      await kv.put('notes/plan.md', 'the plan');
      const theirs = await new Kvm(beta.js).open(`ois_${team}_files`);
      expect((await theirs.get('notes/plan.md'))?.string()).toBe('the plan');
      const keys: string[] = [];
      for await (const k of await theirs.keys()) keys.push(k);
      expect(keys).toEqual(['notes/plan.md']);
      // A watcher is a push consumer with flow control: 4 MB of values make the server ask for it.
      const value = new Uint8Array(64 * 1024);
      for (let i = 0; i < 64; i++) await kv.put(`big.${i}`, value);
      const watch = await theirs.watch({ key: 'big.>' });
      let seen = 0;
      for await (const _ of watch) if (++seen === 64) break;
      expect(seen).toBe(64);
      await kv.delete('notes/plan.md');
      expect(await theirs.get('notes/plan.md')).toMatchObject({ operation: 'DEL' });

      const blobs = await new Objm(alpha.js).create(`ois_${team}_blobs`);
      await blobs.putBlob({ name: 'photo.jpg' }, new Uint8Array(300_000).fill(1));
      // Replacing an object purges its old chunks.
      await blobs.putBlob({ name: 'photo.jpg' }, new Uint8Array(200_000).fill(2));
      const read = await (await new Objm(beta.js).open(`ois_${team}_blobs`)).getBlob('photo.jpg');
      expect(read?.length).toBe(200_000);
      expect((await blobs.list()).map((i) => i.name)).toEqual(['photo.jpg']);
      await blobs.delete('photo.jpg');
      expect(await blobs.getBlob('photo.jpg')).toBeNull();
    });

    it('nats permissions - a seed the server does not know is OIS_ERR_NATS_AUTH; a missing or wrong file OIS_ERR_NATS_CREDENTIALS; no seed in any message', async () => {
      const stranger = createUser();
      const strangerFile = join(dir, 'stranger.nk');
      await writeFile(strangerFile, `${seedOf(stranger)}\n`);
      const wrong = await caught(as('alpha', strangerFile));
      expect(wrong.code).toBe('OIS_ERR_NATS_AUTH');
      expect(wrong.hint).toMatch(/--nkey.*ois nats config/);
      const none = await caught(connectNatsTeam({ servers: servers.servers, team, name: 'alpha' }));
      expect(none.code).toBe('OIS_ERR_NATS_AUTH');

      const missing = await caught(as('alpha', join(dir, 'nope.nk')));
      expect(missing).toMatchObject({ code: 'OIS_ERR_NATS_CREDENTIALS' });
      expect(missing.message).toContain('nope.nk');
      const publicKeyFile = join(dir, 'public.nk');
      await writeFile(publicKeyFile, keys.alpha.getPublicKey());
      expect((await caught(as('alpha', publicKeyFile))).code).toBe('OIS_ERR_NATS_CREDENTIALS');
      const asCreds = await caught(
        connectNatsTeam({ servers: servers.servers, team, auth: { credsFile: join(dir, 'alpha.nk') } }),
      );
      expect(asCreds).toMatchObject({
        code: 'OIS_ERR_NATS_CREDENTIALS',
        hint: expect.stringContaining('--nkey'),
      });
      const ca = await caught(
        connectNatsTeam({ servers: servers.servers, team, auth: { tlsCaFile: join(dir, 'alpha.nk') } }),
      );
      expect(ca.code).toBe('OIS_ERR_NATS_CREDENTIALS');

      for (const e of [wrong, none, missing, asCreds, ca]) {
        const shown = `${e.message} ${e.hint} ${JSON.stringify(e.toJSON())}`;
        for (const k of [stranger, keys.alpha]) expect(shown).not.toContain(seedOf(k));
      }
    });

    it("nats permissions - the admin, under any instance name, reads every agent's inbox and creates streams", async () => {
      const beta = await as('beta');
      await inboxOf('beta', beta);
      // Under any instance name (its replies then come on that name's prefix).
      const admin = await connectNatsTeam({
        servers: servers.servers,
        team,
        name: 'owner',
        auth: { nkeyFile: join(dir, 'admin.nk') },
      });
      open.push(admin);
      const stream = names.inboxStream('beta');
      const consumer = await admin.js.consumers.get(stream);
      expect((await consumer.info()).stream_name).toBe(stream);
      await admin.jsm.streams.add({ name: `OIS_${team}_SCRATCH`, subjects: [`ois.${team}.scratch.>`] });
      await admin.jsm.streams.delete(`OIS_${team}_SCRATCH`);
    });
  },
);

describeNats('nats permissions - a member left out of the config loses its user on reload', () => {
  it('nats permissions - after a reload without beta, beta is disconnected and refused, and alpha goes on', async () => {
    const team = uniqueTeam('permr');
    const keys = { alpha: createUser(), beta: createUser(), admin: createUser() };
    const dir = await mkdtemp(join(tmpdir(), 'ois-nats-perm-r-'));
    for (const [name, k] of Object.entries(keys)) await writeFile(join(dir, `${name}.nk`), seedOf(k));
    const conf = (port: number, storeDir: string, agents: ('alpha' | 'beta')[]) =>
      natsServerConfig({
        team,
        agents: agents.map((name) => ({ name, nkey: keys[name].getPublicKey() })),
        admin: keys.admin.getPublicKey(),
        listenHost: '127.0.0.1',
        port,
        storeDir,
      });
    let at = { port: 0, storeDir: '' };
    const servers = await startNatsWith((node) => {
      at = node;
      return conf(node.port, node.storeDir, ['alpha', 'beta']);
    });
    const connect = (name: 'alpha' | 'beta') =>
      connectNatsTeam({
        servers: servers.servers,
        team,
        name,
        auth: { nkeyFile: join(dir, `${name}.nk`) },
        writeDeadlineMs: 3_000,
      });
    try {
      const [alpha, beta] = [await connect('alpha'), await connect('beta')];
      await NatsChatLog.open(beta);
      await servers.nodes[0]!.reload(conf(at.port, at.storeDir, ['alpha']));
      // It tries to reconnect, is refused twice, and gives up.
      await until('beta disconnected', () => beta.nc.isClosed());
      expect((await caught(connect('beta'))).code).toBe('OIS_ERR_NATS_AUTH');
      const chat = await NatsChatLog.open(alpha);
      expect(await chat.append(entry('alpha', 'still here'))).toEqual({ duplicate: false });
      await Promise.all([alpha.close(), beta.close()]);
    } finally {
      await servers.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeNats('nats permissions - a three-node cluster from the generated config', () => {
  let cluster: NatsServers | undefined;
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('nats permissions - three nodes with the cluster block route to each other (with the route password), elect a leader and keep a stream of 3 replicas', async () => {
    const team = uniqueTeam('permc');
    const alpha = createUser();
    const admin = createUser();
    const home = await mkdtemp(join(tmpdir(), 'ois-nats-perm-c-'));
    const nkeyFile = join(home, 'alpha.nk');
    await writeFile(nkeyFile, seedOf(alpha));
    const routePorts: number[] = [];
    cluster = await startNatsWith((node, all) => {
      routePorts[node.index] = node.routePort;
      return natsServerConfig({
        team,
        agents: [{ name: 'alpha', nkey: alpha.getPublicKey() }],
        admin: admin.getPublicKey(),
        listenHost: '127.0.0.1',
        storeDir: node.storeDir,
        cluster: {
          self: node.index,
          password: 'route-secret_1',
          nodes: all.map((n) => ({ host: '127.0.0.1', port: n.port, routePort: n.routePort })),
        },
      });
    }, 3);
    try {
      const t = await connectNatsTeam({
        servers: cluster.servers,
        team,
        name: 'alpha',
        replicas: 3,
        auth: { nkeyFile },
      });
      try {
        const chat = await NatsChatLog.open(t);
        await chat.append(entry('alpha', 'on three nodes'));
        const info = await t.jsm.streams.info(teamNames(team).chatStream);
        expect(info.config.num_replicas).toBe(3);
        expect(info.cluster?.replicas).toHaveLength(2);
      } finally {
        await t.close();
      }
      // A server that does not know the route password is refused as a route.
      const intruder = await startNatsWith(
        (node) => `server_name: intruder
listen: 127.0.0.1:${node.port}
cluster { name: ${JSON.stringify(`ois-${team}`)}, listen: 127.0.0.1:${node.routePort}, routes: ["nats-route://127.0.0.1:${routePorts[0]}"] }
`,
      );
      try {
        await until('the intruder refused', () => /authorization violation/i.test(intruder.nodes[0]!.log()));
      } finally {
        await intruder.stop();
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 60_000);
});
