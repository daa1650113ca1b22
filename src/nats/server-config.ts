import { OisError } from '../errors.js';
import { agentToken, inboxPrefix, teamNames } from './names.js';

/**
 * The nats-server config of a team (specs/nats.md, Permissions), pure: one account for the team, one nkey
 * user per agent who may publish only as itself, and an `admin` user for set-up. It holds public keys only;
 * the seeds stay with whoever `ois nats config` wrote them for. The permission lists are what the OIS code
 * really sends, read off a server's permission errors and trace (tests/nats-permissions.test.ts runs each
 * operation under them).
 */

/** The agent name the admin user takes in the file names; no agent may have it. */
export const NATS_ADMIN_USER = 'admin';
/** The client port and the cluster (route) port a server listens on unless told otherwise. */
export const DEFAULT_NATS_PORT = 4222;
export const DEFAULT_NATS_ROUTE_PORT = 6222;
/** Where JetStream keeps its files unless told otherwise (nats-server's own default is under /tmp). */
export const DEFAULT_NATS_STORE_DIR = '/var/lib/nats/jetstream';

/** What one user may publish and subscribe to (nats-server `permissions`, allow lists). */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/**
 * The team's JetStream streams besides the inboxes: the chat log, and the team's files (a KV bucket) with
 * their large contents (an object store), whose names and subjects nats.js derives from the bucket names.
 */
function teamStreams(team: string) {
  const n = teamNames(team);
  return {
    names: n,
    chat: n.chatStream,
    // The stream and subject names nats.js gives a KV bucket and an object store.
    files: { stream: `KV_${n.filesBucket}`, subjects: `$KV.${n.filesBucket}.>` },
    blobs: { stream: `OBJ_${n.blobsBucket}`, subjects: `$O.${n.blobsBucket}.>` },
  };
}

/**
 * What reading a stream takes besides its info: creating it when missing (any instance may be first), an
 * ordered consumer on it (created, pulled, looked up and deleted again when it is replaced after a lost
 * node) and answers to flow control (KV watchers are push consumers).
 */
