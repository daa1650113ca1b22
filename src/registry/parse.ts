import { load as loadYaml } from 'js-yaml';
import { isHttpUrl } from '../config/index.js';
import { OisError } from '../errors.js';
import {
  type Agent,
  type AgentSpan,
  type AgentStatus,
  type GatewayRef,
  type Registry,
  type RegistryWarning,
  ROLES,
  type Role,
  STATUSES,
  type TeamSettings,
} from './types.js';

export const AGENT_BLOCK_INFO = 'yaml ois-agent';
export const TEAM_BLOCK_INFO = 'yaml ois-team';
const NETWORK_ID = /^[0-9a-f]{16}$/;
export const DEFAULT_AGENT_SESSION_KEY = 'agent:main:main';
export const DEFAULT_GATEWAY_PORT = 18789;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const KNOWN_KEYS = new Set(['name', 'role', 'status', 'description', 'capabilities', 'gateway', 'joined']);
const TOKEN_PLACEHOLDER =
  /^(x+|\*+|<[^>]*>|\[[^\]]*\]|\([^)]*\)|redacted|changeme|none|n\/a|-+|…|\.\.\.|your[\s_-]?token.*|configured[\s_-].*)$/i;

/** The lookup id of a name: lower case, runs of anything but letters and digits as `-`. */
export function agentId(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '');
}

/** True when a token value is a real-looking secret rather than a placeholder. */
export function looksLikeToken(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const v = value.trim().replace(/^`+|`+$/g, '');
  return v.length >= 8 && !TOKEN_PLACEHOLDER.test(v);
}

interface Section {
  heading: string;
  headingLine: number;
  start: number;
  end: number;
}

interface Fence {
  start: number;
  end: number;
  info: string;
}

/**
 * Parses AGENTS.md. Reads the canonical form (a `## name (role)` section with a ```yaml ois-agent block) and
 * the OIS form teams wrote by hand (`## Name (Role)` with `- IP:` / `- Port:` bullets, and the
 * `ZeroTier IP` / `Gateway 端口` / `Gateway Token` variants). Pure: no I/O. Throws OIS_ERR_REGISTRY_PARSE or
 * OIS_ERR_REGISTRY_INVALID naming the file, the line and every problem found.
 */
export function parseRegistry(text: string, file = 'AGENTS.md'): Registry {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const { sections, fences } = scan(lines);
  const agents: Agent[] = [];
  const spans: AgentSpan[] = [];
  const warnings: RegistryWarning[] = [];
  const parseProblems: string[] = [];
  const invalid: string[] = [];

  for (const section of sections) {
    const blocks = fences.filter(
      (f) => f.start > section.start && f.start < section.end && isAgentBlock(f.info),
    );
    if (blocks.length > 1) {
      parseProblems.push(
        `${file}:${blocks[1]!.start + 1}: a section may hold one \`${AGENT_BLOCK_INFO}\` block`,
      );
      continue;
    }
    const block = blocks[0];
    if (block) {
      if (block.end >= lines.length) {
        parseProblems.push(`${file}:${block.start + 1}: the \`${AGENT_BLOCK_INFO}\` block is never closed`);
        continue;
      }
      const parsed = parseCanonical(lines, section, block, file, parseProblems, invalid, warnings);
      if (parsed) {
        agents.push(parsed.agent);
        spans.push({ ...spanOf(section, parsed), block });
      }
      continue;
    }
    const parsed = parseOisSection(lines, section, fences, file, warnings);
    if (parsed) {
      agents.push(parsed.agent);
      spans.push({ ...spanOf(section, parsed), block: null });
    }
  }

  // The team block: one per file, outside agent sections.
  let team: TeamSettings | null = null;
  let teamBlock: Registry['teamBlock'] = null;
  const teamBlocks = fences.filter(
    (f) => f.info.replace(/\s+/g, ' ').trim().toLowerCase() === TEAM_BLOCK_INFO,
  );
  if (teamBlocks.length > 1)
    parseProblems.push(
      `${file}:${teamBlocks[1]!.start + 1}: a file may hold one \`${TEAM_BLOCK_INFO}\` block`,
    );
  const tb = teamBlocks[0];
  if (tb) {
    let data: unknown;
    try {
      data = loadYaml(lines.slice(tb.start + 1, tb.end).join('\n'));
    } catch (err) {
      const mark = (err as { mark?: { line?: number } }).mark;
      parseProblems.push(
        `${file}:${tb.start + 2 + (mark?.line ?? 0)}: ${(err as { reason?: string }).reason ?? 'invalid YAML'}`,
      );
    }
    if (data === null || data === undefined) data = {};
    if (typeof data !== 'object' || Array.isArray(data)) {
      parseProblems.push(`${file}:${tb.start + 1}: the \`${TEAM_BLOCK_INFO}\` block must be a YAML mapping`);
    } else {
      const settings = data as TeamSettings;
      const network = (settings.zerotier as { network?: unknown } | undefined)?.network;
      if (settings.zerotier !== undefined && (typeof network !== 'string' || !NETWORK_ID.test(network))) {
        invalid.push(
          `${file}:${tb.start + 1}: zerotier.network "${String(network ?? '')}" must be a 16-hex-digit network id`,
        );
      }
      team = settings;
      teamBlock = { start: tb.start, end: tb.end };
    }
  }

  const seen = new Map<string, Agent>();
  for (const agent of agents) {
    const first = seen.get(agent.id);
    if (first) {
      invalid.push(
        `${file}:${agent.line}: duplicate agent name "${agent.name}" (first at line ${first.line}); names must be unique`,
      );
    } else seen.set(agent.id, agent);
  }

  if (parseProblems.length > 0) {
    throw new OisError(
      'OIS_ERR_REGISTRY_PARSE',
      `cannot parse ${file}:\n  - ${parseProblems.join('\n  - ')}`,
      {
        hint: 'fix the lines named above; the format is described in specs/registry.md',
        details: { file, problems: parseProblems },
      },
    );
  }
  if (invalid.length > 0) {
    throw new OisError(
      'OIS_ERR_REGISTRY_INVALID',
      `invalid team registry ${file}:\n  - ${invalid.join('\n  - ')}`,
      {
        hint: 'fix the entries named above; the format is described in specs/registry.md',
        details: { file, problems: invalid },
      },
    );
  }
  return { file, agents, warnings, spans, team, teamBlock };
}

