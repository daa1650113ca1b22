import { OisError } from '../errors.js';

const NETWORK_ID = /^[0-9a-f]{16}$/;
const NODE_ID = /^[0-9a-f]{10}$/;

export function isNetworkId(value: string): boolean {
  return NETWORK_ID.test(value);
}

export function isNodeId(value: string): boolean {
  return NODE_ID.test(value);
}

/** A network id as written by a user (any case, spaces around), or OIS_ERR_USAGE. */
export function parseNetworkId(value: string): string {
  const id = value.trim().toLowerCase();
  if (!isNetworkId(id)) {
    throw new OisError('OIS_ERR_USAGE', `"${value}" is not a ZeroTier network id (16 hex digits)`, {
      hint: 'copy it from my.zerotier.com or `zerotier-cli listnetworks`, e.g. 8056c2e21c000001',
    });
  }
  return id;
}

/** A node id as written by a user, or OIS_ERR_USAGE. */
export function parseNodeId(value: string): string {
  const id = value.trim().toLowerCase();
  if (!isNodeId(id)) {
    throw new OisError('OIS_ERR_USAGE', `"${value}" is not a ZeroTier node id (10 hex digits)`, {
      hint: 'the node id is the address `zerotier-cli info` prints on that machine, e.g. 89e92ceee5',
    });
  }
  return id;
}

/** The node id of a network's controller: the first 10 hex digits of the network id. */
export function controllerOf(networkId: string): string {
  return networkId.slice(0, 10);
}
