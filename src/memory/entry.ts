import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { signBytes, verifyBytes } from '../membership/index.js';

/**
 * One line of an agent's memory file (`memory/<agent>.jsonl` in the team folder, or the instance's
 * private file): a signed `put`, a `forget` (a tombstone), or a `key` line that publishes the agent's
 * X25519 key, to which `agent:NAME` entries are encrypted. specs/memory.md is the contract.
 */
export type MemoryScope = 'private' | 'team' | `agent:${string}`;

export interface MemoryLine {
  v: 1;
  op: 'put' | 'forget' | 'key';
  key?: string;
  scope?: MemoryScope;
  tags?: string[];
  /** Plain text, for `team` and `private`. */
  value?: string;
  /** For `agent:NAME`: the value encrypted to NAME and to the author. */
  enc?: Encrypted;
  /** `key` lines: the author's X25519 public key, base64url. */
  x25519?: string;
  author: string;
  /** Hybrid logical clock: `<ms, 15 digits>-<counter, 6 digits>`. */
  hlc: string;
  sig: string;
}

export interface Encrypted {
  alg: 'x25519-hkdf-sha256-aes256gcm';
  /** The ephemeral X25519 public key, base64url. */
  epk: string;
  iv: string;
  ct: string;
  tag: string;
  /** The content key wrapped for each reader, by agent id. */
  to: Record<string, { iv: string; ct: string; tag: string }>;
}

const DOMAIN = 'ois-memory-v1\n';
export const MAX_KEY_LENGTH = 200;
export const MAX_VALUE_BYTES = 64 * 1024;

export function lineBytes(l: Omit<MemoryLine, 'sig'>): Buffer {
  const enc = l.enc
    ? JSON.stringify([
        l.enc.alg,
        l.enc.epk,
        l.enc.iv,
        l.enc.ct,
        l.enc.tag,
        Object.entries(l.enc.to)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, w]) => [k, w.iv, w.ct, w.tag]),
      ])
    : null;
  return Buffer.from(
    DOMAIN +
      JSON.stringify([
        l.v,
        l.op,
        l.key ?? null,
        l.scope ?? null,
        l.tags ?? [],
        l.value ?? null,
        enc,
        l.x25519 ?? null,
        l.author,
        l.hlc,
      ]),
    'utf8',
  );
}

export function signLine(l: Omit<MemoryLine, 'sig'>, key: KeyObject): MemoryLine {
  return { ...l, sig: signBytes(lineBytes(l), key) };
}

export function verifyLine(l: MemoryLine, publicKey: string): boolean {
  const { sig, ...rest } = l;
  return verifyBytes(lineBytes(rest), sig, publicKey);
}

/** The line a string holds, or null (torn, hand-written, or not a memory line). Shape only. */
export function parseLine(text: string): MemoryLine | null {
  let l: MemoryLine;
  try {
    l = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof l !== 'object' || l === null || l.v !== 1) return null;
  if (!['put', 'forget', 'key'].includes(l.op) || typeof l.author !== 'string' || typeof l.sig !== 'string')
    return null;
  if (typeof l.hlc !== 'string' || !/^\d{15}-\d{6}$/.test(l.hlc)) return null;
  if (l.op !== 'key' && (typeof l.key !== 'string' || typeof l.scope !== 'string')) return null;
  if (l.op === 'key' && typeof l.x25519 !== 'string') return null;
  if (l.tags !== undefined && (!Array.isArray(l.tags) || l.tags.some((t) => typeof t !== 'string')))
    return null;
  return l;
}

/** `<ms>-<counter>`: later is larger as a string. */
export function formatHlc(ms: number, counter: number): string {
  return `${String(ms).padStart(15, '0')}-${String(counter).padStart(6, '0')}`;
}

/** The next clock value after everything seen (`last`), at `now`. */
export function nextHlc(last: string | null, now: number): string {
  if (!last) return formatHlc(now, 0);
  const [ms, counter] = last.split('-').map(Number) as [number, number];
  return now > ms ? formatHlc(now, 0) : formatHlc(ms, counter + 1);
}

/** Total order of lines: clock, then author (the tie-break every reader applies alike). */
export function compareLines(
  a: Pick<MemoryLine, 'hlc' | 'author'>,
  b: Pick<MemoryLine, 'hlc' | 'author'>,
): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  return a.author < b.author ? -1 : a.author > b.author ? 1 : 0;
}

// --- encryption to readers --------------------------------------------------------------------------------

/** A new X25519 key pair (PKCS#8 PEM for the home, raw base64url for the public half). */
export function newEncryptionKey(): { pem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: rawPublic(publicKey),
  };
}

function rawPublic(key: KeyObject): string {
  return (key.export({ format: 'jwk' }) as { x: string }).x;
}

function x25519Public(x: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

export function encryptionPublicOf(pem: string): string {
  return rawPublic(createPublicKey(createPrivateKey(pem)));
}

function kek(shared: Buffer, epk: string, reader: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', shared, Buffer.from(epk, 'base64url'), `ois-memory-v1 ${reader}`, 32),
  );
}

function seal(key: Buffer, plain: Buffer): { iv: string; ct: string; tag: string } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return {
    iv: iv.toString('base64url'),
    ct: ct.toString('base64url'),
    tag: c.getAuthTag().toString('base64url'),
  };
}

function open(key: Buffer, box: { iv: string; ct: string; tag: string }): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64url'));
  d.setAuthTag(Buffer.from(box.tag, 'base64url'));
  return Buffer.concat([d.update(Buffer.from(box.ct, 'base64url')), d.final()]);
}

/** Encrypts a value so that exactly `readers` (agent id → X25519 public key) can read it. */
export function encryptFor(value: string, readers: Record<string, string>): Encrypted {
  const eph = generateKeyPairSync('x25519');
  const epk = rawPublic(eph.publicKey);
  const content = randomBytes(32);
  const body = seal(content, Buffer.from(value, 'utf8'));
  const to: Encrypted['to'] = {};
  for (const [id, pub] of Object.entries(readers)) {
    const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Public(pub) });
    to[id] = seal(kek(shared, epk, id), content);
  }
  return { alg: 'x25519-hkdf-sha256-aes256gcm', epk, ...body, to };
}

/** The value, for a reader named in `enc.to` with its X25519 private key (PEM); null for anyone else. */
export function decryptAs(enc: Encrypted, reader: string, pem: string): string | null {
  const wrapped = enc.to[reader];
  if (!wrapped) return null;
  try {
    const shared = diffieHellman({ privateKey: createPrivateKey(pem), publicKey: x25519Public(enc.epk) });
    const content = open(kek(shared, enc.epk, reader), wrapped);
    return open(content, enc).toString('utf8');
  } catch {
    return null;
  }
}
