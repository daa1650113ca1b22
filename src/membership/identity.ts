import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OisError, storageError } from '../errors.js';
import { formatPublicKey, parsePrivateKey } from './keys.js';

export const IDENTITY_FILE = 'identity.key';

export interface Identity {
  privateKey: KeyObject;
  /** `ed25519:<base64url>`, as published in AGENTS.md. */
  publicKey: string;
}

/** Creates `<home>/identity.key` (mode 0600) unless it exists; returns the identity either way. */
export async function ensureIdentity(home: string): Promise<{ identity: Identity; created: boolean }> {
  const existing = await loadIdentity(home);
  if (existing) return { identity: existing, created: false };
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const file = join(home, IDENTITY_FILE);
  try {
    // 'wx': a key that appeared meanwhile (another init) is kept, never replaced.
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return { identity: (await loadIdentity(home))!, created: false };
    }
    throw storageError('write', file, err);
  }
  return { identity: { privateKey, publicKey: formatPublicKey(privateKey) }, created: true };
}

/** This instance's identity, or null when it has none yet. */
export async function loadIdentity(home: string): Promise<Identity | null> {
  const file = join(home, IDENTITY_FILE);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storageError('read', file, err);
  }
  try {
    const privateKey = parsePrivateKey(pem);
    return { privateKey, publicKey: formatPublicKey(privateKey) };
  } catch {
    throw new OisError('OIS_ERR_IDENTITY_MISSING', `${file} is not an Ed25519 private key`, {
      hint: `move it aside and run ois init again (a new key needs ois join to publish it)`,
    });
  }
}

/** The key `ois keys rotate` made, waiting for an admin's approval; the old key signs until then. */
export const NEXT_IDENTITY_FILE = 'identity.next.key';
/** The key a rotation replaced, kept (never used again) so nothing is lost by mistake. */
export const OLD_IDENTITY_FILE = 'identity.old.key';

/** The waiting next key, created (mode 0600) when there is none. */
export async function ensureNextIdentity(home: string): Promise<Identity> {
  const file = join(home, NEXT_IDENTITY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readKeyFile(file))!;
    throw storageError('write', file, err);
  }
  return { privateKey, publicKey: formatPublicKey(privateKey) };
}

/**
 * Once the team's records approved the waiting key (`approvedKey` is this member's key in them), makes it
 * this instance's key: identity.key becomes identity.old.key, identity.next.key becomes identity.key.
 * Returns the new identity, or null when there was nothing to adopt.
 */
export async function adoptApprovedKey(home: string, approvedKey: string | null): Promise<Identity | null> {
  if (approvedKey === null) return null;
  const next = await readKeyFile(join(home, NEXT_IDENTITY_FILE)).catch(() => null);
  if (!next || next.publicKey !== approvedKey) return null;
  try {
    await rename(join(home, IDENTITY_FILE), join(home, OLD_IDENTITY_FILE));
    await rename(join(home, NEXT_IDENTITY_FILE), join(home, IDENTITY_FILE));
  } catch (err) {
    throw storageError('rotate the key in', home, err);
  }
  return next;
}

async function readKeyFile(file: string): Promise<Identity | null> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storageError('read', file, err);
  }
  const privateKey = parsePrivateKey(pem);
  return { privateKey, publicKey: formatPublicKey(privateKey) };
}
