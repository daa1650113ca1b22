/** `owner` is the team's founder (exactly one, once the team has membership records: specs/membership.md). */
export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

export const STATUSES = ['active', 'pending', 'disabled', 'rejected', 'left', 'removed'] as const;
/**
 * A status AGENTS.md may say, or `unverified`: never written, it is what the membership view gives an entry
 * the team's signed records do not back (src/membership/view.ts).
 */
export type AgentStatus = (typeof STATUSES)[number] | 'unverified';

export interface GatewayRef {
  url: string;
  sessionKey: string;
}

/** One team member as the registry lists it. */
export interface Agent {
  /** The name as written. */
  name: string;
  /** Lookup key: lower case, runs of other characters as `-` (`Agent A` → `agent-a`). */
  id: string;
  role: Role;
  status: AgentStatus;
  description: string;
  capabilities: string[];
  gateway: GatewayRef | null;
  /** Join date, YYYY-MM-DD. */
  joined: string | null;
  /** Fields of the canonical block that this version does not interpret (zerotier, federation, …), kept as is. */
  extra: Record<string, unknown>;
  /** `canonical` (a ```yaml ois-agent block) or `ois` (the bullet form OIS teams wrote). */
  form: 'canonical' | 'ois';
  /** The role as the OIS form wrote it (`Master`, `Core Contributor`, …). */
  roleLabel: string | null;
  /** 1-based line of the section heading. */
  line: number;
  /** True when the entry holds what looks like a real gateway token (never read, only warned about). */
  plaintextToken: boolean;
}

export interface RegistryWarning {
  line: number;
  code: 'plaintext-token' | 'heading-mismatch' | 'ois-address' | 'ois-role';
  message: string;
  hint: string;
  agent?: string;
}

/** Where an agent's section sits in the file (0-based line indices, end exclusive). */
export interface AgentSpan {
  agent: Agent;
  headingLine: number;
  start: number;
  end: number;
  /** The ```yaml ois-agent block, fences included, when the section has one. */
  block: { start: number; end: number } | null;
  /**
   * A plaintext token found in the entry (0-based line: the bullet, or the block's opening fence). Only for
   * `ois secrets import`; never printed.
   */
  token: { value: string; line: number } | null;
}

/** Team-wide settings: the one ```yaml ois-team block of the file, anywhere outside agent sections. */
export interface TeamSettings {
  /** The team's ZeroTier network: `{network: '<16 hex>'}`. */
  zerotier?: { network: string };
  /** Other keys, kept as they are. */
  [key: string]: unknown;
}

export interface Registry {
  file: string;
  agents: Agent[];
  warnings: RegistryWarning[];
  /** For edits: the sections in file order. */
  spans: AgentSpan[];
  /** Team settings, or null when the file has no `ois-team` block. */
  team: TeamSettings | null;
  /** Where the `ois-team` block is (0-based lines of its fences), for edits. */
  teamBlock: { start: number; end: number } | null;
}