interface Parsed {
  agent: Agent;
  token: { value: string; line: number } | null;
}

function spanOf(section: Section, parsed: Parsed): Omit<AgentSpan, 'block'> {
  return {
    agent: parsed.agent,
    headingLine: section.headingLine,
    start: section.start,
    end: section.end,
    token: parsed.token,
  };
}

function isAgentBlock(info: string): boolean {
  return info.replace(/\s+/g, ' ').trim().toLowerCase() === AGENT_BLOCK_INFO;
}

/** Splits the file into level-2 sections and finds fenced code blocks (headings inside fences do not count). */
function scan(lines: string[]): { sections: Section[]; fences: Fence[] } {
  const sections: Section[] = [];
  const fences: Fence[] = [];
  let open: { start: number; marker: string; info: string } | null = null;
  let current: Section | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (open) {
      if (
        fence &&
        fence[1]![0] === open.marker[0] &&
        fence[1]!.length >= open.marker.length &&
        fence[2]!.trim() === ''
      ) {
        fences.push({ start: open.start, end: i, info: open.info });
        open = null;
      }
      continue;
    }
    if (fence && !(fence[1]![0] === '`' && fence[2]!.includes('`'))) {
      open = { start: i, marker: fence[1]!, info: fence[2]!.trim() };
      continue;
    }
    const heading = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/.exec(line);
    if (heading && heading[1]!.length <= 2) {
      if (current) {
        current.end = i;
        sections.push(current);
        current = null;
      }
      if (heading[1]!.length === 2) {
        current = {
          heading: (heading[2] ?? '').replace(/[ \t]+#+$/, ''),
          headingLine: i,
          start: i,
          end: lines.length,
        };
      }
    }
  }
  if (open) fences.push({ start: open.start, end: lines.length, info: open.info });
  if (current) sections.push(current);
  return { sections, fences };
}

