import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * Ed25519 keys as OIS writes them: `ed25519:<base64url raw key>` for a public key (AGENTS.md, membership
 * records), PKCS#8 PEM for a private key (the instance home only). Envelopes and membership records sign
 * with these.
 */
const PUBLIC_KEY_PREFIX = 'ed25519:';

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

/** The base64url Ed25519 signature of `bytes`. */
export function signBytes(bytes: Buffer, privateKey: KeyObject): string {
  return sign(null, bytes, privateKey).toString('base64url');
}

/** True when `sig` (base64url) is the signature of `bytes` by `publicKey` (`ed25519:…`). Never throws. */
export function verifyBytes(bytes: Buffer, sig: string, publicKey: string): boolean {
  const key = parsePublicKey(publicKey);
  if (!key || typeof sig !== 'string') return false;
  const signature = Buffer.from(sig, 'base64url');
  if (signature.length !== 64) return false;
  try {
    return verify(null, bytes, key, signature);
  } catch {
    return false;
  }
}
