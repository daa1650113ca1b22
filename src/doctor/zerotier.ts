import type { Env } from '../config/index.js';
import { isOisError, type OisError } from '../errors.js';
import type { Agent } from '../registry/index.js';
import {
  agentZerotier,
  hasActivePath,
  type JoinedNetwork,
  type LocalService,
  type Member,
  openLocalService,
  preferredIp,
  resolveAddress,
  stripPrefix,
} from '../zerotier/index.js';
import type { Check } from './types.js';

export interface ZerotierCheckOptions {
  env: Env;
  /** The team network (`registry.team?.zerotier?.network`); null when the team has none. */
  networkId: string | null;
  /** This instance's own registry entry, if it has one (its recorded node id and IP are compared). */
  self?: Agent | null;
  /** Peer agents to check the path to (those with a recorded node id). */
  peers?: readonly Agent[];
  /** Members from Central or the controller, when the caller has them: peers' addresses are compared too. */
  members?: readonly Member[];
  timeoutMs?: number;
  platform?: NodeJS.Platform;
  /** The subject of the checks about this node (default `this instance`, as the doctor names it). */
  subject?: string;
}

/**
 * The ZeroTier part of `ois doctor`: service running, network joined and authorised, this node's recorded
 * address, and a live path to each peer. Never throws for a ZeroTier problem: each one is a check with its
 * fix and code.
 */
export async function checkZerotier(options: ZerotierCheckOptions): Promise<Check[]> {
  const subject = options.subject ?? 'this instance';
  const checks: Check[] = [];
  const add = (c: Omit<Check, 'subject'>, who = subject) => checks.push({ subject: who, ...c });
  const { networkId } = options;
  if (networkId === null) {
    add({
      name: 'zerotier',
      status: 'skip',
      detail: 'the team has no ZeroTier network in AGENTS.md',
      fix: 'if the team uses ZeroTier: ois net use NETWORK_ID',
    });
    return checks;
  }
  const selfName = options.self?.name ?? 'YOUR_NAME';

  let local: LocalService | null = null;
  try {
    local = await openLocalService({
      env: options.env,
      platform: options.platform,
      timeoutMs: options.timeoutMs,
    });
    const status = await local.status();
    add({
      name: 'zerotier service',
      status: status.online ? 'ok' : 'warn',
      detail: `node ${status.nodeId}${status.version ? `, ZeroTier ${status.version}` : ''}, ${status.online ? 'online' : 'offline: no connection to the ZeroTier roots'}`,
      ...(status.online ? {} : { fix: 'check the internet connection and that UDP 9993 may go out' }),
    });

    const network = await local.network(networkId);
    const joined = joinedCheck(network, networkId, selfName);
    add(joined);
    if (network?.status !== 'OK') return checks;

    const self = options.self ? agentZerotier(options.self) : null;
    const assigned = network.assignedAddresses.map(stripPrefix);
    if (options.self) {
      if (!self) {
        add({
          name: 'zerotier identity',
          status: 'warn',
          detail: 'AGENTS.md records no ZeroTier node id for this agent, so peers cannot find its address',
          fix: 'run: ois join (it records zerotier: {nodeId, ip})',
        });
      } else if (self.nodeId !== status.nodeId) {
        add({
          name: 'zerotier identity',
          status: 'warn',
          detail: `AGENTS.md records node ${self.nodeId}, this machine is node ${status.nodeId}`,
          fix: 'run: ois join on this machine to record its node id',
        });
      } else if (self.ip !== null && !assigned.includes(self.ip)) {
        add({
          name: 'zerotier address',
          status: 'warn',
          detail: `AGENTS.md records ${self.ip}, the network now assigns ${assigned.join(', ') || 'nothing'}`,
          fix: 'run: ois join to record the new address (peers use it to reach this gateway)',
        });
      } else {
        add({
          name: 'zerotier address',
          status: 'ok',
          detail: self.ip ?? preferredIp(assigned) ?? 'none assigned',
        });
      }
    }

    for (const peer of options.peers ?? []) {
      const zt = agentZerotier(peer);
      if (!zt) continue;
      const p = await local.peer(zt.nodeId);
      if (!p) {
        add(
          {
            name: 'zerotier path',
            status: 'fail',
            detail: `ZeroTier knows no path to node ${zt.nodeId}: its machine is off, not on the network, or not authorised`,
            fix: `on ${peer.name}'s machine: zerotier-cli info and ois doctor; an admin can check with ois net members`,
            code: 'OIS_ERR_PEER_UNREACHABLE',
          },
          peer.name,
        );
      } else if (!hasActivePath(p)) {
        add(
          {
            name: 'zerotier path',
            status: 'warn',
            detail: `node ${zt.nodeId} is known but has no direct path (relayed or offline)`,
            fix: 'let UDP 9993 through the firewalls on both sides for a direct path',
          },
          peer.name,
        );
      } else {
        const path =
          p.paths.find((x) => x.active && !x.expired && x.preferred) ?? p.paths.find((x) => x.active);
        add(
          {
            name: 'zerotier path',
            status: 'ok',
            detail: `direct via ${path?.address ?? '?'}${p.latency >= 0 ? `, ${p.latency} ms` : ''}`,
          },
          peer.name,
        );
      }
      if (options.members) {
        const moved = resolveAddress(peer, options.members);
        if (moved?.changed) {
          add(
            {
              name: 'zerotier address',
              status: 'warn',
              detail: `AGENTS.md records ${moved.recordedIp ?? 'no IP'}, the network now assigns ${moved.currentIp}`,
              fix: `${peer.name} runs ois join on its machine to record it`,
            },
            peer.name,
          );
        }
      }
    }
  } catch (err) {
    if (!isOisError(err)) throw err;
    add(serviceProblem(err));
  } finally {
    await local?.close();
  }
  return checks;
}

