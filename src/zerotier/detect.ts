import type { Env } from '../config/index.js';
import { isOisError } from '../errors.js';
import { preferredIp } from './address.js';
import { type LocalService, openLocalService } from './local.js';

export interface DetectOptions {
  env: Env;
  /** The team network, when known: its assigned address is returned as `ip`. */
  networkId: string | null;
  timeoutMs?: number;
  platform?: NodeJS.Platform;
}

/**
 * This node's ZeroTier identity, for `ois init` / `ois join` to record as `zerotier: {nodeId, ip}`. Null when
 * there is no usable local service (not installed, not running, token unreadable): recording it is a
 * convenience, never a reason to fail. `ip` is null until the node is on the team network with an address.
 */
export async function detectZerotier(
  options: DetectOptions,
): Promise<{ nodeId: string; ip: string | null } | null> {
  let local: LocalService | null = null;
  try {
    local = await openLocalService({
      env: options.env,
      platform: options.platform,
      timeoutMs: options.timeoutMs ?? 2000,
    });
    const status = await local.status();
    const network = options.networkId ? await local.network(options.networkId) : null;
    return { nodeId: status.nodeId, ip: network ? preferredIp(network.assignedAddresses) : null };
  } catch (err) {
    if (isOisError(err)) return null;
    throw err;
  } finally {
    await local?.close();
  }
}
