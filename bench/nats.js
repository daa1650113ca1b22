// The NATS share of `npm run bench` (issue 15): chat appends per second and deliveries per second with 8
// senders, the folder against a three-node JetStream cluster (replicas 3) on loopback, in the same run.
// Target: the NATS path delivers >= 2,000 messages/s through one cluster.
//
// Chat: 8 senders in this process, each appending its share one entry after the other (each waits for its
// write, as `ois send` does), through the ChatLog seam: FolderChatLog on a temp folder, NatsChatLog on the
// cluster. Deliveries, in two timed phases: 8 senders storing 2,000 signed envelopes in one receiver's
// inbox stream (each waits for JetStream's acknowledgement before its next), then the receiver's NatsInbox
// taking them all (schema, signature, seen store, into a no-op gateway). Senders and receiver are separate
// instances in a real team; timed together in this one process they would mostly measure how they share
// its one thread, so the figure held against the target is the slower of the two phases. The folder team's
// deliveries are the HTTP daemon's figure (`daemon:`), which runs the same receive pipeline.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendEntry, FolderChatLog } from '../dist/chatlog/index.js';
import { formatPublicKey, newMessageId, SeenStore, signEnvelope } from '../dist/federation/index.js';
import { connectNatsTeam, NatsChatLog, NatsInbox, NatsTeamStore, sendToInbox } from '../dist/nats/index.js';
import { parseRegistry } from '../dist/registry/index.js';
import { FsTeamStore } from '../dist/team/index.js';

const SENDERS = 8;

async function appendAll(logs, each) {
  const started = performance.now();
  await Promise.all(
    logs.map(async (log, i) => {
      for (let k = 0; k < each; k++) {
        const at = new Date();
        await log.append({
          id: newMessageId(at.getTime()),
          at: at.toISOString(),
          from: `s${i}`,
          to: ['beta'],
          kind: 'message',
          body: `s${i} #${k}: a message of a typical length, a sentence or two about the work at hand.`,
          deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.004 }],
        });
      }
    }),
  );
  return (logs.length * each) / ((performance.now() - started) / 1000);
}

/** Returns null (and says why) when nats-server is not installed. */
export async function benchNats({ each = 500 } = {}) {
  const { NATS_SERVER, startNatsCluster } = await import('../tests/helpers/nats-server.ts');
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-nats-'));
  const open = [];
  try {
    const folder = new FolderChatLog(new FsTeamStore(join(dir, 'team')));
    const folderChat = await appendAll(
      Array.from({ length: SENDERS }, () => folder),
      each,
    );
    if (!NATS_SERVER)
      return { folderChat, skipped: 'nats-server is not on PATH (apt-get install nats-server)' };

    const cluster = await startNatsCluster(3);
    open.push(() => cluster.stop());
    const team = `bench${process.pid}`;
    const connect = async (name) => {
      const t = await connectNatsTeam({ servers: cluster.servers, team, name, replicas: 3 });
      open.push(() => t.close());
      return t;
    };
    const chats = [];
    for (let i = 0; i < SENDERS; i++) chats.push(await NatsChatLog.open(await connect(`s${i}`)));
    const natsChat = await appendAll(chats, each);
    // The same appends as the commands make them: appendEntry through the team store on NATS (the day files).
    const stores = [];
    for (let i = 0; i < SENDERS; i++) {
      const store = NatsTeamStore.onTeam(await connect(`store${i}`));
      stores.push({ append: (entry) => appendEntry(store, entry) });
    }
    const natsStoreChat = await appendAll(stores, each);

    const senders = Array.from({ length: SENDERS }, (_, i) => ({
      name: `s${i}`,
      key: generateKeyPairSync('ed25519').privateKey,
    }));
    const registry = parseRegistry(
      [
        '# Team\n',
        ...senders.map(
          (s) =>
            `## ${s.name} (member)\n\n\`\`\`yaml ois-agent\nname: ${s.name}\nrole: member\nstatus: active\nfederation: {url: 'http://127.0.0.1:1', publicKey: '${formatPublicKey(s.key)}'}\n\`\`\`\n`,
        ),
        '## beta (member)\n\n```yaml ois-agent\nname: beta\nrole: member\nstatus: active\n```\n',
      ].join('\n'),
    );
    const seen = new SeenStore(dir);
    open.push(() => seen.close());
    const total = SENDERS * each;
    let delivered = 0;
    let allDelivered;
    const done = new Promise((resolve) => {
      allDelivered = resolve;
    });
    const beta = await connect('beta');
    const deps = {
      self: 'beta',
      registry: async () => registry,
      seen,
      deliver: async () => {
        if (++delivered === total) allDelivered();
      },
      skewSeconds: 300,
      now: Date.now,
      cursorFile: join(dir, 'nats-inbox.json'),
      log: { info() {}, warn() {}, error() {} },
    };
    // The inbox stream exists before anyone sends (a peer without one is OIS_ERR_NATS_NO_INBOX).
    await (await NatsInbox.open(beta, deps)).close();
    const links = [];
    for (const s of senders) links.push(await connect(`${s.name}-send`));
    const started = performance.now();
    await Promise.all(
      senders.map(async (s, i) => {
        for (let k = 0; k < each; k++) {
          const now = Date.now();
          const envelope = signEnvelope(
            {
              v: 1,
              id: newMessageId(now),
              from: s.name,
              to: 'beta',
              createdAt: new Date(now).toISOString(),
              body: `s${i} #${k}`,
            },
            s.key,
          );
          await sendToInbox(links[i], envelope);
        }
      }),
    );
    const storedSeconds = (performance.now() - started) / 1000;
    const drainStarted = performance.now();
    const inbox = await NatsInbox.open(beta, deps);
    open.push(() => inbox.close());
    await done;
    const deliveredSeconds = (performance.now() - drainStarted) / 1000;
    return {
      folderChat,
      natsChat,
      natsStoreChat,
      total,
      stored: total / storedSeconds,
      delivered: total / deliveredSeconds,
    };
  } finally {
    for (const close of open.reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

/** Prints the figures; false when the target was missed. */
export function reportNats(n, httpRate) {
  console.log(`\nnats: ${SENDERS} senders, the folder against a three-node JetStream cluster (replicas 3)`);
  console.log(`  chat appends, folder    ${n.folderChat.toFixed(0)} entries/s`);
  if (httpRate !== undefined) {
    console.log(`  deliveries, folder team ${httpRate.toFixed(0)} messages/s (HTTP to the daemon, above)`);
  }
  if (n.skipped) {
    console.log(`  SKIPPED the NATS figures: ${n.skipped}`);
    return true;
  }
  console.log(`  chat appends, NATS      ${n.natsChat.toFixed(0)} entries/s`);
  console.log(
    `    through the store     ${n.natsStoreChat.toFixed(0)} entries/s (appendEntry, as the commands append)`,
  );
  const through = Math.min(n.stored, n.delivered);
  console.log(`  envelopes stored, NATS  ${n.stored.toFixed(0)} messages/s (${n.total} messages, 8 senders)`);
  console.log(
    `  envelopes taken, NATS   ${n.delivered.toFixed(0)} messages/s (verified, deduped, delivered)`,
  );
  console.log(
    `  deliveries, NATS        ${through.toFixed(0)} messages/s, the slower side (target >= 2000) ${through >= 2000 ? 'OK' : 'MISSED'}`,
  );
  return through >= 2000;
}