function joinedCheck(
  network: JoinedNetwork | null,
  networkId: string,
  selfName: string,
): Omit<Check, 'subject'> {
  const name = 'zerotier network';
  if (!network) {
    return {
      name,
      status: 'fail',
      detail: `this node has not joined the team network ${networkId}`,
      fix: `sudo zerotier-cli join ${networkId}, then ask an admin to run: ois net authorize ${selfName}`,
      code: 'OIS_ERR_ZT_NOT_JOINED',
    };
  }
  const addresses = network.assignedAddresses.map(stripPrefix).join(', ') || 'no address yet';
  switch (network.status) {
    case 'OK':
      return { name, status: 'ok', detail: `${networkId} OK, ${addresses}` };
    case 'REQUESTING_CONFIGURATION':
      return {
        name,
        status: 'warn',
        detail: `${networkId}: waiting for the network's controller to answer`,
        fix: 'wait a minute; if it stays so, the controller is unreachable from this node',
      };
    case 'ACCESS_DENIED':
      return {
        name,
        status: 'fail',
        detail: `${networkId}: ACCESS_DENIED, this node is not authorised on the team network`,
        fix: `ask an admin to run: ois net authorize ${selfName}`,
        code: 'OIS_ERR_ZT_ACCESS_DENIED',
      };
    case 'AUTHENTICATION_REQUIRED':
      return {
        name,
        status: 'fail',
        detail: `${networkId}: AUTHENTICATION_REQUIRED, the network wants a single sign-on login`,
        fix: network.authenticationUrl
          ? `log in at ${network.authenticationUrl}`
          : 'log in through the ZeroTier app',
        code: 'OIS_ERR_ZT_ACCESS_DENIED',
      };
    case 'NOT_FOUND':
      return {
        name,
        status: 'fail',
        detail: `${networkId}: NOT_FOUND, no controller knows this network`,
        fix: 'check the network id in AGENTS.md (ois net use NETWORK_ID to correct it)',
        code: 'OIS_ERR_ZT_NOT_FOUND',
      };
    case 'PORT_ERROR':
      return {
        name,
        status: 'fail',
        detail: `${networkId}: PORT_ERROR, the service could not create its virtual network interface`,
        fix: 'restart zerotier-one; on Linux check that /dev/net/tun exists (containers need --device /dev/net/tun)',
        code: 'OIS_ERR_ZT_NOT_RUNNING',
      };
    case 'CLIENT_TOO_OLD':
      return {
        name,
        status: 'fail',
        detail: `${networkId}: CLIENT_TOO_OLD, this ZeroTier version is too old for the network`,
        fix: 'update ZeroTier One (https://www.zerotier.com/download/)',
        code: 'OIS_ERR_ZT_PROTOCOL',
      };
    default:
      return {
        name,
        status: 'warn',
        detail: `${networkId}: status ${network.status}`,
        fix: 'see zerotier-cli listnetworks',
      };
  }
}

function serviceProblem(err: OisError): Omit<Check, 'subject'> {
  const name = 'zerotier service';
  switch (err.code) {
    case 'OIS_ERR_ZT_NOT_RUNNING':
      return {
        name,
        status: 'fail',
        detail: err.message,
        fix: 'start it: sudo systemctl start zerotier-one (or open the ZeroTier app)',
        code: err.code,
      };
    case 'OIS_ERR_ZT_TOKEN':
      return {
        name,
        status: 'fail',
        detail: err.message,
        fix: err.hint ?? 'install ZeroTier One, or make authtoken.secret readable',
        code: err.code,
      };
    default:
      return {
        name,
        status: 'fail',
        detail: err.message,
        ...(err.hint ? { fix: err.hint } : {}),
        code: err.code,
      };
  }
}
