import { type Env, resolveToken } from '../config/index.js';
import { isOisError, OisError } from '../errors.js';
import { CentralClient, type CentralOptions } from './central.js';
import { controllerOf } from './ids.js';
import { type LocalOptions, type LocalService, openLocalService } from './local.js';
import type { Member } from './types.js';

/** The secrets entry (`ois secrets set zerotier-central --token-stdin`) that holds a Central API token. */
export const CENTRAL_SECRET = 'zerotier-central';

/**
 * The Central API token: `ZEROTIER_API_TOKEN`, else `OIS_TOKEN_ZEROTIER_CENTRAL` or the `zerotier-central`
 * entry of the instance secrets; null when none is set.
 */
export async function resolveCentralToken(home: string, env: Env): Promise<string | null> {
  const fromEnv = env.ZEROTIER_API_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  return (await resolveToken(home, env, CENTRAL_SECRET))?.token ?? null;
}

/** Where the members of the team network come from: ZeroTier Central, or this node's own controller. */
export interface MemberSource {
  kind: 'central' | 'controller';
  /** For messages: Central's URL, or `controller on this node`. */
  where: string;
  members(): Promise<Member[]>;
  /** Authorises a node and names it; works before the node has joined. */
  authorize(nodeId: string, label: { name: string; description: string }): Promise<Member>;
  /** Takes a node's authorisation away (a member disabled, removed, or gone). */
  deauthorize(nodeId: string): Promise<Member>;
  close(): Promise<void>;
}

export interface MemberSourceOptions {
  env: Env;
  networkId: string;
  /** A Central API token when one is configured; null to use the local controller. */
  centralToken: string | null;
  /** Force one kind (`ois net … --via`). */
  via?: 'central' | 'controller';
  central?: Omit<CentralOptions, 'token' | 'env'>;
  local?: Omit<LocalOptions, 'env'>;
}

/**
 * Opens the member source of this instance (its Central token, if any, from `home`), runs `fn` with it, and
 * closes it whatever happens. Returns what `fn` returned and where the members came from.
 */
export async function withMemberSource<T>(
  options: Omit<MemberSourceOptions, 'centralToken'> & { home: string },
  fn: (source: MemberSource) => Promise<T>,
): Promise<{ result: T; kind: MemberSource['kind']; where: string }> {
  const { home, ...rest } = options;
  const source = await openMemberSource({
    ...rest,
    centralToken: await resolveCentralToken(home, options.env),
  });
  try {
    return { result: await fn(source), kind: source.kind, where: source.where };
  } finally {
    await source.close();
  }
}

/**
 * Picks the member source: Central when a token is available (or `via: 'central'`), else the local
 * controller when this node hosts the network. OIS_ERR_ZT_TOKEN when neither is possible.
 */
export async function openMemberSource(options: MemberSourceOptions): Promise<MemberSource> {
  const { networkId } = options;
  const useCentral =
    options.via === 'central' || (options.via === undefined && options.centralToken !== null);
  if (useCentral) {
    if (options.centralToken === null) throw noCentralToken();
    const client = new CentralClient({ ...options.central, token: options.centralToken, env: options.env });
    return centralSource(client, networkId);
  }
  let local: LocalService;
  try {
    local = await openLocalService({ ...options.local, env: options.env });
  } catch (err) {
    if (options.via === 'controller' || !isOisError(err, 'OIS_ERR_ZT_TOKEN')) throw err;
    throw noCentralToken();
  }
  try {
    const status = await local.status();
    // A controller's node id is the first half of the network ids it hosts: a cheap test before asking it.
    if (status.nodeId !== controllerOf(networkId) || !(await local.hostsNetwork(networkId))) {
      if (options.via === 'controller') {
        throw new OisError(
          'OIS_ERR_ZT_NOT_FOUND',
          `this node (${status.nodeId}) does not host network ${networkId}`,
          {
            hint: `network ${networkId} is hosted by node ${controllerOf(networkId)}; use ZeroTier Central or run this there`,
          },
        );
      }
      throw noCentralToken();
    }
  } catch (err) {
    await local.close();
    throw err;
  }
  return controllerSource(local, networkId);
}

function noCentralToken(): OisError {
  return new OisError(
    'OIS_ERR_ZT_TOKEN',
    'no ZeroTier Central API token, and this node is not the controller of the team network',
    {
      hint: 'set ZEROTIER_API_TOKEN, or store it: ois secrets set zerotier-central --token-stdin',
    },
  );
}

export function centralSource(client: CentralClient, networkId: string): MemberSource {
  return {
    kind: 'central',
    where: client.baseUrl,
    members: () => client.members(networkId),
    authorize: (nodeId, label) =>
      client.updateMember(networkId, nodeId, {
        name: label.name,
        description: label.description,
        authorized: true,
      }),
    deauthorize: (nodeId) => client.updateMember(networkId, nodeId, { authorized: false }),
    close: () => client.close(),
  };
}

export function controllerSource(local: LocalService, networkId: string): MemberSource {
  return {
    kind: 'controller',
    where: `controller on this node (${local.url})`,
    members: () => local.controllerMembers(networkId),
    authorize: (nodeId, label) => local.authorizeControllerMember(networkId, nodeId, label.name),
    deauthorize: (nodeId) => local.authorizeControllerMember(networkId, nodeId, null, false),
    close: () => local.close(),
  };
}

/**
 * Authorises a member's node on the team network (an approval) or takes that away (disabled, removed,
 * left), through this instance's Central token or its own controller. Throws OIS_ERR_ZT_TOKEN when it has
 * neither, so the caller can tell the admin what to do by hand.
 */
export async function setNodeAuthorized(options: {
  env: Env;
  home: string;
  networkId: string;
  nodeId: string;
  name: string;
  authorized: boolean;
}): Promise<{ where: string; kind: MemberSource['kind'] }> {
  const { result: _member, ...source } = await withMemberSource(
    { env: options.env, home: options.home, networkId: options.networkId },
    (s) =>
      options.authorized
        ? s.authorize(options.nodeId, { name: options.name, description: `OIS agent ${options.name}` })
        : s.deauthorize(options.nodeId),
  );
  return source;
}
