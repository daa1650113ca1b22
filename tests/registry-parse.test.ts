import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOisError, type OisError } from '../src/errors.js';
import { closestNames, findAgent, parseRegistry, requireAgent } from '../src/registry/index.js';
import { ROOT } from './helpers/spec-blocks.js';

function parseError(text: string): OisError {
  try {
    parseRegistry(text, 'AGENTS.md');
  } catch (err) {
    if (isOisError(err)) return err;
    throw err;
  }
  throw new Error('expected a parse error');
}

describe('registry - parsing', () => {
  it('registry - reads the OIS fixture of a real team file unchanged', () => {
    const text = readFileSync(join(ROOT, 'tests/fixtures/registry/ois-real-team.md'), 'utf8');
    const registry = parseRegistry(text, 'AGENTS.md');
    expect(registry.agents.map((a) => [a.name, a.role, a.roleLabel, a.gateway?.url ?? null])).toEqual([
      ['小龙', 'admin', 'Master', 'http://10.147.17.31:18789'],
      ['Nova', 'member', 'Core Contributor', 'http://10.147.17.32:18790'],
      ['阿青', 'member', 'New Member', 'http://10.147.17.33:18789'],
    ]);
    expect(registry.agents[1]!.extra).toMatchObject({ telegram: '@nova_bot', availability: '按需在线' });
    expect(registry.warnings.filter((w) => w.code === 'plaintext-token').map((w) => w.agent)).toEqual([
      'Nova',
    ]);
  });

  it('registry - the repository AGENTS.md is a valid example team without tokens', () => {
    const registry = parseRegistry(readFileSync(join(ROOT, 'AGENTS.md'), 'utf8'), 'AGENTS.md');
    expect(registry.agents.length).toBeGreaterThanOrEqual(2);
    expect(registry.warnings).toEqual([]);
  });

  it('registry - a heading inside a code fence is not a section', () => {
    const text =
      '## alpha (admin)\n\n````markdown\n## fake (admin)\n- IP: 10.0.0.1\n````\n\n```yaml ois-agent\nname: alpha\nrole: admin\n```\n';
    expect(parseRegistry(text).agents.map((a) => a.name)).toEqual(['alpha']);
  });

  it('registry - YAML errors name the file line inside the block', () => {
    const err = parseError('# T\n\n## a (admin)\n\n```yaml ois-agent\nname: a\nrole: [admin\n```\n');
    expect(err.code).toBe('OIS_ERR_REGISTRY_PARSE');
    expect(err.message).toMatch(/AGENTS\.md:[78]: /);
  });

  it('registry - an unclosed block and two blocks in one section are parse errors', () => {
    expect(parseError('## a (admin)\n```yaml ois-agent\nname: a\n').message).toContain('never closed');
    const two =
      '## a (admin)\n```yaml ois-agent\nname: a\nrole: admin\n```\n```yaml ois-agent\nname: b\nrole: admin\n```\n';
    expect(parseError(two).message).toContain('AGENTS.md:6: a section may hold one');
  });

  it('registry - invalid names, statuses and dates are reported', () => {
    const err = parseError(
      '## x (member)\n```yaml ois-agent\nname: "bad name!"\nrole: member\nstatus: away\njoined: yesterday\n```\n',
    );
    expect(err.code).toBe('OIS_ERR_REGISTRY_INVALID');
    expect(err.message).toContain('name "bad name!" must be');
    expect(err.message).toContain('unknown status "away"');
    expect(err.message).toContain('joined "yesterday" must be a date');
  });

  it('registry - a token key in a canonical block is a warning and is never exposed', () => {
    const text =
      '## a (admin)\n```yaml ois-agent\nname: a\nrole: admin\ngateway: {url: "http://h:1", token: "0123456789abcdef0123"}\n```\n';
    const registry = parseRegistry(text);
    expect(registry.agents[0]!.plaintextToken).toBe(true);
    expect(registry.warnings[0]!.code).toBe('plaintext-token');
    expect(JSON.stringify(registry.agents)).not.toContain('0123456789abcdef');
  });

  it('registry - heading and block disagreeing is a warning, the block wins', () => {
    const registry = parseRegistry('## alfa (member)\n```yaml ois-agent\nname: alpha\nrole: admin\n```\n');
    expect(registry.agents[0]!.role).toBe('admin');
    expect(registry.warnings.map((w) => w.code)).toEqual(['heading-mismatch']);
  });

  it('registry - lookup ignores case and punctuation and suggests the closest names', () => {
    const registry = parseRegistry(
      readFileSync(join(ROOT, 'tests/fixtures/registry/ois-real-team.md'), 'utf8'),
    );
    expect(findAgent(registry, 'NOVA')?.name).toBe('Nova');
    expect(findAgent(registry, 'nobody')).toBeNull();
    expect(closestNames('nvoa', ['Nova', 'alpha'])).toEqual(['Nova']);
    try {
      requireAgent(registry, 'Novaa');
      expect.unreachable();
    } catch (err) {
      expect(isOisError(err, 'OIS_ERR_AGENT_UNKNOWN')).toBe(true);
      expect((err as OisError).hint).toBe('did you mean Nova?');
    }
  });
});
