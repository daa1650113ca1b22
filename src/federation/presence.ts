import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentId, type Registry } from '../registry/index.js';
import { writeFileAtomic } from '../team/index.js';
import { probeGet } from '../transport/index.js';
import { federationOf } from './peer.js';

export const PRESENCE_FILE = 'presence.json';
export const DEFAULT_PRESENCE_INTERVAL_MS = 15_000;

/** What this instance last knew of a peer. A union, not booleans: a peer is up, down, or never probed. */
export type PeerPresence =
  | { status: 'up'; via: 'daemon' | 'gateway'; lastSeen: string; checkedAt: string; ms: number }
  | { status: 'down'; lastSeen: string | null; checkedAt: string; problem: string };

export type PresenceSnapshot = Record<string, PeerPresence>;

export interface PresenceOptions {
  home: string;
  self: string;
  registry: () => Promise<Registry>;
  intervalMs?: number;
  timeoutMs?: number;
  /** A peer went from down (or unknown) to up: its queued messages can go now. */
  onUp?: (peer: string) => void;
  /** How long a peer must be down before `onOffline` (default 2 minutes). */
  offlineAfterMs?: number;
  /** A peer has been down for `offlineAfterMs` (once per outage), with when it was last seen. */
  onOffline?: (peer: string, lastSeen: string | null) => void;
  /** A peer that `onOffline` reported is back. */
  onOnline?: (peer: string) => void;
}

/**
 * Probes every other active agent on an interval (its daemon's /healthz, else its gateway's /health) and
 * keeps the result in `<home>/presence.json`, which `ois agents` reads.
 */
export class PresenceMonitor {
  readonly #options: PresenceOptions;
  #timer: NodeJS.Timeout | null = null;
  #snapshot: PresenceSnapshot = {};
  #running: Promise<void> | null = null;
  /** When each peer that is down was first found down, and whether its outage was reported. */
  readonly #down = new Map<string, { since: number; reported: boolean }>();

  constructor(options: PresenceOptions) {
    this.#options = options;
  }

  snapshot(): PresenceSnapshot {
    return { ...this.#snapshot };
  }

  async start(): Promise<void> {
    this.#snapshot = await readPresence(this.#options.home);
    await this.probeAll();
    this.#timer = setInterval(() => {
      void this.probeAll();
    }, this.#options.intervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** One round over every peer (concurrently); rounds never overlap. */
  probeAll(): Promise<void> {
    this.#running ??= this.#round().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    const registry = await this.#options.registry().catch(() => null);
    if (!registry) return;
    const self = agentId(this.#options.self);
    const peers = registry.agents.filter((a) => a.id !== self && a.status === 'active');
    const timeoutMs = this.#options.timeoutMs ?? 3000;
    await Promise.all(
      peers.map(async (peer) => {
        const federation = federationOf(peer);
        const url = federation
          ? `${federation.url}/healthz`
          : peer.gateway
            ? `${peer.gateway.url}/health`
            : null;
        if (!url) return;
        const before = this.#snapshot[peer.name];
        const checkedAt = new Date().toISOString();
        try {
          const probe = await probeGet(url, timeoutMs);
          if (probe.status !== 200) throw new Error(`HTTP ${probe.status}`);
          this.#snapshot[peer.name] = {
            status: 'up',
            via: federation ? 'daemon' : 'gateway',
            lastSeen: checkedAt,
            checkedAt,
            ms: Math.round(probe.ms),
          };
          if (before?.status !== 'up') this.#options.onUp?.(peer.name);
          if (this.#down.get(peer.name)?.reported) this.#options.onOnline?.(peer.name);
          this.#down.delete(peer.name);
        } catch (err) {
          const lastSeen = before?.status === 'up' ? before.lastSeen : (before?.lastSeen ?? null);
          this.#snapshot[peer.name] = {
            status: 'down',
            lastSeen,
            checkedAt,
            problem: (err as Error).message,
          };
          const down = this.#down.get(peer.name) ?? { since: Date.now(), reported: false };
          this.#down.set(peer.name, down);
          if (!down.reported && Date.now() - down.since >= (this.#options.offlineAfterMs ?? 120_000)) {
            down.reported = true;
            this.#options.onOffline?.(peer.name, lastSeen);
          }
        }
      }),
    );
    await writeFileAtomic(
      join(this.#options.home, PRESENCE_FILE),
      `${JSON.stringify(this.#snapshot, null, 2)}\n`,
    ).catch(() => {});
  }
}

/** What the daemon last recorded; empty when it never ran. */
export async function readPresence(home: string): Promise<PresenceSnapshot> {
  try {
    return JSON.parse(await readFile(join(home, PRESENCE_FILE), 'utf8')) as PresenceSnapshot;
  } catch {
    return {};
  }
}
