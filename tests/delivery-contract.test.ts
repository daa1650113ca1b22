import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { postEnvelope } from '../src/federation/client.js';
import { SeenStore } from '../src/federation/index.js';
import { connectNatsTeam, NatsInbox, sendToInbox } from '../src/nats/index.js';
import { buildApp } from '../src/server/index.js';
import { type DeliveryHarness, deliveryContract, REGISTRY, session } from './helpers/delivery-contract.js';
import { describeNats, type NatsServers, startNats, uniqueTeam } from './helpers/nats.js';
import { until } from './helpers/until.js';

async function home() {
  const dir = await mkdtemp(join(tmpdir(), 'ois-delivery-contract-'));
  const seen = new SeenStore(dir);
  return {
    dir,
    seen,
    close: async () => {
      seen.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('delivery - HTTP to the peer daemon', () => {
  deliveryContract('http', async (): Promise<DeliveryHarness> => {
    const h = await home();
    const config = loadConfig({
      env: { OIS_HOME: h.dir, OIS_NAME: 'beta', OIS_SERVE_RATE_LIMIT: '10000' },
      cwd: h.dir,
    }) as ReturnType<typeof loadConfig> & { name: string };
    const s = session();
    const app = await buildApp({
      config,
      registry: async () => REGISTRY,
      seen: h.seen,
      deliver: s.deliver,
      logger: false,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return {
      delivered: s.delivered,
      gateway: s.gateway,
      async carry(payload) {
        if ('raw' in payload) {
          await fetch(`${url}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: payload.raw,
          });
          return;
        }
        // The sender's own client; its answer (delivered, duplicate, a refusal) is not what is tested here.
        await postEnvelope(url, payload, { connectTimeoutMs: 2000, timeoutMs: 5000, retries: 0 }).catch(
          () => {},
        );
      },
      // The daemon answers once it has settled the envelope.
      settle: async () => {},
      async close() {
        await app.close();
        await h.close();
      },
    };
  });
});

describeNats('delivery - the peer NATS inbox (one real nats-server)', () => {
  let servers: NatsServers;
  beforeAll(async () => {
    servers = await startNats();
  });
  afterAll(async () => {
    await servers?.stop();
  });
  deliveryContract('nats', async (): Promise<DeliveryHarness> => {
    const h = await home();
    const team = uniqueTeam();
    const beta = await connectNatsTeam({ servers: servers.servers, team, name: 'beta' });
    const sender = await connectNatsTeam({ servers: servers.servers, team, name: 'senders' });
    const s = session();
    let settled = 0;
    const inbox = await NatsInbox.open(beta, {
      self: 'beta',
      registry: async () => REGISTRY,
      seen: h.seen,
      deliver: s.deliver,
      skewSeconds: 300,
      now: Date.now,
      cursorFile: join(h.dir, 'nats-inbox.json'),
      log: { info() {}, warn() {}, error() {} },
      onSettled: () => settled++,
    });
    const stream = beta.names.inboxStream('beta');
    const raw = (from: string, data: string) =>
      sender.js.publish(beta.names.inboxSubject('beta', from), new TextEncoder().encode(data));
    return {
      delivered: s.delivered,
      gateway: s.gateway,
      async carry(payload) {
        if ('raw' in payload) await raw(payload.from, payload.raw);
        // sendToInbox addresses the envelope's recipient; one for someone else is put in beta's inbox by hand.
        else if (payload.to !== 'beta') await raw(payload.from, JSON.stringify(payload));
        else await sendToInbox(sender, payload);
      },
      // Every message the inbox stream holds is settled once (a retried one when it finally is).
      async settle() {
        await until(
          'the inbox settled',
          async () => settled >= (await beta.jsm.streams.info(stream)).state.messages,
        );
      },
      async close() {
        await inbox.close();
        await sender.close();
        await beta.close();
        await h.close();
      },
    };
  });
});
