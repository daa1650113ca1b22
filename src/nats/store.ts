import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV, KvEntry } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { dayHeader, isChatDate, type ParsedChatEntry, parseChatLog } from '../chatlog/index.js';
import { isOisError, OisError } from '../errors.js';
import type { Envelope } from '../federation/index.js';
import {
  DEFAULT_LOCK_STALE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type EntryInfo,
  inTurn,
  type LockOptions,
  normPath as norm,
  type PeerEnvelope,
  TEMP_PREFIX,
  type TeamStore,
  writeFileAtomic,
} from '../team/index.js';
import { NatsChatLog, type Stored } from './chat.js';
import { isTemporaryRefusal, type NatsTeam, publishOnce, retryUntil } from './connection.js';
import { serversForDisplay } from './names.js';

/** Files up to this size are kept in the KV bucket itself; larger ones in the object store. */
export const INLINE_MAX_BYTES = 256 * 1024;
/** The day files of the chat log: materialised from the chat stream, not kept in the bucket. */
const CHAT_DAY = /^chat\/(\d{4}-\d{2}-\d{2})\.md$/;
/** How long a failed connection is reported again before the next one is tried. */
const RECONNECT_AFTER_MS = 10_000;
/** The files an instance keeps a copy of in its home, to know its team while NATS is down. */
const CACHED = new Set(['AGENTS.md', 'members/records.jsonl']);
/** Chat days kept materialised in memory (a viewer reads a few days again and again). */
const DAY_CACHE = 8;
const INLINE = 0;
const POINTER = 1;
const TAIL_BYTES = 512;
/** What a day file on NATS ends with, always: a whole entry and its separator. */
const CLEAN_TAIL = '\n---\n\n';

/** Where a file larger than INLINE_MAX_BYTES is, as its KV value says. */
interface Pointer {
  object: string;
  size: number;
  sha256: string;
}

interface Day {
  count: number;
  lastSeq: number;
  text: Buffer;
}

interface Parts {
  team: NatsTeam;
  kv: KV;
  objects: ObjectStore;
  chat: NatsChatLog;
}

/**
 * The team folder on NATS JetStream (specs/nats.md): the same TeamStore contract as the file system, so the
 * registry, the membership records, shared files, memory, skills and tasks work unchanged.
 *
 * - Files are entries of the KV bucket `ois_<team>_files`, one key per path (`f.` and the path's segments,
 *   each escaped to KV key characters); a file over INLINE_MAX_BYTES is an object of `ois_<team>_blobs` and
 *   its KV value points at it. Every write is atomic: a reader sees the old value or the new one.
 * - Folders exist when something is under them, or when made with `ensureDir` (a `d.` marker key).
 * - Locks are `l.` keys made with KV `create` (it fails when the key exists): one holder across every
 *   instance. A holder refreshes its key; a waiter breaks a key it has seen unchanged for `staleMs` on its own
 *   clock (so clocks that disagree do not matter).
 * - The chat log's day files `chat/YYYY-MM-DD.md` are the chat stream (NatsChatLog): an append publishes one
 *   entry exactly once (its id is the `Nats-Msg-Id`), and reading a day file gives the header and that day's
 *   entries in stream order: what the folder would hold, and what `ois export` writes.
 *
 * The connection is made on first use, so opening a store is synchronous; `close` ends it.
 */
export class NatsTeamStore implements TeamStore {
  readonly root: string;
  readonly #connect: () => Promise<NatsTeam>;
  readonly #lock: Required<LockOptions>;
  #parts: Promise<Parts> | undefined;
  #failed: { at: number; err: unknown } | null = null;
  /** Paths whose team lock this store holds now: their reads always go to NATS, never to the copy. */
  readonly #holding = new Set<string>();
  readonly #days = new Map<string, Day>();
  readonly #local = new Map<string, Promise<unknown>>();
  readonly #dirs = new Set<string>();
  readonly #cacheDir: string | undefined;
  /** What was last written to the cache, per path (a hash), so an unchanged file is not written again. */
  readonly #cached = new Map<string, string>();
  readonly #cachedVersion = new Map<string, string>();

