import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  ENVELOPE_SCHEMA,
  type Envelope,
  formatPublicKey,
  parsePublicKey,
  signEnvelope,
  verifyEnvelope,
} from '../src/federation/index.js';
import { specBlocks } from './helpers/spec-blocks.js';

const examples = specBlocks('federation.md', 'federation-example');
const envelope = JSON.parse(examples.get('envelope')!) as Envelope;
const publicKey = examples.get('public-key')!.trim();

describe('federation - envelope of specs/federation.md', () => {
  it('federation - the documented envelope verifies with the documented key', () => {
    expect(verifyEnvelope(envelope, publicKey)).toBe(true);
  });

  it('federation - changing any signed field breaks the signature', () => {
    for (const [field, value] of [
      ['id', '01KAJ7Z3XH2M8Q4V6N0R5T9W1Z'],
      ['from', 'alphb'],
      ['to', 'gamma'],
      ['createdAt', '2026-11-21T10:32:05.124Z'],
      ['body', 'Can you review shared/plan.md? 你好!'],
    ] as const) {
      expect(verifyEnvelope({ ...envelope, [field]: value }, publicKey), field).toBe(false);
    }
    expect(verifyEnvelope({ ...envelope, sig: `${envelope.sig.slice(0, -2)}AA` }, publicKey)).toBe(false);
    expect(verifyEnvelope(envelope, 'ed25519:not-a-key')).toBe(false);
  });

  it('federation - a re-sent copy signs sentAt as a seventh element; taking it away breaks the signature', () => {
    const resent = JSON.parse(examples.get('envelope-resent')!) as Envelope;
    expect(verifyEnvelope(resent, publicKey)).toBe(true);
    const { sig: _sig, ...rest } = resent;
    expect(canonicalBytes(rest).toString('utf8')).toMatch(/你好","2026-11-21T11:47:40\.000Z"\]$/);
    const { sentAt: _sentAt, ...withoutSentAt } = resent;
    expect(verifyEnvelope(withoutSentAt, publicKey)).toBe(false);
    expect(verifyEnvelope({ ...resent, sentAt: '2026-11-21T11:47:41.000Z' }, publicKey)).toBe(false);
    // The first copy (no sentAt) still verifies: the bytes ois 0.1 signed are unchanged.
    expect(verifyEnvelope(envelope, publicKey)).toBe(true);
  });

  it('federation - the canonical form is the domain tag and a fixed-order JSON array', () => {
    const { sig: _sig, ...rest } = envelope;
    expect(canonicalBytes(rest).toString('utf8')).toBe(
      'ois-envelope-v1\n[1,"01KAJ7Z3XH2M8Q4V6N0R5T9W1Y","alpha","beta","2026-11-21T10:32:05.123Z","Can you review shared/plan.md? 你好"]',
    );
  });

  it('federation - the schema in the code is the one in the spec', () => {
    expect(ENVELOPE_SCHEMA).toEqual(
      JSON.parse(specBlocks('federation.md', 'federation-schema').get('envelope')!),
    );
  });

  it('federation - keys round-trip through the published form; another key does not verify', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const published = formatPublicKey(privateKey);
    expect(published).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect(parsePublicKey(published)).not.toBeNull();
    const signed = signEnvelope(
      { v: 1, id: envelope.id, from: 'a', to: 'b', createdAt: envelope.createdAt, body: 'x' },
      privateKey,
    );
    expect(verifyEnvelope(signed, published)).toBe(true);
    expect(verifyEnvelope(signed, publicKey)).toBe(false);
  });

  it('federation - every typed field is signed; an envelope without them signs what ois 0.1 signed', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const key = formatPublicKey(privateKey);
    const base = { ...envelope } as Partial<Envelope>;
    delete base.sig;
    const typed = signEnvelope(
      {
        ...(base as Omit<Envelope, 'sig'>),
        type: 'task_update',
        conversation: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
        replyTo: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
        hops: 1,
        wait: 30,
        task: { id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', status: 'working' },
      },
      privateKey,
    );
    expect(verifyEnvelope(typed, key)).toBe(true);
    for (const change of [
      { type: 'reply' },
      { conversation: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Z' },
      { replyTo: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Z' },
      { hops: 2 },
      { wait: 31 },
      { task: { id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', status: 'completed' } },
    ] as Partial<Envelope>[]) {
      expect(verifyEnvelope({ ...typed, ...change }, key), JSON.stringify(change)).toBe(false);
    }
    const { type: _t, conversation: _c, replyTo: _r, hops: _h, wait: _w, task: _k, ...untyped } = typed;
    expect(verifyEnvelope(untyped, key)).toBe(false);
    const { sig: _s, ...rest } = typed;
    expect(canonicalBytes(rest).toString('utf8')).toMatch(/,null,null,null,"\[\\"task_update\\",/);
  });
});
