import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../config/index.js';
import { OisError } from '../errors.js';
import { describeNetworkError, errorCode, isObject, JsonHttp, type JsonResponse } from './http.js';
import { isNodeId } from './ids.js';
import type { JoinedNetwork, Member, NodeStatus, Peer, PeerPath } from './types.js';

export const DEFAULT_LOCAL_PORT = 9993;
export const TOKEN_FILE = 'authtoken.secret';
export const PORT_FILE = 'zerotier-one.port';
/** Where zerotier-cli looks when a non-root user cannot read the service's own token file. */
export const USER_TOKEN_FILE = '.zeroTierOneAuthToken';

export interface LocalOptions {
  env: Env;
  /** Defaults to this process's platform (decides the ZeroTier home). */
  platform?: NodeJS.Platform;
  /** Per-request timeout (default 5000 ms): the service is on loopback, it answers at once or not at all. */
  timeoutMs?: number;
}

/** The ZeroTier home: `ZEROTIER_HOME`, else where the platform's installer puts it. */
export function zerotierHome(env: Env, platform: NodeJS.Platform = process.platform): string {
  if (env.ZEROTIER_HOME) return env.ZEROTIER_HOME;
  if (platform === 'win32')
    return join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'ZeroTier', 'One');
  if (platform === 'darwin') return '/Library/Application Support/ZeroTier/One';
  return '/var/lib/zerotier-one';
}

export interface LocalToken {
  token: string;
  /** The file it came from (for messages; never the token). */
  file: string;
}

/**
 * The local service's auth token: `authtoken.secret` in the ZeroTier home (root-only on Linux), else
 * `~/.zeroTierOneAuthToken`, trimmed (the file usually ends in a newline). OIS_ERR_ZT_TOKEN when neither
 * can be read; the message names the files, never their content.
 */
export async function readLocalToken(
  env: Env,
  platform: NodeJS.Platform = process.platform,
): Promise<LocalToken> {
  const files = [join(zerotierHome(env, platform), TOKEN_FILE), join(env.HOME || homedir(), USER_TOKEN_FILE)];
  const problems: string[] = [];
  for (const file of files) {
    try {
      const token = (await readFile(file, 'utf8')).trim();
      if (token !== '') return { token, file };
      problems.push(`${file} is empty`);
    } catch (err) {
      const code = errorCode(err);
      problems.push(
        code === 'ENOENT'
          ? `${file} does not exist`
          : code === 'EACCES' || code === 'EPERM'
            ? `${file} cannot be read (permission denied)`
            : `${file} cannot be read (${code ?? 'error'})`,
      );
    }
  }
  throw new OisError('OIS_ERR_ZT_TOKEN', `no ZeroTier service token: ${problems.join('; ')}`, {
    hint: `is ZeroTier installed? If so, run as a user who can read ${files[0]}, or copy it to ~/${USER_TOKEN_FILE} (mode 600)`,
    details: { files },
  });
}

/** The service's port: the number in `zerotier-one.port` in the ZeroTier home, else 9993. */
export async function readLocalPort(env: Env, platform: NodeJS.Platform = process.platform): Promise<number> {
  try {
    const text = (await readFile(join(zerotierHome(env, platform), PORT_FILE), 'utf8')).trim();
    const port = Number(text);
    if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  } catch {}
  return DEFAULT_LOCAL_PORT;
}

/**
 * The local ZeroTier service (`127.0.0.1:9993`) and, on the same port, its self-hosted network controller.
 * Create with {@link openLocalService}; `close()` when done.
 */
export class LocalService {
  private readonly http: JsonHttp;
  readonly url: string;

  constructor(
    readonly port: number,
    private readonly token: LocalToken,
    private readonly timeoutMs = 5000,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.http = new JsonHttp(timeoutMs);
  }

  /** This node: id, online, version. */
  async status(): Promise<NodeStatus> {
    const res = await this.get('/status');
    const b = this.expectOk(res, '/status');
    if (
      !isObject(b) ||
      typeof b.address !== 'string' ||
      !isNodeId(b.address) ||
      typeof b.online !== 'boolean'
    ) {
      throw this.protocol('/status', 'no node address or online flag');
    }
    return { nodeId: b.address, online: b.online, version: typeof b.version === 'string' ? b.version : null };
  }

  /** Every network this node has joined. */
  async networks(): Promise<JoinedNetwork[]> {
    const res = await this.get('/network');
    const b = this.expectOk(res, '/network');
    if (!Array.isArray(b)) throw this.protocol('/network', 'not a list');
    return b.map((n) => this.joinedNetwork(n, '/network'));
  }

