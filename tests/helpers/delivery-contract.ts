import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { OisError } from '../../src/errors.js';
import type { Envelope, UnsignedEnvelope } from '../../src/federation/index.js';
import { parseRegistry, type Registry } from '../../src/registry/index.js';
import { memberBlock, signedEnvelope } from './members.js';
import { until } from './until.js';

/**
 * The contract of peer delivery, one set of cases run against each way an envelope travels (unstorage's
 * driver-suite pattern): HTTP to the peer daemon (`POST /v1/messages`) and the peer's NATS inbox stream.
 * What is pinned is what reaches the receiver's session: the same envelopes, once each, in each sender's
 * order, whatever the carrier, and nothing a member did not sign.
 */

export const KEYS = {
  alpha: generateKeyPairSync('ed25519').privateKey,
  gamma: generateKeyPairSync('ed25519').privateKey,
  mallory: generateKeyPairSync('ed25519').privateKey,
};
/** beta receives; alpha and gamma are active senders, mallory is disabled. */
export const REGISTRY: Registry = parseRegistry(
  [
    '# Team\n',
    memberBlock('alpha', 'active', KEYS.alpha),
    memberBlock('gamma', 'active', KEYS.gamma),
    memberBlock('mallory', 'disabled', KEYS.mallory),
    memberBlock('beta', 'active'),
  ].join('\n'),
);

/** One receiver, beta, behind one carrier. */
export interface DeliveryHarness {
  /**
   * Carries an envelope (or raw bytes) to beta the way this backend does, as its sender would; a refusal is
   * not an error here (the cases look at what reached the session).
   */
  carry(payload: Envelope | { raw: string; from: string }): Promise<void>;
  /** Resolves once beta has settled everything carried so far. */
  settle(): Promise<void>;
  /** The envelopes delivered into beta's session, in order. */
  delivered: Envelope[];
  /** While `down`, beta's gateway refuses every delivery; `attempts` counts the deliveries tried. */
  gateway: { down: boolean; attempts: number };
  close(): Promise<void>;
}

export function deliveryContract(name: string, make: () => Promise<DeliveryHarness>): void {
  const open: DeliveryHarness[] = [];
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });
  const harness = async () => {
    const h = await make();
    open.push(h);
    return h;
  };
  const envelope = (over: Partial<UnsignedEnvelope> = {}, key: KeyObject = KEYS.alpha): Envelope =>
    signedEnvelope(over, key);

  it(`delivery - ${name}: a signed envelope reaches the session once, even when carried twice`, async () => {
    const h = await harness();
    const e = envelope();
    await h.carry(e);
    await h.carry(e);
    await h.settle();
    expect(h.delivered.map((d) => d.id)).toEqual([e.id]);
    expect(h.delivered[0]!.body).toBe('hello beta');
  });

  it(`delivery - ${name}: nothing a member did not sign reaches the session`, async () => {
    const h = await harness();
    await h.carry(envelope({ body: 'I am alpha' }, KEYS.mallory)); // forged
    await h.carry({ ...envelope(), body: 'changed after signing' }); // tampered
    await h.carry(envelope({ from: 'zed' }, KEYS.mallory)); // not a member
    await h.carry(envelope({ from: 'mallory' }, KEYS.mallory)); // disabled
    await h.carry(envelope({ to: 'gamma' })); // for someone else
    await h.carry(envelope({ createdAt: new Date(Date.now() - 3_600_000).toISOString() })); // an old copy
    await h.carry({ raw: '{"v":1,"hello":"world"}', from: 'alpha' });
    await h.carry({ raw: 'not json', from: 'alpha' });
    const good = envelope({ body: 'the real one' });
    await h.carry(good);
    await h.settle();
    expect(h.delivered.map((d) => d.id)).toEqual([good.id]);
  });

  it(`delivery - ${name}: two senders, 20 envelopes each, each sender's order kept`, async () => {
    const h = await harness();
    const sent = { alpha: [] as string[], gamma: [] as string[] };
    await Promise.all(
      (['alpha', 'gamma'] as const).map(async (from) => {
        for (let k = 0; k < 20; k++) {
          const e = envelope({ from, body: `${from} #${k}` }, KEYS[from]);
          sent[from].push(e.id);
          await h.carry(e);
        }
      }),
    );
    await h.settle();
    expect(h.delivered).toHaveLength(40);
    for (const from of ['alpha', 'gamma'] as const) {
      expect(h.delivered.filter((d) => d.from === from).map((d) => d.id)).toEqual(sent[from]);
    }
  });

  it(`delivery - ${name}: carried while the gateway is down and again (the outbox's retry) after, delivered once`, async () => {
    const h = await harness();
    const e = envelope();
    h.gateway.down = true;
    await h.carry(e);
    await until('a delivery tried while the gateway is down', () => h.gateway.attempts >= 1);
    expect(h.delivered).toEqual([]);
    h.gateway.down = false;
    await h.carry(e);
    await h.settle();
    expect(h.delivered.map((d) => d.id)).toEqual([e.id]);
  });
}

/** The deliverer a harness gives beta: records what reached the session, refuses while `gateway.down`. */
export function session(): {
  delivered: Envelope[];
  gateway: { down: boolean; attempts: number };
  deliver: (text: string, e: Envelope) => Promise<void>;
} {
  const delivered: Envelope[] = [];
  const gateway = { down: false, attempts: 0 };
  return {
    delivered,
    gateway,
    deliver: async (_text, e) => {
      gateway.attempts++;
      if (gateway.down) throw new OisError('OIS_ERR_PEER_UNREACHABLE', 'the gateway is down');
      delivered.push(e);
    },
  };
}
