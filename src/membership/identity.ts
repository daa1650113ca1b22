import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
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