  /** One joined network; null when this node has not joined it (the service answers 404 `{}`). */
  async network(networkId: string): Promise<JoinedNetwork | null> {
    const path = `/network/${networkId}`;
    const res = await this.get(path);
    if (res.status === 404) return null;
    return this.joinedNetwork(this.expectOk(res, path), path);
  }

  /** Every node this one knows about. */
  async peers(): Promise<Peer[]> {
    const res = await this.get('/peer');
    const b = this.expectOk(res, '/peer');
    if (!Array.isArray(b)) throw this.protocol('/peer', 'not a list');
    return b.map((p) => this.peerOf(p, '/peer'));
  }

  /** One peer; null when this node knows nothing of it (the service answers 200 `{}`, or 404). */
  async peer(nodeId: string): Promise<Peer | null> {
    const path = `/peer/${nodeId}`;
    const res = await this.get(path);
    if (res.status === 404) return null;
    const b = this.expectOk(res, path);
    if (isObject(b) && Object.keys(b).length === 0) return null;
    return this.peerOf(b, path);
  }

  /** Whether this node's controller hosts the network (`GET /controller/network` lists it). */
  async hostsNetwork(networkId: string): Promise<boolean> {
    const res = await this.get('/controller/network');
    // A node built without the controller answers 404 here.
    if (res.status === 404) return false;
    const b = this.expectOk(res, '/controller/network');
    if (!Array.isArray(b)) throw this.protocol('/controller/network', 'not a list');
    return b.includes(networkId);
  }

  /**
   * The members of a network this node's controller hosts. The list endpoint answers an object
   * `{nodeId: revision}`, so each record is fetched on its own; liveness comes from `/peer`, since the
   * controller keeps no lastSeen.
   */
  async controllerMembers(networkId: string): Promise<Member[]> {
    const path = `/controller/network/${networkId}/member`;
    const res = await this.get(path);
    if (res.status === 404) throw this.notFound(networkId);
    const b = this.expectOk(res, path);
    if (!isObject(b)) throw this.protocol(path, 'not an object {nodeId: revision}');
    const ids = Object.keys(b).filter(isNodeId).sort();
    const [records, peers] = await Promise.all([
      Promise.all(ids.map((id) => this.controllerMember(networkId, id))),
      this.peers(),
    ]);
    const byId = new Map(peers.map((p) => [p.nodeId, p]));
    return records
      .filter((m): m is Member => m !== null)
      .map((m) => ({ ...m, online: hasActivePath(byId.get(m.nodeId) ?? null) }));
  }

  /** One member record of a hosted network; null when the controller has none. */
  async controllerMember(networkId: string, nodeId: string): Promise<Member | null> {
    const path = `/controller/network/${networkId}/member/${nodeId}`;
    const res = await this.get(path);
    if (res.status === 404) return null;
    return this.controllerMemberOf(this.expectOk(res, path), path);
  }

