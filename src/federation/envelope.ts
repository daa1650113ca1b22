import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/** A signed federated message (specs/federation.md). */
export interface Envelope {
  v: 1;
  id: string;
  from: string;
  to: string;
  createdAt: string;
  body: string;
  /**
   * When this copy was signed and sent, when that is later than `createdAt` (a queued message re-sent after
   * an outage). The receiver's freshness window applies to it; `createdAt` stays the time the sender wrote
   * the message, shown to the recipient.
   */
  sentAt?: string;
  sig: string;
}

export type UnsignedEnvelope = Omit<Envelope, 'sig'>;

export const ENVELOPE_VERSION = 1;
export const MAX_ENVELOPE_BODY_BYTES = 1_900_000;
const DOMAIN = 'ois-envelope-v1\n';
const PUBLIC_KEY_PREFIX = 'ed25519:';

/** The JSON Schema of an envelope, as specs/federation.md gives it (a test keeps the two equal). */
export const ENVELOPE_SCHEMA = {
  $id: 'https://openclaw-ois/specs/federation/envelope-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'id', 'from', 'to', 'createdAt', 'body', 'sig'],
  properties: {
    v: { const: 1 },
    id: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' },
    from: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    to: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    createdAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    body: { type: 'string', minLength: 1, maxLength: MAX_ENVELOPE_BODY_BYTES },
    sentAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    sig: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' },
  },
} as const;

/**
 * The bytes an envelope's signature covers: a domain tag, then a JSON array in a fixed order. An array has
 * no key order to agree on, and JSON.stringify of strings and integers is fully specified. `sentAt`, when
 * present, is a seventh element, so an envelope without it signs exactly the bytes it always did.
 */
export function canonicalBytes(e: UnsignedEnvelope): Buffer {
  const fields: (string | number)[] = [e.v, e.id, e.from, e.to, e.createdAt, e.body];
  if (e.sentAt !== undefined) fields.push(e.sentAt);
  return Buffer.from(DOMAIN + JSON.stringify(fields), 'utf8');
}

/** The time the envelope's freshness is judged by: when this copy was sent. */
export function sentTimeOf(e: Pick<Envelope, 'createdAt' | 'sentAt'>): string {
  return e.sentAt ?? e.createdAt;
}

export function signEnvelope(e: UnsignedEnvelope, privateKey: KeyObject): Envelope {
  return { ...e, sig: sign(null, canonicalBytes(e), privateKey).toString('base64url') };
}

/** True when `sig` is the signature of the envelope by the key `publicKey` (`ed25519:<base64url>`). */
export function verifyEnvelope(e: Envelope, publicKey: string): boolean {
  const key = parsePublicKey(publicKey);
  if (!key) return false;
  const { sig, ...rest } = e;
  const signature = Buffer.from(sig, 'base64url');
  if (signature.length !== 64) return false;
  try {
    return verify(null, canonicalBytes(rest), key, signature);
  } catch {
    return false;
  }
}

/** `ed25519:<base64url raw key>` of a key pair's public half. */
export function formatPublicKey(key: KeyObject): string {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  return `${PUBLIC_KEY_PREFIX}${jwk.x}`;
}

/** The key object of an `ed25519:` public key; null when it is not one. */
export function parsePublicKey(text: string): KeyObject | null {
  if (typeof text !== 'string' || !text.startsWith(PUBLIC_KEY_PREFIX)) return null;
  const x = text.slice(PUBLIC_KEY_PREFIX.length);
  if (!/^[A-Za-z0-9_-]{43}$/.test(x)) return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** A private key from its PKCS#8 PEM text. */
export function parsePrivateKey(pem: string): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem' });
}
