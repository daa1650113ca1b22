import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Real nats-server processes for tests and the bench (Debian's package, installed by .ci/run): on loopback, on free
 * ports, each with its own JetStream store in a temp dir, started and stopped within time bounds. Like nats'
 * own `TestServer`, these are the real server, never a fake of the protocol.
 * Without vitest, so that bench/nats.js can load it too (Node runs it with its type stripping).
 */

/** nats-server on PATH, or null. */
export const NATS_SERVER: string | null = findOnPath('nats-server');

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return null;
}

const START_MS = 15_000;
const STOP_MS = 5_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
// A test run that crashes or is interrupted must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** The server's log so far (stderr), for failure messages. */
  log(): string;
  readonly running: boolean;
  /** Starts the server (again, on the same ports and store) and waits until it accepts clients. */
  start(): Promise<void>;
  /** Writes a new config and has the running server reload it (SIGHUP), as `nats-server --signal reload`. */
  reload(config: string): Promise<void>;
  /** SIGKILL: the node is lost mid-flight, as a machine that loses power. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after a bound. */
  stop(): Promise<void>;
}

export interface NatsServers {
  readonly nodes: NatsNode[];
  /** Client URLs of every node. */
  readonly servers: string[];
  /** Stops every node and removes the stores. */
  stop(): Promise<void>;
}

function makeNode(name: string, dir: string, port: number, initial: string): NatsNode {
  let config = initial;
  let child: ChildProcess | null = null;
  let log = '';
  const exited = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) resolve();
      else c.once('exit', () => resolve());
    });
  const node: NatsNode = {
    name,
    port,
    url: `nats://127.0.0.1:${port}`,
    log: () => log,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (node.running) return;
      const file = join(dir, `${name}.conf`);
      await writeFile(file, config);
      const c = spawn(NATS_SERVER!, ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      running.add(c);
      c.once('exit', () => running.delete(c));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          c.kill('SIGKILL');
          reject(new Error(`nats-server ${name} did not start within ${START_MS} ms:\n${log}`));
        }, START_MS);
        c.stderr!.setEncoding('utf8');
        c.stderr!.on('data', (chunk: string) => {
          log += chunk;
          if (log.includes('Server is ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        c.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`nats-server ${name} exited (${code ?? signal}) while starting:\n${log}`));
        });
      });
    },
    async reload(next) {
      if (!child || !node.running) throw new Error(`nats-server ${name} is not running`);
      config = next;
      await writeFile(join(dir, `${name}.conf`), config);
      const before = log.length;
      child.kill('SIGHUP');
      const deadline = Date.now() + START_MS;
      while (!log.slice(before).includes('Reloaded server configuration')) {
        if (/\[(ERR|FTL)\]/.test(log.slice(before)) || Date.now() > deadline) {
          throw new Error(`nats-server ${name} did not reload:\n${log.slice(before)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      if (!child) return;
      const c = child;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), STOP_MS);
      await exited(c);
      clearTimeout(timer);
    },
  };
  return node;
}

/** One JetStream server on a free loopback port (`jetstream: false`: a plain NATS server, for errors). */
export async function startNats(options: { jetstream?: boolean } = {}): Promise<NatsServers> {
  const dir = await mkdtemp(join(tmpdir(), 'ois-nats-'));
  const port = await freePort();
  const jetstream = options.jetstream === false ? '' : `jetstream { store_dir: "${join(dir, 'n1')}" }\n`;
  const node = makeNode('n1', dir, port, `server_name: n1\nlisten: 127.0.0.1:${port}\n${jetstream}`);
  return launch([node], dir);
}

/**
 * A JetStream cluster of `size` nodes (three by default) on loopback, each with its own store, routed to
 * each other; resolves once the cluster has elected its JetStream meta leader.
 */
export async function startNatsCluster(size = 3): Promise<NatsServers> {
  const dir = await mkdtemp(join(tmpdir(), 'ois-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, freePort));
  const routes = await Promise.all(Array.from({ length: size }, freePort));
  const nodes = ports.map((port, i) => {
    const name = `n${i + 1}`;
    return makeNode(
      name,
      dir,
      port,
      `server_name: ${name}
listen: 127.0.0.1:${port}
jetstream { store_dir: "${join(dir, name)}" }
cluster {
  name: ois-test
  listen: 127.0.0.1:${routes[i]}
  routes: [${routes
    .filter((_, j) => j !== i)
    .map((p) => `"nats-route://127.0.0.1:${p}"`)
    .join(', ')}]
}
`,
    );
  });
  return launch(nodes, dir);
}

/** The ports and store of one node, for a config the test writes itself. */
export interface NatsNodePorts {
  index: number;
  port: number;
  routePort: number;
  storeDir: string;
}

/**
 * `size` servers started with configs of the caller's (the output of `ois nats config`): `config` gets this
 * node's free ports and store and every node's, and returns the node's config text. Several nodes are
 * waited for until they have a JetStream meta leader, so the config must route them to each other.
 */
export async function startNatsWith(
  config: (node: NatsNodePorts, all: NatsNodePorts[]) => string,
  size = 1,
): Promise<NatsServers> {
  const dir = await mkdtemp(join(tmpdir(), 'ois-nats-conf-'));
  const all = await Promise.all(
    Array.from({ length: size }, async (_, index) => ({
      index,
      port: await freePort(),
      routePort: await freePort(),
      storeDir: join(dir, `n${index + 1}`),
    })),
  );
  return launch(
    all.map((n) => makeNode(`n${n.index + 1}`, dir, n.port, config(n, all))),
    dir,
  );
}

async function launch(nodes: NatsNode[], dir: string): Promise<NatsServers> {
  const servers: NatsServers = {
    nodes,
    servers: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    if (nodes.length > 1) await metaLeader(nodes);
  } catch (err) {
    await servers.stop();
    throw err;
  }
  return servers;
}

/** Waits until every node's log says the JetStream cluster has a meta leader. */
async function metaLeader(nodes: NatsNode[]): Promise<void> {
  const deadline = Date.now() + START_MS;
  const ready = (n: NatsNode) =>
    /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(n.log());
  while (!nodes.every(ready)) {
    if (Date.now() > deadline) {
      throw new Error(
        `no JetStream meta leader within ${START_MS} ms:\n${nodes.map((n) => n.log()).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
