import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/index.js';
import { OisError } from '../../src/errors.js';
import { type OutboxMessage, type PresenceSnapshot, SeenStore } from '../../src/federation/index.js';
import { markNoticesRead, readNotices } from '../../src/notices/index.js';
import { loadRegistry } from '../../src/registry/index.js';
import { APP_AJV_OPTIONS, buildApp } from '../../src/server/index.js';
import { type ViewerOptions, viewerPlugin } from '../../src/server/viewer/plugin.js';
import { FsTeamStore } from '../../src/team/index.js';
import { tempDir } from '../helpers/cli.js';
import { ROOT } from '../helpers/spec-blocks.js';

/** Shared by the viewer's API, share and browser tests: a real team folder and small fakes around it. */

export const REGISTRY = `# Team registry

## alpha (admin)

\`\`\`yaml ois-agent
name: alpha
role: admin
status: active
description: Research assistant
capabilities: [research, web]
gateway: { url: "http://127.0.0.1:18789", sessionKey: "agent:main:main" }
joined: "2026-11-21"
zerotier: { ip: "10.147.17.5", node: "a1b2c3d4e5" }
federation: { url: "http://10.147.17.5:18790", publicKey: "ed25519:AAAA" }
\`\`\`

## beta (member)

\`\`\`yaml ois-agent
name: beta
role: member
status: active
description: Coding assistant
capabilities: [code, review]
gateway: { url: "http://127.0.0.1:18790", sessionKey: "agent:main:main" }
joined: "2026-11-21"
\`\`\`
`;

export function fakeOutboxMessage(id: string, state: OutboxMessage['state']): OutboxMessage {
  return {
    id,
    peer: 'beta',
    payload: JSON.stringify({
      v: 2,
      peer: 'beta',
      id,
      from: 'alpha',
      createdAt: '2026-11-21T10:00:00.000Z',
      body: `hello ${id}`,
    }),
    mode: 'direct',
    createdAt: Date.parse('2026-11-21T10:00:00Z'),
    expiresAt: Date.parse('2026-11-28T10:00:00Z'),
    attempts: 3,
    nextAttemptAt: Date.parse('2026-11-21T10:05:00Z'),
    leaseUntil: null,
    lastError: state === 'dead' ? null : 'OIS_ERR_PEER_UNREACHABLE: refused',
    deadReason: state === 'dead' ? 'expired' : null,
    state,
  };
}

export interface ViewerFixture {
  app: FastifyInstance;
  dir: string;
  /** The instance home the notices are read and marked in. */
  home: string;
  store: FsTeamStore;
  sent: { to: string[] | 'all'; body: string }[];
  outbox: OutboxMessage[];
  /** How often each file of the team folder was read whole, by relative path. */
  reads: Map<string, number>;
  close(): Promise<void>;
}

/** The viewer's options around a real team folder, and what the fakes recorded. */
export async function viewerSetup(overrides: Partial<ViewerOptions> = {}) {
  const dir = await tempDir('ois-viewer-');
  await writeFile(join(dir, 'AGENTS.md'), REGISTRY);
  const store = new FsTeamStore(dir);
  const reads = new Map<string, number>();
  const read = store.read.bind(store);
  store.read = (rel) => {
    reads.set(rel, (reads.get(rel) ?? 0) + 1);
    return read(rel);
  };
  const sent: ViewerFixture['sent'] = [];
  const outbox = [
    fakeOutboxMessage('01JQUEUED0000000000000000A', 'queued'),
    fakeOutboxMessage('01JDEAD00000000000000000B', 'dead'),
  ];
  const find = (id: string) => {
    const m = outbox.find((x) => x.id === id);
    if (!m) {
      throw new OisError('OIS_ERR_OUTBOX_NOT_FOUND', `no message ${id} in the outbox`);
    }
    return m;
  };
  const presence: PresenceSnapshot = {
    beta: {
      status: 'down',
      lastSeen: '2026-11-21T09:00:00.000Z',
      checkedAt: '2026-11-21T10:00:00.000Z',
      problem: 'refused',
    },
  };
  const home = await tempDir('ois-viewer-home-');
  const options: ViewerOptions = {
    store,
    notices: {
      read: () => readNotices(store, home, { mute: ['peer_online'] }),
      markRead: (until) => markNoticesRead(home, until),
    },
    registry: () => loadRegistry(store),
    config: { name: 'alpha' } as ViewerOptions['config'],
    presence: async () => presence,
    outbox: {
      list: () => outbox.filter((m) => m.state !== 'delivered'),
      retryNow: (id) => {
        const m = find(id);
        m.state = 'queued';
        return m;
      },
      drop: (id) => {
        const m = find(id);
        outbox.splice(outbox.indexOf(m), 1);
        return m;
      },
    },
    send: async (to, body) => {
      sent.push({ to, body });
      return {
        deliveries: (to === 'all' ? ['beta'] : to).map((name) => ({ to: name, outcome: 'delivered' })),
      };
    },
    auth: { required: false, token: null },
    followIntervalMs: 100,
    ...overrides,
  };
  return { options, dir, home, store, sent, outbox, reads };
}

export async function viewerFixture(
  overrides: Partial<ViewerOptions> = {},
  listen = false,
): Promise<ViewerFixture> {
  const { options, ...rest } = await viewerSetup(overrides);
  // The daemon's validator options, which the viewer's schemas are written for (viewerAppFixture runs the
  // viewer inside the daemon's own app).
  const app = Fastify({ logger: false, ajv: APP_AJV_OPTIONS });
  await app.register(viewerPlugin, options);
  if (listen) await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  return { app, ...rest, close: () => app.close() };
}

/**
 * The viewer as `ois serve` runs it: inside the daemon's app (`buildApp`, with its validator options,
 * body parsers, error handler and federation routes), for an instance `alpha` homed in `home`.
 */
export async function viewerAppFixture(
  overrides: Partial<ViewerOptions> = {},
  listen = false,
): Promise<ViewerFixture> {
  const { options, ...rest } = await viewerSetup(overrides);
  const config = loadConfig({
    env: { OIS_HOME: rest.home, OIS_NAME: 'alpha' },
    cwd: rest.home,
  }) as ReturnType<typeof loadConfig> & { name: string };
  const seen = new SeenStore(rest.home);
  const app = await buildApp({
    config,
    registry: () => loadRegistry(rest.store),
    seen,
    deliver: async () => {},
    viewer: { ...options, config },
  });
  if (listen) await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  return {
    app,
    ...rest,
    close: async () => {
      await app.close();
      seen.close();
    },
  };
}

/** Runs a Node script (using dist/) as another OS process; resolves with its exit code and output. */
export function runNode(
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

export const APPEND_WORKER = join(ROOT, 'tests', 'helpers', 'append-worker.mjs');
export const SHARE_WORKER = join(ROOT, 'tests', 'e2e', 'share-worker.mjs');

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}
