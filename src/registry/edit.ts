import { dump } from 'js-yaml';
import { AGENT_BLOCK_INFO, agentId, parseRegistry, TEAM_BLOCK_INFO } from './parse.js';
import type { AgentStatus, GatewayRef, Registry, Role, TeamSettings } from './types.js';

/** The fields `ois join` writes into an agent's canonical block. Never a token. */
export interface AgentFields {
  name: string;
  role: Role;
  status: AgentStatus;
  description: string;
  capabilities: string[];
  gateway: GatewayRef | null;
  /** YYYY-MM-DD, or null to leave it out. */
  joined: string | null;
  /** Later fields (zerotier, federation, …), kept in the block after the known ones. */
  extra?: Record<string, unknown>;
}

export const TOKEN_REDACTED = '<configured-in-private-deployment>';

/** Renders the fenced ```yaml ois-agent block for an agent. */
export function renderAgentBlock(fields: AgentFields): string {
  const data: Record<string, unknown> = {
    name: fields.name,
    role: fields.role,
    status: fields.status,
    description: fields.description,
    capabilities: fields.capabilities,
  };
  if (fields.gateway) data.gateway = { url: fields.gateway.url, sessionKey: fields.gateway.sessionKey };
  if (fields.joined) data.joined = fields.joined;
  for (const [k, v] of Object.entries(fields.extra ?? {})) {
    if (!(k in data) && k !== 'token') data[k] = v;
  }
  const yaml = dump(data, { lineWidth: -1, noRefs: true, flowLevel: 1 }).replace(/\n$/, '');
  return `\`\`\`${AGENT_BLOCK_INFO}\n${yaml}\n\`\`\``;
}

/**
 * Adds or updates an agent's entry in the text of AGENTS.md and returns the new text. Only the agent's block
 * (and, when the role changed, its canonical heading) changes; every other byte stays as it was.
 * - canonical entry: its block is replaced;
 * - OIS-form entry (bullets): a canonical block is added at the end of its section (the block wins);
 * - no entry: a new `## name (role)` section goes after the last agent section, or at the end.
 */
export function upsertAgentText(text: string, registry: Registry, fields: AgentFields): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split('\n');
  const hadCr = (i: number) => lines[i]?.endsWith('\r') ?? false;
  const block = renderAgentBlock(fields).split('\n');
  const id = agentId(fields.name);
  const span = registry.spans.find((s) => s.agent.id === id);
  const withEol = (ls: string[]) => (eol === '\r\n' ? ls.map((l) => `${l}\r`) : ls);

  if (span?.block) {
    lines.splice(span.block.start, span.block.end - span.block.start + 1, ...withEol(block));
    const prose = joinProseLine(lines, span.headingLine, span.block.start, span.agent.description);
    // The description line `ois join` wrote under the heading follows the block; a human's prose stays.
    if (prose !== null && fields.description !== span.agent.description) {
      if (fields.description !== '') lines[prose] = `${fields.description}${hadCr(prose) ? '\r' : ''}`;
      else lines.splice(prose, lines[prose + 1]?.trim() === '' ? 2 : 1);
    }
    const heading = lines[span.headingLine]!.replace(/\r$/, '');
    const m = /^(\s*##\s+)(.*?)\s*\((owner|admin|member)\)\s*$/.exec(heading);
    if (m && m[3] !== fields.role && agentId(m[2]!) === id) {
      lines[span.headingLine] = `${m[1]}${m[2]} (${fields.role})${hadCr(span.headingLine) ? '\r' : ''}`;
    }
    return lines.join('\n');
  }
  if (span) {
    const at = lastContentLine(lines, span.start, span.end) + 1;
    lines.splice(at, 0, ...withEol(['', ...block]));
    return lines.join('\n');
  }

  const section = [`## ${fields.name} (${fields.role})`, ''];
  if (fields.description) section.push(fields.description, '');
  section.push(...block);
  const last = registry.spans.at(-1);
  if (last) {
    const at = lastContentLine(lines, last.start, last.end) + 1;
    lines.splice(at, 0, ...withEol(['', ...section]));
    return lines.join('\n');
  }
  // No agent yet: append, separated by one blank line, and end with a newline.
  let out = text;
  if (out.length > 0 && !out.endsWith('\n')) out += eol;
  if (out.length > 0 && !/(\r?\n){2}$/.test(out)) out += eol;
  return `${out}${section.join(eol)}${eol}`;
}

/**
 * Returns the text with every plaintext token replaced: the OIS bullet keeps its label and gets
 * `<configured-in-private-deployment>`; a canonical block loses its `token` keys. Nothing else changes.
 */
export function redactTokensText(text: string, registry: Registry): string {
  const lines = text.split('\n');
  // Bottom-up, so earlier line numbers stay valid.
  const spans = registry.spans.filter((s) => s.token !== null).sort((a, b) => b.start - a.start);
  for (const span of spans) {
    const token = span.token!;
    if (span.block) {
      const re = /^(\s*)(token)\s*:.*$/;
      for (let i = span.block.end - 1; i > span.block.start; i--) {
        if (re.test(lines[i]!.replace(/\r$/, ''))) lines.splice(i, 1);
      }
    } else {
      const line = lines[token.line]!;
      const at = line.lastIndexOf(token.value);
      if (at >= 0) {
        lines[token.line] = `${line.slice(0, at)}${TOKEN_REDACTED}${line.slice(at + token.value.length)}`;
      }
    }
  }
  const out = lines.join('\n');
  parseRegistry(out, registry.file);
  return out;
}

/**
 * The line under the heading that `ois join` wrote itself: a paragraph of one line that equals the previous
 * description. Prose a human wrote (anything else between the heading and the block) is never rewritten.
 * Returns its index, or null.
 */
function joinProseLine(lines: string[], heading: number, block: number, description: string): number | null {
  if (description === '') return null;
  const blank = (i: number) => i === heading || i === block || lines[i]!.trim() === '';
  for (let i = heading + 1; i < block; i++) {
    if (lines[i]!.replace(/\r$/, '') === description && blank(i - 1) && blank(i + 1)) return i;
  }
  return null;
}

function lastContentLine(lines: string[], start: number, end: number): number {
  let i = end - 1;
  while (i > start && lines[i]!.trim() === '') i--;
  return i;
}

/**
 * Sets the team settings (the ```yaml ois-team block): replaces the block where it is, or adds it after the
 * file's title (before the first section). Every other byte stays as it was.
 */
export function setTeamSettingsText(text: string, registry: Registry, settings: TeamSettings): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const yaml = dump(settings, { lineWidth: -1, noRefs: true, flowLevel: 1 }).replace(/\n$/, '');
  const block = `\`\`\`${TEAM_BLOCK_INFO}\n${yaml}\n\`\`\``
    .split('\n')
    .map((l) => (eol === '\r\n' ? `${l}\r` : l));
  const lines = text.split('\n');
  if (registry.teamBlock) {
    lines.splice(registry.teamBlock.start, registry.teamBlock.end - registry.teamBlock.start + 1, ...block);
    return lines.join('\n');
  }
  const firstSection = lines.findIndex((l) => /^ {0,3}## /.test(l));
  if (firstSection < 0) {
    let out = text;
    if (out.length > 0 && !out.endsWith('\n')) out += eol;
    if (out.length > 0 && !/(\r?\n){2}$/.test(out)) out += eol;
    return `${out}${block.map((l) => l.replace(/\r$/, '')).join(eol)}${eol}`;
  }
  lines.splice(firstSection, 0, ...block, eol === '\r\n' ? '\r' : '');
  return lines.join('\n');
}
