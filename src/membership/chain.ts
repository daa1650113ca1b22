import { join } from 'node:path';
import { isOisError, OisError } from '../errors.js';
import { type TeamStore, writeFileAtomic } from '../team/index.js';
import { MEMBERSHIP_FILE, PIN_FILE, readPin, type TeamPin } from './files.js';
import { type MemberRecord, parseRecord, recordHash, renderRecord } from './records.js';
import { applyRecord, EMPTY_STATE, type MembershipState } from './rules.js';

export interface ChainProblem {
  /** 1-based line of members/records.jsonl, or null for the chain as a whole. */
  line: number | null;
  code: 'record-invalid' | 'chain-missing' | 'owner-changed' | 'rollback';
  message: string;
  hint: string;
}

export interface Chain {
  /** The records that verify, in order; a record that does not verify ends the chain there. */
  records: MemberRecord[];
  state: MembershipState;
  problems: ChainProblem[];
  /** Lines after the verified records (a forged, torn or out-of-order record and all that follows). */
  ignoredLines: number;
}

/** Replays the text of members/records.jsonl: every record through the rules, up to the first that fails. */
export function replayChain(text: string): Chain {
  let state = EMPTY_STATE;
  const records: MemberRecord[] = [];
  const problems: ChainProblem[] = [];
  const lines = text.split('\n');
  let ignoredLines = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (problems.length > 0) {
      ignoredLines++;
      continue;
    }
    const parsed = parseRecord(line);
    try {
      if (typeof parsed === 'string') {
        throw new OisError('OIS_ERR_MEMBERSHIP_INVALID', `not a membership record: ${parsed}`, {
          hint: 'a torn or hand-written line',
        });
      }
      state = applyRecord(state, parsed);
      records.push(parsed);
    } catch (err) {
      if (!isOisError(err)) throw err;
      ignoredLines++;
      problems.push({
        line: i + 1,
        code: 'record-invalid',
        message: `${MEMBERSHIP_FILE}:${i + 1}: ${err.message}; this record and every later one are ignored`,
        hint: err.hint ?? 'ois doctor',
      });
    }
  }
  return { records, state, problems, ignoredLines };
}

/** Reads and verifies the team's membership records (an empty chain when the team has none). */
export async function readChain(store: TeamStore): Promise<Chain> {
  const bytes = await store.read(MEMBERSHIP_FILE);
  return replayChain(bytes === null ? '' : bytes.toString('utf8'));
}

/**
 * Checks the chain against what this instance pinned: the same founding key, and no fewer records than it
 * has seen. Returns the problems (each makes every member unverified for this instance).
 */
export function checkPin(chain: Chain, pin: TeamPin | null): ChainProblem[] {
  if (!pin) return [];
  const root = chain.records[0];
  if (!root) {
    return [
      {
        line: null,
        code: 'chain-missing',
        message: `${MEMBERSHIP_FILE} is missing or empty, but this instance joined a team owned by ${pin.owner}`,
        hint: 'restore members/records.jsonl from a backup; nobody is delivered to until then',
      },
    ];
  }
  if (root.subject.publicKey !== pin.publicKey) {
    return [
      {
        line: 1,
        code: 'owner-changed',
        message: `the team's founding record is not the one this instance pinned (owner ${pin.owner})`,
        hint: 'someone replaced members/records.jsonl: restore it, or if the team was really re-founded, delete team-pin.json in this home and join again',
      },
    ];
  }
  const seen = chain.records[pin.head.seq];
  if (!seen || recordHash(seen) !== pin.head.hash) {
    return [
      {
        line: null,
        code: 'rollback',
        message: `${MEMBERSHIP_FILE} has lost records this instance saw (it had ${pin.head.seq + 1})`,
        hint: 'restore members/records.jsonl from a backup; nobody is delivered to until then',
      },
    ];
  }
  return [];
}

/**
 * Pins the team's owner the first time (trust on first use), and moves the pinned head forward as the chain
 * grows. Never moves it back, never replaces the owner key.
 */
export async function updatePin(home: string, store: TeamStore, chain: Chain): Promise<TeamPin | null> {
  const root = chain.records[0];
  const last = chain.records.at(-1);
  if (!root || !last) return readPin(home);
  const pin = await readPin(home);
  if (pin && checkPin(chain, pin).length > 0) return pin;
  if (pin && pin.head.seq >= last.seq) return pin;
  const next: TeamPin = {
    team: store.root,
    owner: root.subject.name,
    publicKey: root.subject.publicKey,
    pinnedAt: pin?.pinnedAt ?? new Date().toISOString(),
    head: { seq: last.seq, hash: recordHash(last) },
  };
  await writeFileAtomic(join(home, PIN_FILE), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/**
 * Appends one record under the lock of the records file: reads the chain as it is now, lets `build` make
 * the record from the current state (so two admins at once each see the other's record), checks it with the
 * same rules every reader uses, and writes the file with the new line. Nothing is written when `build` or
 * the rules refuse.
 */
export async function appendRecord(
  store: TeamStore,
  build: (state: MembershipState, chain: Chain) => MemberRecord,
): Promise<{ record: MemberRecord; before: MembershipState; state: MembershipState }> {
  return store.withLock(MEMBERSHIP_FILE, async () => {
    const bytes = await store.read(MEMBERSHIP_FILE);
    const text = bytes === null ? '' : bytes.toString('utf8');
    const chain = replayChain(text);
    if (chain.problems.length > 0) {
      const p = chain.problems[0]!;
      throw new OisError('OIS_ERR_MEMBERSHIP_INVALID', p.message, { hint: p.hint });
    }
    const record = build(chain.state, chain);
    const state = applyRecord(chain.state, record);
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    await store.writeAtomic(MEMBERSHIP_FILE, `${text}${sep}${renderRecord(record)}\n`);
    return { record, before: chain.state, state };
  });
}

export { MEMBERSHIP_FILE, PIN_FILE, readPin, type TeamPin };
