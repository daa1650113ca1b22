import type { Env } from '../config/index.js';
import { type ErrorCode, isOisError } from '../errors.js';
import { stripPrefix } from './address.js';
import { type LocalService, openLocalService } from './local.js';
import type { NetworkStatus } from './types.js';

export interface ZerotierProblem {
  code: ErrorCode;
  message: string;
  hint?: string;
}

/** What `ois net status` shows: this node and its view of the team network. */
export interface ZerotierStatus {
  service: {
    running: boolean;
    nodeId: string | null;
    online: boolean | null;
    version: string | null;
    port: number | null;
  };
  network: {
    id: string | null;
    joined: boolean | null;
    status: NetworkStatus | null;
    name: string | null;
    /** Plain IPs (the prefix length dropped). */
    addresses: string[];
  };
  /** The first thing in the way of reaching peers, or null when all is well. */
  problem: ZerotierProblem | null;
}

const STATUS_PROBLEMS: Record<string, ErrorCode> = {
  ACCESS_DENIED: 'OIS_ERR_ZT_ACCESS_DENIED',
  AUTHENTICATION_REQUIRED: 'OIS_ERR_ZT_ACCESS_DENIED',
  NOT_FOUND: 'OIS_ERR_ZT_NOT_FOUND',
  PORT_ERROR: 'OIS_ERR_ZT_NOT_RUNNING',
  CLIENT_TOO_OLD: 'OIS_ERR_ZT_PROTOCOL',
};

/** Asks the local service about this node and the team network. Never throws for a ZeroTier problem. */
export async function zerotierStatus(options: {
  env: Env;
  networkId: string | null;
  /** For hints (`ois net authorize NAME`). */
  selfName?: string | null;
  timeoutMs?: number;
  platform?: NodeJS.Platform;
}): Promise<ZerotierStatus> {
  const out: ZerotierStatus = {
    service: { running: false, nodeId: null, online: null, version: null, port: null },
    network: { id: options.networkId, joined: null, status: null, name: null, addresses: [] },
    problem: null,
  };
  const who = options.selfName ?? 'YOUR_NAME';
  let local: LocalService | null = null;
  try {
    local = await openLocalService({
      env: options.env,
      platform: options.platform,
      timeoutMs: options.timeoutMs,
    });
    out.service.port = local.port;
    const status = await local.status();
    out.service = {
      running: true,
      nodeId: status.nodeId,
      online: status.online,
      version: status.version,
      port: local.port,
    };
    if (options.networkId === null) {
      out.problem = {
        code: 'OIS_ERR_ZT_NETWORK_UNSET',
        message: 'the team has no ZeroTier network id yet',
        hint: 'ois net use NETWORK_ID',
      };
      return out;
    }
    const network = await local.network(options.networkId);
    if (!network) {
      out.network.joined = false;
      out.problem = {
        code: 'OIS_ERR_ZT_NOT_JOINED',
        message: `this node has not joined the team network ${options.networkId}`,
        hint: `sudo zerotier-cli join ${options.networkId}, then ask an admin to run: ois net authorize ${who}`,
      };
      return out;
    }
    out.network = {
      id: options.networkId,
      joined: true,
      status: network.status,
      name: network.name || null,
      addresses: network.assignedAddresses.map(stripPrefix),
    };
    const code = STATUS_PROBLEMS[network.status];
    if (code) {
      out.problem = {
        code,
        message: `the team network ${options.networkId} is ${network.status}`,
        hint:
          network.status === 'ACCESS_DENIED'
            ? `ask an admin to run: ois net authorize ${who}`
            : network.status === 'AUTHENTICATION_REQUIRED'
              ? `log in at ${network.authenticationUrl ?? 'the ZeroTier app'}`
              : network.status === 'NOT_FOUND'
                ? 'check the network id: ois net use NETWORK_ID'
                : network.status === 'PORT_ERROR'
                  ? 'restart zerotier-one; on Linux check /dev/net/tun'
                  : 'update ZeroTier One',
      };
    }
  } catch (err) {
    if (!isOisError(err)) throw err;
    out.problem = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  } finally {
    await local?.close();
  }
  return out;
}