  /**
   * @param root how the store is named to the user (`nats://host:4222/team`, without credentials).
   * @param connect makes the connection, on first use.
   */
  constructor(
    root: string,
    connect: () => Promise<NatsTeam>,
    lock: LockOptions = {},
    options: { cacheDir?: string } = {},
  ) {
    this.root = root;
    this.#connect = connect;
    this.#cacheDir = options.cacheDir;
    this.#lock = {
      staleMs: lock.staleMs ?? DEFAULT_LOCK_STALE_MS,
      timeoutMs: lock.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    };
  }

  /** A store on a connection that is already open (tests, the daemon); `close` closes it. */
  static onTeam(team: NatsTeam, lock: LockOptions = {}): NatsTeamStore {
    return new NatsTeamStore(
      `nats://${serversForDisplay(team.servers)}/${team.names.team}`,
      async () => team,
      lock,
    );
  }

  /** The connection, the bucket, the object store and the chat log; made once. */
  parts(): Promise<Parts> {
    if (this.#parts === undefined) {
      // A connection that failed moments ago is not tried again at once: a command that reads the team
      // several times against an unreachable server pays the connect timeout once, not at every read.
      if (this.#failed !== null && Date.now() - this.#failed.at < RECONNECT_AFTER_MS) {
        return Promise.reject(this.#failed.err);
      }
      const attempt = this.#open();
      this.#parts = attempt;
      attempt.then(
        () => {
          this.#failed = null;
        },
        (err: unknown) => {
          // A failed connection is tried again by a later call.
          if (this.#parts === attempt) this.#parts = undefined;
          this.#failed = { at: Date.now(), err };
        },
      );
    }
    return this.#parts;
  }

  async #open(): Promise<Parts> {
    const team = await this.#connect();
    try {
      const [{ Kvm }, { Objm }] = await Promise.all([import('@nats-io/kv'), import('@nats-io/obj')]);
      const { names } = team;
      const kv = await retryUntil(team, `open the bucket ${names.filesBucket}`, () =>
        bucketError(names.filesBucket, () =>
          new Kvm(team.js).create(names.filesBucket, {
            history: 1,
            replicas: team.replicas,
            storage: 'file',
          }),
        ),
      );
      const objects = await retryUntil(team, `open the object store ${names.blobsBucket}`, () =>
        bucketError(names.blobsBucket, () =>
          new Objm(team.js).create(names.blobsBucket, { replicas: team.replicas, storage: 'file' }),
        ),
      );
      const chat = await NatsChatLog.open(team);
      return { team, kv, objects, chat };
    } catch (err) {
      // The connection would reconnect forever and keep the process alive: it goes with the failure.
      await team.close().catch(() => {});
      throw err;
    }
  }

  /** The chat log of the team (the stream behind the day files). */
  async chatLog(): Promise<NatsChatLog> {
    return (await this.parts()).chat;
  }

  async deliver(envelope: PeerEnvelope): Promise<{ duplicate: boolean }> {
    const { team } = await this.parts();
    // Lost every server: the courier has HTTP to fall back on, now, rather than after the write deadline.
    if (!team.online()) {
      throw new OisError('OIS_ERR_NATS_UNREACHABLE', `NATS (${this.root}) is not connected: reconnecting`, {
        hint: 'the message goes over HTTP, or waits in the outbox until NATS is back',
      });
    }
    // The inbox code (and its schema validator) is loaded by the first send.
    const { sendToInbox } = await import('./inbox.js');
    return sendToInbox(team, envelope as Envelope);
  }

  /** The team's connection (the daemon reads its inbox on it). */
  async team(): Promise<NatsTeam> {
    return (await this.parts()).team;
  }

  /** Closes the connection, if one was made. */
  async close(): Promise<void> {
    const parts = this.#parts;
    this.#parts = undefined;
    if (parts) await (await parts.catch(() => null))?.team.close();
  }

  // --- reading -------------------------------------------------------------------------------------------

  async read(rel: string): Promise<Buffer | null> {
    const date = chatDay(rel);
    if (date !== null) return this.#readDay(date);
    if (this.#cacheDir !== undefined && CACHED.has(norm(rel))) {
      return this.#throughCache(
        rel,
        () => this.#read(rel),
        (copy) => copy,
      );
    }
    return this.#read(rel);
  }

  async #read(rel: string): Promise<Buffer | null> {
    const { team, kv, objects } = await this.parts();
    const entry = await this.#get(kv, team, fileKey(rel));
    return entry === null ? null : contentOf(entry, objects, team, rel);
  }

  async readFrom(rel: string, offset: number): Promise<Buffer | null> {
    const data = await this.read(rel);
    return data === null ? null : data.subarray(Math.min(offset, data.length));
  }

  readFile(rel: string): Promise<Buffer | null> {
    // Nothing on NATS is a symlink: every key is a file.
    return this.read(rel);
  }

  async size(rel: string): Promise<number | null> {
    return (await this.stat(rel))?.size ?? null;
  }

  async stat(rel: string): Promise<EntryInfo | null> {
    const date = chatDay(rel);
    if (date !== null) {
      const text = await this.#readDay(date);
      if (text === null) return null;
      const day = this.#days.get(date)!;
      return { kind: 'file', size: text.length, mtimeMs: 0, version: `chat:${day.count}:${day.lastSeq}` };
    }
    if (this.#cacheDir !== undefined && CACHED.has(norm(rel))) {
      return this.#throughCache(
        rel,
        () => this.#stat(rel),
        (copy) => ({ kind: 'file', size: copy.length, mtimeMs: 0, version: `cache:${hash(copy)}` }),
      );
    }
    return this.#stat(rel);
  }

  /**
   * Reads what the registry and the membership records are made of through a copy in the instance home: the
   * copy is refreshed by every read that reaches NATS, and answers when NATS cannot be reached (the
   * connection is down, or reconnecting), so that an instance knows its team while the cluster is down:
   * `ois send` plans its recipients and queues in the outbox, a daemon verifies envelopes that come over
   * HTTP. Only those two files: nothing else is read from a copy, and nothing is written to one.
   */
  async #throughCache<T>(rel: string, live: () => Promise<T>, fromCopy: (copy: Buffer) => T): Promise<T> {
    // Under this file's lock the caller is about to write what it reads: only NATS itself will do.
    if (this.#holding.has(norm(rel))) return live();
    const file = join(this.#cacheDir!, norm(rel).split('/').map(encodeSegment).join('.'));
    let failure: unknown;
    const parts = await this.parts().catch((err: unknown) => {
      failure = err;
      return null;
    });
    if (parts?.team.online()) {
      try {
        const result = await live();
        if (result !== null) {
          // A read gives the bytes; a stat only says whether they changed since the copy was written.
          const data = Buffer.isBuffer(result) ? result : undefined;
          const version = data === undefined ? (result as EntryInfo).version : undefined;
          await this.#remember(rel, file, data, version);
        }
        return result;
      } catch (err) {
        failure = err;
      }
    }
    if (failure !== undefined && !isOisError(failure, 'OIS_ERR_NATS_UNREACHABLE')) throw failure;
    const copy = await readFile(file).catch(() => null);
    if (copy === null) {
      throw failure ?? new OisError('OIS_ERR_NATS_UNREACHABLE', `NATS (${this.root}) is not connected`);
    }
    return fromCopy(copy);
  }

  async #remember(rel: string, file: string, given?: Buffer, version?: string): Promise<void> {
    if (version !== undefined && this.#cachedVersion.get(rel) === version) return;
    const data = given ?? (await this.#read(rel));
    if (data === null) return;
    const digest = hash(data);
    if (this.#cached.get(rel) !== digest) {
      try {
        await mkdir(this.#cacheDir!, { recursive: true, mode: 0o700 });
        await writeFileAtomic(file, data, { mode: 0o600 });
        this.#cached.set(rel, digest);
      } catch {
        return; // the copy is a convenience: the next read tries again
      }
    }
    if (version !== undefined) this.#cachedVersion.set(rel, version);
  }

  async #stat(rel: string): Promise<EntryInfo | null> {
    const { team, kv } = await this.parts();
    const key = fileKey(rel);
    const entry = await this.#get(kv, team, key);
    if (entry !== null) {
      const size = entry.value[0] === POINTER ? pointerOf(entry, rel).size : entry.value.length - 1;
      return { kind: 'file', size, mtimeMs: entry.created.getTime(), version: String(entry.revision) };
    }
    const path = norm(rel);
    const marked = async () =>
      path !== '' &&
      (await this.#get(kv, team, ['d', ...path.split('/').map(encodeSegment), DIR_MARK].join('.'))) !== null;
    const chatDays = async () => path === 'chat' && (await (await this.parts()).chat.days()).length > 0;
    if (path === '' || (await marked()) || (await this.#children(rel, true)).size > 0 || (await chatDays())) {
      return { kind: 'dir', size: 0, mtimeMs: 0, version: 'dir' };
    }
    return null;
  }

  async list(rel: string): Promise<string[]> {
    const names = await this.#children(rel, false);
    if (norm(rel) === 'chat') {
      const { chat } = await this.parts();
      for (const date of await chat.days()) names.add(`${date}.md`);
    } else if (norm(rel) === '' && (await (await this.parts()).chat.days()).length > 0) {
      names.add('chat');
    }
    return [...names].filter((name) => !name.startsWith(TEMP_PREFIX) && !name.endsWith('.lock')).sort();
  }

  /** The names right under a folder: of files and of marked folders (`first`: stop at one). */
  async #children(rel: string, first: boolean): Promise<Set<string>> {
    const segments = norm(rel) === '' ? [] : norm(rel).split('/').map(encodeSegment);
    const names = new Set<string>();
    for (const prefix of ['f', 'd']) {
      for (const key of await this.#keys([prefix, ...segments, '>'].join('.'))) {
        const token = key.split('.')[segments.length + 1];
        if (token === undefined || token === DIR_MARK) continue;
        names.add(decodeSegment(token));
        if (first) return names;
      }
    }
    return names;
  }

  /**
   * The keys of the bucket under a filter, from the stream's subjects: one request, where the client's
   * `keys()` runs a consumer, which a cluster that just lost a node can leave waiting for seconds. A removed
   * file is purged from the stream (see `remove`), so every subject there is a live key.
   */
  async #keys(filter: string): Promise<string[]> {
    const { team } = await this.parts();
    const { filesBucket } = team.names;
    const prefix = `$KV.${filesBucket}.`;
    const info = await retryUntil(team, `list ${filter}`, () =>
      team.jsm.streams.info(`KV_${filesBucket}`, { subjects_filter: `${prefix}${filter}` }),
    );
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  // --- writing -------------------------------------------------------------------------------------------

  async writeAtomic(rel: string, data: string | Uint8Array): Promise<void> {
    const bytes = Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    const date = chatDay(rel);
    if (date !== null) return this.#importDay(date, bytes.toString('utf8'));
    const { team, kv, objects } = await this.parts();
    const key = fileKey(rel);
    const before = await this.#get(kv, team, key);
    let value: Uint8Array;
    if (bytes.length <= INLINE_MAX_BYTES) {
      value = Buffer.concat([Buffer.of(INLINE), bytes]);
    } else {
      const pointer: Pointer = {
        object: `${key}~${randomUUID()}`,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      await retryUntil(team, `store ${rel}`, () => objects.putBlob({ name: pointer.object }, bytes));
      value = Buffer.concat([Buffer.of(POINTER), Buffer.from(JSON.stringify(pointer))]);
    }
    await retryUntil(team, `write ${rel}`, () => kv.put(key, value));
    if (before?.value[0] === POINTER) await dropObject(objects, pointerOf(before, rel));
  }

  async append(rel: string, render: (tail: string) => string): Promise<void> {
    const date = chatDay(rel);
    if (date !== null) return this.#appendChat(date, render);
    await this.withLock(rel, async () => {
      const current = (await this.read(rel)) ?? Buffer.alloc(0);
      const tail = current.subarray(Math.max(0, current.length - TAIL_BYTES)).toString('utf8');
      await this.writeAtomic(rel, Buffer.concat([current, Buffer.from(render(tail), 'utf8')]));
    });
  }

  async ensureDir(rel: string): Promise<void> {
    const segments = norm(rel) === '' ? [] : norm(rel).split('/');
    if (segments.length === 0 || chatDay(rel) !== null) return;
    const key = ['d', ...segments.map(encodeSegment), DIR_MARK].join('.');
    // A folder is never removed (remove takes files), so one known to exist needs no round trip again:
    // appendEntry makes sure of chat/ before every entry.
    if (this.#dirs.has(key)) return;
    const { team, kv } = await this.parts();
    if ((await this.#get(kv, team, key)) === null) {
      await retryUntil(team, `create ${rel}`, () => kv.put(key, ''));
    }
    this.#dirs.add(key);
  }

  async remove(rel: string): Promise<boolean> {
    if (chatDay(rel) !== null) throw appendOnly(rel);
    const { team, kv, objects } = await this.parts();
    const key = fileKey(rel);
    const before = await this.#get(kv, team, key);
    if (before === null) return false;
    // Purged from the stream, not marked deleted: the name leaves the listing (its subject) at once.
    const { filesBucket } = team.names;
    await retryUntil(team, `remove ${rel}`, () =>
      team.jsm.streams.purge(`KV_${filesBucket}`, { filter: `$KV.${filesBucket}.${key}` }),
    );
    if (before.value[0] === POINTER) await dropObject(objects, pointerOf(before, rel));
    return true;
  }

  // --- locks ---------------------------------------------------------------------------------------------

  async withLock<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    // One holder per name in this process first (a promise queue), then across instances (the KV key).
    return inTurn(this.#local, norm(rel), () => this.#withTeamLock(rel, fn));
  }

  async #withTeamLock<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    const { team, kv } = await this.parts();
    const key = `l.${norm(rel).split('/').map(encodeSegment).join('.')}`;
    // The token tells our own key from another's: a create whose acknowledgement was lost and repeated finds
    // the key there, and it is ours.
    const token = randomUUID();
    const since = new Date().toISOString();
    const owner = () => JSON.stringify({ pid: process.pid, host: hostname(), since, token });
    const staleMs = this.#lock.staleMs;
    // A waiter must be able to outwait a dead holder's key: at least the stale time, whatever the timeout.
    const waitMs = Math.max(this.#lock.timeoutMs, staleMs + 2_000);
    const deadline = Date.now() + waitMs;
    let seen = null as { revision: number; since: number } | null;
    let delay = 2;
    let revision: number;
    for (;;) {
      const made = await retryUntil(team, `lock ${rel}`, async () => {
        try {
          return await kv.create(key, owner());
        } catch (err) {
          if (isWrongSequence(err)) return null;
          throw err;
        }
      });
      if (made !== null) {
        revision = made;
        break;
      }
      const held = await this.#get(kv, team, key);
      if (held !== null) {
        if (parseOwner(held)?.token === token) {
          revision = held.revision;
          break;
        }
        // Stale: the holder has not refreshed its key for staleMs, by the server's stamp against our clock,
        // or, when the clocks disagree, by how long we have seen the same revision ourselves.
        const age = Date.now() - held.created.getTime();
        if (seen === null || seen.revision !== held.revision)
          seen = { revision: held.revision, since: Date.now() };
        if (age >= staleMs || Date.now() - seen.since >= staleMs) {
          // Only the waiter that deletes this very revision wins; the others see the key change.
          await kv.delete(key, { previousSeq: held.revision }).catch(() => {});
          continue;
        }
      }
      if (Date.now() >= deadline) {
        const holder = held === null ? null : parseOwner(held);
        throw new OisError(
          'OIS_ERR_LOCK_TIMEOUT',
          `timed out after ${Math.round(waitMs / 1000)} s waiting for the lock of ${rel} on ${this.root}`,
          {
            hint: holder
              ? `it is held by pid ${holder.pid} on ${holder.host} since ${holder.since}, and kept alive; a lock whose holder is gone is broken after ${Math.round(staleMs / 1000)} s`
              : 'try again',
            details: {
              lock: key,
              ...(holder ? { owner: { pid: holder.pid, host: holder.host, since: holder.since } } : {}),
            },
          },
        );
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 50);
    }
    // Refresh the key while holding it, so waiters see a live holder; one refresh at a time.
    let refreshing: Promise<void> = Promise.resolve();
    const refresh = setInterval(
      () => {
        refreshing = refreshing.then(() =>
          kv.update(key, owner(), revision).then(
            (next) => {
              revision = next;
            },
            () => {},
          ),
        );
      },
      Math.max(500, Math.floor(staleMs / 3)),
    );
    refresh.unref();
    const path = norm(rel);
    this.#holding.add(path);
    try {
      return await fn();
    } finally {
      this.#holding.delete(path);
      clearInterval(refresh);
      await refreshing;
      await this.#release(kv, team, key, token, revision);
    }
  }

  /** Deletes our lock key (this revision, or the one a refresh made); a key that is not ours stays. */
  async #release(kv: KV, team: NatsTeam, key: string, token: string, revision: number): Promise<void> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await kv.delete(key, { previousSeq: revision });
        return;
      } catch {
        const held = await this.#get(kv, team, key).catch(() => null);
        if (held === null || parseOwner(held)?.token !== token) return;
        revision = held.revision;
      }
    }
  }

  // --- the chat log's day files --------------------------------------------------------------------------

  /** A day file: its header and the day's entries in stream order, or null when the day has none. */
  async #readDay(date: string): Promise<Buffer | null> {
    const { chat } = await this.parts();
    const count = await chat.dayCount(date);
    let day = this.#days.get(date);
    if (count === 0) return null;
    if (day === undefined || day.count !== count) {
      const have = day ?? { count: 0, lastSeq: 0, text: Buffer.from(dayHeader(date), 'utf8') };
      const more: Stored[] = count > have.count ? await chat.dayAfter(date, have.lastSeq, have.count) : [];
      day = {
        count: have.count + more.length,
        lastSeq: more.at(-1)?.seq ?? have.lastSeq,
        text: Buffer.concat([have.text, ...more.map((m) => Buffer.from(m.text, 'utf8'))]),
      };
    }
    this.#days.delete(date);
    this.#days.set(date, day);
    while (this.#days.size > DAY_CACHE) this.#days.delete(this.#days.keys().next().value!);
    return day.text;
  }

  /** Appends one rendered entry (what `appendEntry` renders after the day's tail) as one message, once. */
  async #appendChat(date: string, render: (tail: string) => string): Promise<void> {
    // Every message of the stream is one whole entry, so the day never ends torn: the tail a writer would
    // see is always a clean one, and reading the day first would only cost a round trip.
    const text = stripLead(render(CLEAN_TAIL), date);
    const { entries, problems } = parseChatLog(dayHeader(date) + text, date);
    if (entries.length !== 1 || problems.length > 0) {
      throw new OisError(
        'OIS_ERR_STORAGE',
        `cannot append to the chat of ${date} on ${this.root}: not one chat entry`,
        {
          hint: 'append chat entries through the chat log (appendEntry)',
        },
      );
    }
    await this.#publishEntry(date, entries[0]!, text);
  }

  /**
   * Writing a whole day file (`ois import`): the chat log is append-only, so each entry of the text that the
   * day does not hold yet is appended, in order (by id; an entry without one by the hash of its text).
   */
  async #importDay(date: string, text: string): Promise<void> {
    const wanted = entrySlices(text, date);
    if (wanted.length === 0 && text.trim() !== '' && text.trim() !== dayHeader(date).trim()) {
      throw new OisError('OIS_ERR_STORAGE', `chat/${date}.md holds no chat entry`, {
        hint: 'a day file holds the day header and chat entries (specs/chat-log.md)',
      });
    }
    // The day may hold entries the text lacks (an instance already logged there on NATS): they stay, and the
    // text's entries the day does not hold are appended after them. Nothing is replaced or removed.
    const have = new Set(
      entrySlices((await this.#readDay(date))?.toString('utf8') ?? '', date).map((e) => e.key),
    );
    for (const { entry, text: slice, key } of wanted) {
      if (!have.has(key)) await this.#publishEntry(date, entry, slice);
    }
  }

  async #publishEntry(date: string, entry: { id: string; from: string }, text: string): Promise<void> {
    const { team } = await this.parts();
    await publishOnce(
      team,
      // As its writer (the reply this instance logs for a peer included), else as who it says it is from.
      team.names.chatSubject(date, team.self ?? (entry.from || 'unknown')),
      Buffer.from(text, 'utf8'),
      entryKey(entry, text),
    );
  }

  async #get(kv: KV, team: NatsTeam, key: string): Promise<KvEntry | null> {
    const entry = await retryUntil(team, `read ${key}`, () => kv.get(key));
    return entry === null || entry.operation !== 'PUT' ? null : entry;
  }
}