function parseCanonical(
  lines: string[],
  section: Section,
  block: Fence,
  file: string,
  parseProblems: string[],
  invalid: string[],
  warnings: RegistryWarning[],
): Parsed | null {
  const yamlText = lines.slice(block.start + 1, block.end).join('\n');
  let data: unknown;
  try {
    data = loadYaml(yamlText);
  } catch (err) {
    const mark = (err as { mark?: { line?: number } }).mark;
    const reason = (err as { reason?: string }).reason ?? 'invalid YAML';
    const line = block.start + 2 + (mark?.line ?? 0);
    parseProblems.push(`${file}:${line}: ${reason}`);
    return null;
  }
  const at = `${file}:${block.start + 1}`;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    parseProblems.push(`${at}: the \`${AGENT_BLOCK_INFO}\` block must be a YAML mapping`);
    return null;
  }
  const d = data as Record<string, unknown>;
  const before = invalid.length;
  const bad = (problem: string) => invalid.push(`${at}: ${problem}`);

  const name = typeof d.name === 'string' || typeof d.name === 'number' ? String(d.name) : '';
  if (!name) bad('`name` is required');
  else if (!NAME_PATTERN.test(name)) {
    bad(`name "${name}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  const role = d.role;
  if (!ROLES.includes(role as Role)) {
    bad(`unknown role "${String(role ?? '')}" for ${name || 'this agent'} (use ${ROLES.join(' or ')})`);
  }
  const status = d.status ?? 'active';
  if (!(STATUSES as readonly unknown[]).includes(status)) {
    bad(`unknown status "${String(status)}" (use ${STATUSES.join(', ')})`);
  }
  if (d.description !== undefined && d.description !== null && typeof d.description !== 'string') {
    bad('`description` must be text');
  }
  let capabilities: string[] = [];
  if (d.capabilities !== undefined && d.capabilities !== null) {
    if (!Array.isArray(d.capabilities) || d.capabilities.some((c) => typeof c !== 'string')) {
      bad('`capabilities` must be a list of words');
    } else capabilities = d.capabilities as string[];
  }
  let gateway: GatewayRef | null = null;
  let token = looksLikeToken(d.token) ? String(d.token) : null;
  if (d.gateway !== undefined && d.gateway !== null) {
    const g = d.gateway as Record<string, unknown>;
    if (typeof g !== 'object' || Array.isArray(g))
      bad('`gateway` must be a mapping with `url` and `sessionKey`');
    else {
      if (!token && looksLikeToken(g.token)) token = String(g.token);
      if (typeof g.url !== 'string' || !isHttpUrl(g.url)) {
        bad(`gateway.url "${String(g.url ?? '')}" is not an http(s) URL (e.g. http://10.147.17.5:18789)`);
      } else if (g.sessionKey !== undefined && typeof g.sessionKey !== 'string') {
        bad('gateway.sessionKey must be text such as agent:main:main');
      } else {
        gateway = {
          url: g.url.replace(/\/+$/, ''),
          sessionKey: (g.sessionKey as string | undefined) ?? DEFAULT_AGENT_SESSION_KEY,
        };
      }
    }
  }
  const joined = d.joined === undefined || d.joined === null ? null : String(d.joined);
  if (joined !== null && !DATE_PATTERN.test(joined)) bad(`joined "${joined}" must be a date YYYY-MM-DD`);
  if (invalid.length > before) return null;

  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) if (!KNOWN_KEYS.has(k)) extra[k] = v;

  const headingMatch = /^(.*?)\s*\(([^()]*)\)\s*$/.exec(section.heading);
  if (headingMatch && (agentId(headingMatch[1]!) !== agentId(name) || headingMatch[2]!.trim() !== role)) {
    warnings.push({
      line: section.headingLine + 1,
      code: 'heading-mismatch',
      message: `${file}:${section.headingLine + 1}: heading "## ${section.heading}" does not match the block (${name}, ${String(role)})`,
      hint: `the block wins; change the heading to "## ${name} (${String(role)})"`,
      agent: name,
    });
  }
  const agent: Agent = {
    name,
    id: agentId(name),
    role: role as Role,
    status: status as AgentStatus,
    description: typeof d.description === 'string' ? d.description : '',
    capabilities,
    gateway,
    joined,
    extra,
    form: 'canonical',
    roleLabel: null,
    line: section.headingLine + 1,
    plaintextToken: token !== null,
  };
  if (token !== null) warnings.push(tokenWarning(file, block.start + 1, agent));
  return { agent, token: token === null ? null : { value: token.trim(), line: block.start } };
}

/** Bullet labels of the OIS form, mapped to what they mean. Matched case-insensitively. */
const OIS_LABELS: Record<
  string,
  'ip' | 'port' | 'token' | 'status' | 'persona' | 'location' | 'os' | 'telegram' | 'joined'
> = {
  ip: 'ip',
  'zerotier ip': 'ip',
  'zt ip': 'ip',
  port: 'port',
  'gateway port': 'port',
  'gateway 端口': 'port',
  端口: 'port',
  token: 'token',
  'gateway token': 'token',
  状态: 'status',
  status: 'status',
  人设: 'persona',
  persona: 'persona',
  位置: 'location',
  location: 'location',
  系统: 'os',
  os: 'os',
  'telegram bot': 'telegram',
  入职日期: 'joined',
  joined: 'joined',
};

