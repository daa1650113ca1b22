import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OisError, storageError } from '../errors.js';
import { writeFileAtomic } from '../team/index.js';
import { agentToken, natsTeamName } from './names.js';
import { NATS_ADMIN_USER, type NatsClusterNode, natsServerConfig } from './server-config.js';

/** One NATS user's seed file, as `ois nats config` left it. */
export interface NatsUserFile {
  /** The agent's name as given (`admin` for the admin). */
  name: string;
  /** Its name on NATS (the agent token), which names the file: `<user>.nk`. */
  user: string;
  file: string;
  /** The public nkey the server config lists (not a secret). */
  publicKey: string;
  /** True when this run made the key; false when it kept the one in the file. */
  created: boolean;
}

export interface NatsConfigFiles {
  team: string;
  out: string;
  /** The server configs: one, or one per cluster node (`node` 1-based, with its host). */
  servers: { node: number | null; host: string | null; file: string }[];
  admin: NatsUserFile;
  agents: NatsUserFile[];
}

export interface NatsConfigFilesInput {
  /** The folder the files go to (made, mode 0700, when missing). */
  out: string;
  team: string;
  agents: readonly string[];
  /** Cluster hosts (three or more): one config per node. */
  cluster?: readonly string[];
  /** New keys even where a seed file exists. */
  force?: boolean;
}

const USER_SEED = /^SU[A-Z2-7]{56}$/;

/**
 * Writes what a team on NATS needs to start: `<agent>.nk` per agent and `admin.nk` (each an nkey seed,
 * mode 0600) and `nats-server.conf` (or `nats-server-<n>.conf` per cluster node, mode 0600: a cluster's
 * holds the routes' password). A seed file that exists is kept, and its key stays in the config: running it
 * again after a member joined or left changes the users, not the keys of the others. `force` makes new
 * keys for all. Every config is made (and checked) before any file is written. Seeds are only ever written
 * to their files: nothing returned holds one.
 */
export async function writeNatsConfigFiles(input: NatsConfigFilesInput): Promise<NatsConfigFiles> {
  const team = natsTeamName(input.team);
  const { createUser, fromSeed } = await import('@nats-io/nkeys');
  const names = [NATS_ADMIN_USER, ...input.agents];
  const users = await Promise.all(
    names.map(async (name, i) => {
      const user = i === 0 ? NATS_ADMIN_USER : agentToken(name);
      const file = join(input.out, `${user}.nk`);
      const kept = input.force ? null : await readSeed(file);
      const pair = kept === null ? createUser() : fromSeed(new TextEncoder().encode(kept));
      return { name, user, file, publicKey: pair.getPublicKey(), created: kept === null, pair };
    }),
  );
  const [admin, ...agents] = users as [(typeof users)[number], ...typeof users];
  const common = {
    team,
    agents: agents.map((a) => ({ name: a.name, nkey: a.publicKey })),
    admin: admin.publicKey,
  };
  const hosts = input.cluster ?? [];
  // The routes' password of the configs written before, when there are: run again after a member joined,
  // the nodes are reloaded one at a time and must still know each other. --force makes a new one.
  const password =
    (input.force || hosts.length === 0
      ? null
      : await readRoutePassword(join(input.out, 'nats-server-1.conf'))) ??
    randomBytes(24).toString('base64url');
  const configs =
    hosts.length === 0
      ? [
          {
            node: null,
            host: null,
            file: join(input.out, 'nats-server.conf'),
            text: natsServerConfig(common),
          },
        ]
      : hosts.map((host, i) => ({
          node: i + 1,
          host,
          file: join(input.out, `nats-server-${i + 1}.conf`),
          text: natsServerConfig({
            ...common,
            cluster: { nodes: hosts.map((h): NatsClusterNode => ({ host: h })), self: i, password },
          }),
        }));
  try {
    await mkdir(input.out, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storageError('make the folder', input.out, err);
  }
  for (const u of users) {
    if (u.created)
      await writeFileAtomic(u.file, `${new TextDecoder().decode(u.pair.getSeed())}\n`, { mode: 0o600 });
  }
  for (const c of configs) await writeFileAtomic(c.file, c.text, { mode: 0o600 });
  const shown = ({ pair: _secret, ...u }: (typeof users)[number]): NatsUserFile => u;
  return {
    team,
    out: input.out,
    servers: configs.map(({ node, host, file }) => ({ node, host, file })),
    admin: shown(admin),
    agents: agents.map(shown),
  };
}

/** The seed in an existing seed file, or null when there is none. */
/** The cluster routes' password in a config this command wrote, or null when there is none. */
async function readRoutePassword(file: string): Promise<string | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  const match =
    text === null ? null : /authorization \{ user: "ois-route", password: "([A-Za-z0-9_-]+)" \}/.exec(text);
  return match?.[1] ?? null;
}

async function readSeed(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storageError('read', file, err);
  }
  const seed = text.trim();
  if (!USER_SEED.test(seed)) {
    throw new OisError('OIS_ERR_NATS_CREDENTIALS', `${file} exists and is not an nkey user seed`, {
      hint: 'move it away, or pass --force to replace every seed file with a new key',
    });
  }
  return seed;
}