function hash(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}

/** The marker token of a folder made with ensureDir (`d.<segments>.=`); never an escaped segment. */
const DIR_MARK = '=';

function chatDay(rel: string): string | null {
  const date = CHAT_DAY.exec(norm(rel))?.[1];
  return date !== undefined && isChatDate(date) ? date : null;
}

/** What an append rendered, without the day header it adds to an empty day or the blank lines it adds to separate. */
function stripLead(rendered: string, date: string): string {
  const header = dayHeader(date);
  const text = rendered.startsWith(header) ? rendered.slice(header.length) : rendered;
  return text.replace(/^\n+/, '');
}

/**
 * A day file's entries, each with its text (from its heading to the next one) and its key: its id, or for an
 * entry without one (written by hand) the hash of its text.
 */
function entrySlices(text: string, date: string): { entry: ParsedChatEntry; text: string; key: string }[] {
  const { entries } = parseChatLog(text, date);
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  return entries.map((entry, n) => {
    const next = entries[n + 1];
    const slice =
      next === undefined
        ? lines.slice(entry.line - 1).join('\n')
        : `${lines.slice(entry.line - 1, next.line - 1).join('\n')}\n`;
    return { entry, text: slice, key: entryKey(entry, slice) };
  });
}

/** The `Nats-Msg-Id` of a chat entry: its id, or the hash of its text when it has none. */
function entryKey(entry: { id: string }, text: string): string {
  return entry.id || `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function appendOnly(rel: string): OisError {
  return new OisError('OIS_ERR_STORAGE', `${rel} is part of the chat log, which is append-only on NATS`, {
    hint: 'the chat log keeps every entry; nothing in it is replaced or removed',
  });
}

/** A path's KV key: `f.` and its segments, each escaped (`=` and two hex digits per byte outside [A-Za-z0-9_-]). */
export function fileKey(rel: string): string {
  const path = norm(rel);
  if (path === '') throw new OisError('OIS_ERR_USAGE', 'the team store has no file at its root path');
  return `f.${path.split('/').map(encodeSegment).join('.')}`;
}

export function encodeSegment(segment: string): string {
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeSegment(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=' && /^[0-9A-F]{2}$/.test(token.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

async function contentOf(entry: KvEntry, objects: ObjectStore, team: NatsTeam, rel: string): Promise<Buffer> {
  const value = entry.value;
  if (value[0] !== POINTER) return Buffer.from(value.subarray(1));
  const pointer = pointerOf(entry, rel);
  const data = await retryUntil(team, `read ${rel}`, () => objects.getBlob(pointer.object));
  if (data === null || data.length !== pointer.size) {
    throw new OisError(
      'OIS_ERR_STORAGE',
      `cannot read ${rel}: its content is missing from the object store`,
      {
        hint: 'it was replaced while being read; read it again',
      },
    );
  }
  return Buffer.from(data);
}

function pointerOf(entry: KvEntry, rel: string): Pointer {
  try {
    return JSON.parse(Buffer.from(entry.value.subarray(1)).toString('utf8')) as Pointer;
  } catch (err) {
    throw new OisError('OIS_ERR_STORAGE', `cannot read ${rel}: its entry on NATS is damaged`, { cause: err });
  }
}

async function dropObject(objects: ObjectStore, pointer: Pointer): Promise<void> {
  // The KV entry no longer points at it: a failure leaves an unused object, never a broken file.
  await objects.delete(pointer.object).catch(() => {});
}

function parseOwner(entry: KvEntry): { pid: number; host: string; since: string; token?: string } | null {
  try {
    return JSON.parse(entry.string()) as { pid: number; host: string; since: string; token?: string };
  } catch {
    return null;
  }
}

/** KV `create`/`update` refused: the key exists, or moved on (JetStream's "wrong last sequence"). */
function isWrongSequence(err: unknown): boolean {
  for (let e = err as Error | undefined, depth = 0; e && depth < 3; e = e.cause as Error, depth++) {
    if (/wrong last sequence|key exists/i.test(e.message ?? '')) return true;
    const code = (e as { apiError?: () => { err_code?: number } }).apiError?.().err_code;
    if (code === 10071) return true;
  }
  return false;
}

async function bucketError<T>(bucket: string, make: () => Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (err) {
    const code = (err as { apiError?: () => { err_code?: number } }).apiError?.().err_code;
    if (code !== undefined && !isTemporaryRefusal(err)) {
      throw new OisError(
        'OIS_ERR_NATS_JETSTREAM',
        `JetStream refused the bucket ${bucket}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}