  /**
   * Authorises (and names) a member of a hosted network; works before the node has asked to join. The
   * controller has no description field, so only the name is set.
   */
  async authorizeControllerMember(
    networkId: string,
    nodeId: string,
    name: string | null,
    authorized = true,
  ): Promise<Member> {
    const path = `/controller/network/${networkId}/member/${nodeId}`;
    const res = await this.send('POST', path, name === null ? { authorized } : { authorized, name });
    if (res.status === 404) throw this.notFound(networkId);
    return this.controllerMemberOf(this.expectOk(res, path), path);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private get(path: string): Promise<JsonResponse> {
    return this.send('GET', path);
  }

  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonResponse> {
    try {
      return await this.http.send({
        method,
        url: `${this.url}${path}`,
        headers: { 'x-zt1-auth': this.token.token },
        body,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw new OisError(
        'OIS_ERR_ZT_NOT_RUNNING',
        `the ZeroTier service does not answer on 127.0.0.1:${this.port}: ${describeNetworkError(err)}`,
        {
          hint: 'start it: sudo systemctl start zerotier-one (or open the ZeroTier app); a non-default port goes in zerotier-one.port in the ZeroTier home',
          cause: err,
        },
      );
    }
  }

  private expectOk(res: JsonResponse, path: string): unknown {
    if (res.status === 401 || res.status === 403) {
      throw new OisError(
        'OIS_ERR_ZT_AUTH',
        `the ZeroTier service rejected the token from ${this.token.file}`,
        {
          hint: `check that ${this.token.file} is the token of the service on port ${this.port}`,
        },
      );
    }
    if (res.status === 404) throw new OisError('OIS_ERR_ZT_NOT_FOUND', `the ZeroTier service has no ${path}`);
    if (res.status < 200 || res.status > 299) {
      throw new OisError('OIS_ERR_ZT_API', `the ZeroTier service answered ${res.status} to ${path}`, {
        hint: 'restart the service (sudo systemctl restart zerotier-one) and try again',
      });
    }
    if (res.body === undefined) throw this.protocol(path, 'not JSON');
    return res.body;
  }

  private protocol(path: string, what: string): OisError {
    return new OisError(
      'OIS_ERR_ZT_PROTOCOL',
      `unexpected answer from the ZeroTier service to ${path}: ${what}`,
      {
        hint: `OIS needs ZeroTier One 1.12 or later; check that port ${this.port} is the ZeroTier service`,
      },
    );
  }

  private notFound(networkId: string): OisError {
    return new OisError('OIS_ERR_ZT_NOT_FOUND', `this node's controller does not host network ${networkId}`, {
      hint: 'check the network id (ois net status) or use ZeroTier Central (ZEROTIER_API_TOKEN)',
    });
  }

  private joinedNetwork(n: unknown, path: string): JoinedNetwork {
    if (!isObject(n) || typeof n.id !== 'string' || typeof n.status !== 'string') {
      throw this.protocol(path, 'a network without id or status');
    }
    const addresses = n.assignedAddresses ?? [];
    if (!Array.isArray(addresses) || !addresses.every((a) => typeof a === 'string')) {
      throw this.protocol(path, 'assignedAddresses is not a list of addresses');
    }
    return {
      id: n.id,
      name: typeof n.name === 'string' ? n.name : '',
      status: n.status,
      assignedAddresses: addresses,
      authenticationUrl:
        typeof n.authenticationURL === 'string' && n.authenticationURL ? n.authenticationURL : null,
    };
  }

  private peerOf(p: unknown, path: string): Peer {
    if (!isObject(p) || typeof p.address !== 'string' || !isNodeId(p.address)) {
      throw this.protocol(path, 'a peer without address');
    }
    const paths: PeerPath[] = [];
    for (const x of Array.isArray(p.paths) ? p.paths : []) {
      if (!isObject(x) || typeof x.address !== 'string') continue;
      paths.push({
        address: x.address,
        active: x.active === true,
        expired: x.expired === true,
        preferred: x.preferred === true,
        lastReceive: typeof x.lastReceive === 'number' ? x.lastReceive : 0,
      });
    }
    return {
      nodeId: p.address,
      latency: typeof p.latency === 'number' ? p.latency : -1,
      role: typeof p.role === 'string' ? p.role : 'LEAF',
      version: typeof p.version === 'string' ? p.version : null,
      paths,
    };
  }

  private controllerMemberOf(m: unknown, path: string): Member {
    const id = isObject(m) ? (m.id ?? m.address) : undefined;
    if (!isObject(m) || typeof id !== 'string' || !isNodeId(id)) {
      throw this.protocol(path, 'a member without id');
    }
    const ips = Array.isArray(m.ipAssignments) ? m.ipAssignments.filter((x) => typeof x === 'string') : [];
    const v = [m.vMajor, m.vMinor, m.vRev];
    return {
      nodeId: id,
      name: typeof m.name === 'string' && m.name !== '' ? m.name : null,
      description: null,
      authorized: m.authorized === true,
      ipAssignments: ips,
      lastSeen: null,
      online: null,
      physicalAddress: null,
      clientVersion: v.every((x) => typeof x === 'number' && x >= 0) ? v.join('.') : null,
    };
  }
}

/** A peer with a live direct path (not only relayed through the roots). */
export function hasActivePath(peer: Peer | null): boolean {
  return peer?.paths.some((p) => p.active && !p.expired) ?? false;
}

/**
 * Opens the local service client: reads the token (OIS_ERR_ZT_TOKEN) and the port. Does not contact the
 * service yet.
 */
export async function openLocalService(options: LocalOptions): Promise<LocalService> {
  const platform = options.platform ?? process.platform;
  const [token, port] = await Promise.all([
    readLocalToken(options.env, platform),
    readLocalPort(options.env, platform),
  ]);
  return new LocalService(port, token, options.timeoutMs);
}
