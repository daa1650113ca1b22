/**
 * The parts of the ZeroTier APIs that OIS reads, as the clients return them (checked and trimmed: every
 * field here is present with its documented type; fields OIS does not use are left out).
 */

/** `status` of a joined network, as the local service reports it. */
export const NETWORK_STATUSES = [
  'OK',
  'REQUESTING_CONFIGURATION',
  'ACCESS_DENIED',
  'NOT_FOUND',
  'PORT_ERROR',
  'CLIENT_TOO_OLD',
  'AUTHENTICATION_REQUIRED',
] as const;
/** A documented status, or one a newer ZeroTier added (kept as is, never treated as OK). */
export type NetworkStatus = (typeof NETWORK_STATUSES)[number] | (string & {});

/** `GET /status` of the local service. */
export interface NodeStatus {
  /** This node's id (10 hex digits). */
  nodeId: string;
  /** Whether the node reaches the ZeroTier roots. */
  online: boolean;
  version: string | null;
}

/** `GET /network/{id}` of the local service: a network this node has joined. */
export interface JoinedNetwork {
  id: string;
  name: string;
  status: NetworkStatus;
  /** As reported: CIDR strings (`10.147.17.5/24`). */
  assignedAddresses: string[];
  /** For AUTHENTICATION_REQUIRED (SSO networks): where to log in. */
  authenticationUrl: string | null;
}

export interface PeerPath {
  /** `ip/port`. */
  address: string;
  active: boolean;
  expired: boolean;
  preferred: boolean;
  lastReceive: number;
}

/** `GET /peer/{id}` of the local service: a node this one knows about. */
export interface Peer {
  nodeId: string;
  /** Round trip in ms; -1 when unknown. */
  latency: number;
  role: string;
  version: string | null;
  paths: PeerPath[];
}

/**
 * A member of a network, from Central or from a self-hosted controller, in one shape. Central fields may be
 * null (every Central field is optional and nullable); the controller has no description and no lastSeen.
 */
export interface Member {
  nodeId: string;
  name: string | null;
  description: string | null;
  authorized: boolean;
  /** Plain IP addresses (no prefix length). */
  ipAssignments: string[];
  /** Last check-in with the controller (ms since epoch); null when unknown or reset to 0. */
  lastSeen: number | null;
  /**
   * Central: `lastSeen` within {@link ONLINE_WINDOW_MS}. Controller: this node has an active path to it
   * (from `/peer`). Null when nothing tells.
   */
  online: boolean | null;
  physicalAddress: string | null;
  clientVersion: string | null;
}

/** Central's network record (the fields OIS shows). */
export interface CentralNetwork {
  id: string;
  name: string | null;
  description: string | null;
  onlineMemberCount: number | null;
  authorizedMemberCount: number | null;
  totalMemberCount: number | null;
}

/** A partial update of a member. Arrays are read-modify-write: give a function of the current value. */
export interface MemberUpdate {
  name?: string;
  description?: string;
  authorized?: boolean;
  ipAssignments?: (current: string[]) => string[];
}

/** Nodes check in every 60 s; Central's own UI calls a member online within about three check-ins. */
export const ONLINE_WINDOW_MS = 180_000;