function readable(stream: string): string[] {
  return [
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

/** Getting one message of a KV bucket or object store by subject or sequence. */
function gettable(stream: string): string[] {
  return [
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
  ];
}

/**
 * An agent's permissions: publish its own chat entries (`ois.<team>.chat.*.<self>`) and envelopes
 * (`ois.<team>.inbox.*.<self>`) and the team's files; read the chat, the files and its own inbox; look up
 * any stream of the team's account (`STREAM.INFO.*`: whether a peer has an inbox, so that a send to one that
 * never ran on NATS, or is not in the config, is told at once), and no more of other agents' inboxes.
 * Replies come on its own prefix (`_INBOX_<team>_<self>`), the one thing it subscribes to.
 * @example agentPermissions('home-lab', 'alpha').publish[0] // 'ois.home-lab.chat.*.alpha'
 */
export function agentPermissions(team: string, self: string): NatsPermissions {
  const s = teamStreams(team);
  const me = agentToken(self);
  return {
    publish: [
      `ois.${s.names.team}.chat.*.${me}`,
      `ois.${s.names.team}.inbox.*.${me}`,
      s.files.subjects,
      s.blobs.subjects,
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.*',
      ...readable(s.chat),
      ...readable(s.names.inboxStream(me)),
      ...readable(s.files.stream),
      ...gettable(s.files.stream),
      ...readable(s.blobs.stream),
      ...gettable(s.blobs.stream),
      // A removed file is purged from the bucket's stream (so that every subject there is a live key), and
      // replacing or deleting an object drops its old chunks.
      `$JS.API.STREAM.PURGE.${s.files.stream}`,
      `$JS.API.STREAM.PURGE.${s.blobs.stream}`,
    ],
    subscribe: [`${inboxPrefix(team, me)}.>`],
  };
}

/**
 * The admin user's permissions: every subject of the team, the KV buckets and object stores, and the whole
 * JetStream API of the team's account (creating, changing and deleting streams, reading every inbox), for
 * set-up, `ois import` and `ois export`; and it may subscribe to anything. The account holds this team only,
 * so that is the team's and no more.
 */
export function adminPermissions(team: string): NatsPermissions {
  const s = teamStreams(team);
  const t = s.names.team;
  return {
    publish: [`ois.${t}.>`, '$KV.>', '$O.>', '$JS.API.>', '$JS.ACK.>', '$JS.FC.>'],
    // Everything: its replies come on the prefix of whatever instance name it is used under.
    subscribe: ['>'],
  };
}

/** A node of a cluster: the host the other nodes reach it at, and its ports. */
export interface NatsClusterNode {
  host: string;
  /** Client port (default 4222). */
  port?: number;
  /** Route port, for the other nodes (default 6222). */
  routePort?: number;
}

export interface NatsServerConfigInput {
  team: string;
  /** Each agent's user: its name and the public key of its nkey (`U…`). */
  agents: readonly { name: string; nkey: string }[];
  /** The admin user's public nkey. */
  admin: string;
  /** The address the server listens on (default every interface: 0.0.0.0). */
  listenHost?: string;
  /** Client port of a single server (default 4222); a cluster node's comes from its entry. */
  port?: number;
  storeDir?: string;
  /** For a node of a cluster: every node (three or more), which one this is, and the routes' password. */
  cluster?: { nodes: readonly NatsClusterNode[]; self: number; password: string };
}

const NKEY_USER = /^U[A-Z2-7]{55}$/;
const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

/**
 * The text of `nats-server.conf` for a team: JetStream on, `max_payload: 4MB` (envelopes of up to 1.9 MB,
 * specs/federation.md), an account for the team with its users and their permissions, and for a cluster
 * node a `cluster {}` block routed to the other nodes with a password. Throws `OIS_ERR_USAGE` for a user list
 * the server would refuse or misread (two agents with one token, an agent called `admin`, a bad key, host or
 * cluster of fewer than three nodes).
 * @example natsServerConfig({ team: 'home-lab', agents: [{ name: 'alpha', nkey: 'UA…' }], admin: 'UB…' })
 */
export function natsServerConfig(input: NatsServerConfigInput): string {
  const { names } = teamStreams(input.team);
  const tokens = new Map<string, string>();
  for (const a of input.agents) {
    const token = agentToken(a.name);
    if (token === NATS_ADMIN_USER) {
      throw usage(
        `an agent may not be called ${JSON.stringify(a.name)} on NATS: that user is the team's admin`,
      );
    }
    const before = tokens.get(token);
    if (before !== undefined) {
      throw usage(`${JSON.stringify(before)} and ${JSON.stringify(a.name)} are one name on NATS (${token})`);
    }
    tokens.set(token, a.name);
    checkKey(a.nkey, a.name);
  }
  checkKey(input.admin, NATS_ADMIN_USER);
  const cluster = input.cluster;
  const self = cluster ? cluster.nodes[cluster.self] : undefined;
  if (cluster) {
    if (cluster.nodes.length < 3) usageThrow('a cluster has three nodes or more (a majority must stay up)');
    if (!self) usageThrow(`no node ${cluster.self + 1} in the cluster`);
    for (const node of cluster.nodes) {
      if (!HOST.test(node.host)) usageThrow(`not a host name or IPv4 address: ${JSON.stringify(node.host)}`);
    }
  }
  const host = input.listenHost ?? '0.0.0.0';
  const port = self?.port ?? input.port ?? DEFAULT_NATS_PORT;
  const q = JSON.stringify;
  const lines = [
    `# nats-server config of the OIS team ${q(names.team)}, written by ois nats config (specs/nats.md, Permissions).`,
    '# It holds public keys only: each agent keeps its own seed (<agent>.nk), the admin admin.nk.',
    '# After a member joins or leaves: run ois nats config again and reload (nats-server --signal reload).',
    `server_name: ${q(cluster ? `ois-${names.team}-${cluster.self + 1}` : `ois-${names.team}`)}`,
    `listen: ${q(`${host}:${port}`)}`,
    '# Envelopes carry up to 1.9 MB (specs/federation.md); the default is 1 MB.',
    'max_payload: 4MB',
    '# Clients reach the server over ZeroTier or a LAN; for anything else add a tls {} block',
    '# (https://docs.nats.io/running-a-nats-service/configuration/securing_nats/tls) and give agents --tls-ca.',
    'jetstream {',
    `  store_dir: ${q(input.storeDir ?? DEFAULT_NATS_STORE_DIR)}`,
    '}',
  ];
  if (cluster && self) {
    const routePort = (n: NatsClusterNode) => n.routePort ?? DEFAULT_NATS_ROUTE_PORT;
    const routes = cluster.nodes
      .filter((_, i) => i !== cluster.self)
      .map((n) =>
        q(`nats-route://ois-route:${encodeURIComponent(cluster.password)}@${n.host}:${routePort(n)}`),
      );
    lines.push(
      '# The nodes route to each other with a password: a server that does not know it cannot join.',
      'cluster {',
      `  name: ${q(`ois-${names.team}`)}`,
      `  listen: ${q(`${host}:${routePort(self)}`)}`,
      `  authorization { user: "ois-route", password: ${q(cluster.password)} }`,
      `  routes: [${routes.join(', ')}]`,
      '}',
    );
  }
  const user = (comment: string, nkey: string, p: NatsPermissions) => [
    `      # ${comment}`,
    '      {',
    `        nkey: ${q(nkey)}`,
    '        permissions: {',
    `          publish: { allow: ${list(p.publish, '          ')} }`,
    `          subscribe: { allow: ${list(p.subscribe, '          ')} }`,
    '        }',
    '      }',
  ];
  lines.push(
    '# One account for the team: no other account sees its streams. Users are nkeys (public keys).',
    'accounts {',
    `  ${q(`OIS_${names.team}`)}: {`,
    '    jetstream: enabled',
    '    users: [',
    ...user(
      'admin: set-up, import and export; every subject and stream of the team',
      input.admin,
      adminPermissions(names.team),
    ),
    ...input.agents.flatMap((a) =>
      user(
        `${agentToken(a.name)}: publishes only as itself, reads the chat, the files and its own inbox`,
        a.nkey,
        agentPermissions(names.team, a.name),
      ),
    ),
    '    ]',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** A list of subjects, one a line, quoted: `$` would start a variable in an unquoted nats-server string. */
function list(subjects: readonly string[], indent: string): string {
  return `[\n${subjects.map((s) => `${indent}  ${JSON.stringify(s)},`).join('\n')}\n${indent}]`;
}

function checkKey(nkey: string, who: string): void {
  if (!NKEY_USER.test(nkey)) usageThrow(`the NATS user key of ${who} is not a public user nkey (U…)`);
}

function usage(message: string): OisError {
  return new OisError('OIS_ERR_USAGE', message, { hint: 'see: ois nats config --help' });
}

function usageThrow(message: string): never {
  throw usage(message);
}
