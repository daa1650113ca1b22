import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OisError, storageError } from '../errors.js';

/**
 * Where membership lives, and the pin: no cryptography here, so a command that only needs the cached
 * verification (src/membership/view.ts) does not load node:crypto.
 */

/** The membership records in the team folder: one signed record per line, appended, never rewritten. */
export const MEMBERSHIP_FILE = 'members/records.jsonl';
/** What this instance pinned the first time it joined (trust on first use): in its home, never shared. */
export const PIN_FILE = 'team-pin.json';

export interface TeamPin {
  team: string;
  owner: string;
  /** The founding record's key: the root every record must verify back to. */
  publicKey: string;
  pinnedAt: string;
  /** The longest chain this instance has seen, to notice records taken away. */
  head: { seq: number; hash: string };
}

export async function readPin(home: string): Promise<TeamPin | null> {
  const file = join(home, PIN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storageError('read', file, err);
  }
  try {
    const pin = JSON.parse(text) as TeamPin;
    if (typeof pin.publicKey !== 'string' || typeof pin.head?.seq !== 'number') throw new Error('shape');
    return pin;
  } catch {
    throw new OisError('OIS_ERR_MEMBERSHIP_INVALID', `${file} is not a team pin`, {
      hint: 'delete it and run ois join again to pin the team owner',
    });
  }
}