function parseOisSection(
  lines: string[],
  section: Section,
  fences: Fence[],
  file: string,
  warnings: RegistryWarning[],
): Parsed | null {
  const heading = /^(.*?)\s*\(([^()]+)\)\s*$/.exec(section.heading);
  if (!heading) return null;
  const name = heading[1]!
    .replace(/\p{Extended_Pictographic}|\u{FE0F}|\u{200D}|[\u{1F3FB}-\u{1F3FF}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
  const roleLabel = heading[2]!.trim();
  if (!name || !agentId(name)) return null;

  const values: Partial<Record<(typeof OIS_LABELS)[string], { value: string; line: number }>> = {};
  for (let i = section.start + 1; i < section.end; i++) {
    if (fences.some((f) => i >= f.start && i <= f.end)) continue;
    const m = /^\s*(?:[-*+]\s+)?\*{0,2}([^:*：]+?)\*{0,2}\s*[:：]\s*\*{0,2}\s*(.*?)\s*$/.exec(lines[i]!);
    if (!m) continue;
    const label = OIS_LABELS[m[1]!.trim().toLowerCase()];
    if (label && values[label] === undefined) {
      values[label] = { value: m[2]!.replace(/^`+|`+$/g, '').trim(), line: i + 1 };
    }
  }
  if (!values.ip && !values.port && !values.token) return null;

  let gateway: GatewayRef | null = null;
  const ip = values.ip?.value ?? '';
  const port = values.port?.value ? Number(values.port.value) : DEFAULT_GATEWAY_PORT;
  const placeholder = /x/i.test(ip) && /^\d{1,3}\.[\dx]+\.[\dx]+\.[\dx]+$/i.test(ip);
  const host = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
  const url = `http://${host}:${port}`;
  if (ip && !placeholder && Number.isInteger(port) && port > 0 && port < 65536 && isHttpUrl(url)) {
    gateway = { url, sessionKey: DEFAULT_AGENT_SESSION_KEY };
  } else {
    warnings.push({
      line: section.headingLine + 1,
      code: 'ois-address',
      message: `${file}:${section.headingLine + 1}: ${name} has no usable gateway address (IP "${ip}", port "${values.port?.value ?? DEFAULT_GATEWAY_PORT}")`,
      hint: `add a canonical entry with \`ois join\` on ${name}'s machine, or fix the IP and Port lines`,
      agent: name,
    });
  }
  const role: Role = /master|admin|owner|lead|管理|负责/i.test(roleLabel) ? 'admin' : 'member';
  const extra: Record<string, unknown> = {};
  for (const key of ['location', 'os', 'telegram', 'status'] as const) {
    if (values[key]?.value) extra[key === 'status' ? 'availability' : key] = values[key].value;
  }
  const joined = values.joined && DATE_PATTERN.test(values.joined.value) ? values.joined.value : null;
  const agent: Agent = {
    name,
    id: agentId(name),
    role,
    status: 'active',
    description: values.persona?.value ?? '',
    capabilities: [],
    gateway,
    joined,
    extra,
    form: 'ois',
    roleLabel,
    line: section.headingLine + 1,
    plaintextToken: looksLikeToken(values.token?.value),
  };
  if (!agent.plaintextToken) return { agent, token: null };
  warnings.push(tokenWarning(file, values.token!.line, agent));
  return { agent, token: { value: values.token!.value, line: values.token!.line - 1 } };
}

function tokenWarning(file: string, line: number, agent: Agent): RegistryWarning {
  return {
    line,
    code: 'plaintext-token',
    message: `${file}:${line}: the entry of ${agent.name} holds a plaintext gateway token; anyone who can read the team folder owns that assistant`,
    hint: `on each machine that sends to ${agent.name}, run \`ois secrets import\` (or \`ois secrets set ${agent.id} --token-stdin\`), then replace the token in ${file} with <configured-in-private-deployment> and rotate it on ${agent.name}'s gateway`,
    agent: agent.name,
  };
}

/** Throws OIS_ERR_USAGE unless `name` can be an agent's name in the canonical form. */
export function validateAgentName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new OisError('OIS_ERR_USAGE', `"${name}" cannot be an agent name`, {
      hint: 'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
}
