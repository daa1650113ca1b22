import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AgentFields,
  parseRegistry,
  redactTokensText,
  setTeamSettingsText,
  upsertAgentText,
} from '../src/registry/index.js';
import { OIS_BIN, runOis, tempDir } from './helpers/cli.js';
import { ROOT } from './helpers/spec-blocks.js';

const fixture = readFileSync(join(ROOT, 'tests/fixtures/registry/ois-real-team.md'), 'utf8');

const gamma: AgentFields = {
  name: 'gamma',
  role: 'member',
  status: 'active',
  description: 'NAS assistant',
  capabilities: ['storage'],
  gateway: { url: 'http://10.147.17.40:18789', sessionKey: 'agent:main:main' },
  joined: '2026-11-21',
};

/** The lines of `after` that are not in `before`, assuming `after` only inserted or replaced one run. */
function removedAndAdded(before: string, after: string): { removed: string; added: string } {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return { removed: a.slice(start, endA).join('\n'), added: b.slice(start, endB).join('\n') };
}

describe('registry - edits keep every other byte', () => {
  it('registry - a new agent is inserted after the last agent section; nothing else changes', () => {
    const after = upsertAgentText(fixture, parseRegistry(fixture), gamma);
    const { removed, added } = removedAndAdded(fixture, after);
    expect(removed).toBe('');
    expect(added).toMatch(
      /^## gamma \(member\)\n\nNAS assistant\n\n```yaml ois-agent\nname: gamma\n[\s\S]*```\n$/,
    );
    const registry = parseRegistry(after);
    expect(registry.agents.map((a) => a.name)).toEqual(['小龙', 'Nova', '阿青', 'gamma']);
    // It went before the team sections (共享资源), not after the footer.
    expect(after.indexOf('## gamma')).toBeLessThan(after.indexOf('## 共享资源'));
  });

  it('registry - updating a canonical entry replaces only its block (and the heading when the role changes)', () => {
    const once = upsertAgentText(fixture, parseRegistry(fixture), gamma);
    const twice = upsertAgentText(once, parseRegistry(once), {
      ...gamma,
      role: 'admin',
      capabilities: ['storage', 'backup'],
    });
    const { removed, added } = removedAndAdded(once, twice);
    expect(removed).toContain('## gamma (member)');
    expect(added).toContain('## gamma (admin)');
    expect(added).toContain('capabilities: [storage, backup]');
    expect(parseRegistry(twice).agents.filter((a) => a.name === 'gamma')).toHaveLength(1);
  });

  it('registry - a new description also replaces the line ois join wrote under the heading, not human prose', () => {
    const once = upsertAgentText(fixture, parseRegistry(fixture), gamma);
    const twice = upsertAgentText(once, parseRegistry(once), { ...gamma, description: 'NAS and backups' });
    expect(twice).toContain('## gamma (member)\n\nNAS and backups\n\n```yaml ois-agent');
    expect(twice).not.toContain('NAS assistant');
    // A paragraph a human wrote under the heading stays as it is; only the block changes.
    const edited = once.replace('\nNAS assistant\n', '\nNAS assistant\nin the basement, on the UPS.\n');
    const after = upsertAgentText(edited, parseRegistry(edited), {
      ...gamma,
      description: 'NAS and backups',
    });
    expect(after).toContain('## gamma (member)\n\nNAS assistant\nin the basement, on the UPS.\n\n```yaml');
    expect(parseRegistry(after).agents.find((a) => a.name === 'gamma')?.description).toBe('NAS and backups');
    // An empty description takes the line (and its blank line) away.
    const cleared = upsertAgentText(once, parseRegistry(once), { ...gamma, description: '' });
    expect(cleared).toContain('## gamma (member)\n\n```yaml ois-agent');
  });

  it('registry - joining as an OIS-form agent adds a block to its section and keeps the bullets', () => {
    const after = upsertAgentText(fixture, parseRegistry(fixture), { ...gamma, name: 'Nova' });
    const { removed } = removedAndAdded(fixture, after);
    expect(removed).toBe('');
    const nova = parseRegistry(after).agents.find((a) => a.name === 'Nova')!;
    expect(nova.form).toBe('canonical');
    expect(after).toContain('- ZeroTier IP: `10.147.17.32`');
  });

  it('registry - CRLF files stay CRLF', () => {
    const crlf = '# Team\r\n\r\n## a (admin)\r\n\r\n```yaml ois-agent\r\nname: a\r\nrole: admin\r\n```\r\n';
    const after = upsertAgentText(crlf, parseRegistry(crlf), { ...gamma, name: 'a', role: 'admin' });
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
    expect(parseRegistry(after).agents[0]!.description).toBe('NAS assistant');
  });

  it('registry - team settings are added after the title, then replaced in place', () => {
    const added = setTeamSettingsText(fixture, parseRegistry(fixture), {
      zerotier: { network: '8056c2e21c000001' },
    });
    const first = removedAndAdded(fixture, added);
    expect(first.removed).toBe('');
    expect(first.added).toBe('```yaml ois-team\nzerotier: {network: 8056c2e21c000001}\n```\n');
    expect(added.indexOf('ois-team')).toBeLessThan(added.indexOf('## 小龙'));
    const changed = setTeamSettingsText(added, parseRegistry(added), {
      zerotier: { network: 'abcdef0123456789' },
    });
    expect(removedAndAdded(added, changed)).toEqual({
      removed: 'zerotier: {network: 8056c2e21c000001}',
      added: 'zerotier: {network: abcdef0123456789}',
    });
    expect(parseRegistry(changed).team).toEqual({ zerotier: { network: 'abcdef0123456789' } });
    expect(() => parseRegistry(changed.replace('abcdef0123456789', 'nope'))).toThrow(
      /must be a 16-hex-digit network id/,
    );
  });

  it('registry - redaction replaces only the token values', () => {
    const after = redactTokensText(fixture, parseRegistry(fixture));
    const { removed, added } = removedAndAdded(fixture, after);
    expect(removed).toBe('- Gateway Token: `c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00`');
    expect(added).toBe('- Gateway Token: `<configured-in-private-deployment>`');
    expect(parseRegistry(after).warnings.filter((w) => w.code === 'plaintext-token')).toEqual([]);
  });
});

describe('registry - ois join and secrets import through the command', () => {
  it('registry - joining twice updates instead of duplicating', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const team = join(dir, 'team');
    expect((await runOis(['--home', home, 'init', '--name', 'alpha', '--team', team])).code).toBe(0);
    expect((await runOis(['--home', home, 'join', '--description', 'first'])).stdout).toMatch(
      /^founded the team in .*: alpha is its owner/,
    );
    const r = await runOis(['--home', home, 'join', '--capabilities', 'a, b', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({
      action: 'updated',
      agent: { role: 'owner', status: 'active', description: 'first', capabilities: ['a', 'b'] },
    });
    // Roles come from admins once the team has an owner.
    const role = await runOis(['--home', home, 'join', '--role', 'admin']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('ois members promote alpha');
    const text = await readFile(join(team, 'AGENTS.md'), 'utf8');
    expect(text.match(/name: alpha/g)).toHaveLength(1);
  });

  it('registry - 6 instances joining at once all end up in AGENTS.md, which stays valid', async () => {
    const dir = await tempDir();
    const team = join(dir, 'team');
    const names = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
    for (const n of names) await runOis(['--home', join(dir, n), 'init', '--name', n, '--team', team]);
    await Promise.all(
      names.map(
        (n) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [OIS_BIN, '--home', join(dir, n), 'join'], {
              env: { PATH: process.env.PATH, HOME: dir },
            });
            child.on('close', (code) =>
              code === 0 ? resolve() : reject(new Error(`join ${n} exited ${code}`)),
            );
          }),
      ),
    );
    const registry = parseRegistry(await readFile(join(team, 'AGENTS.md'), 'utf8'));
    expect(registry.agents.map((a) => a.name).sort()).toEqual(names);
    // One of them founded the team; the five others wait for its approval, each with one request.
    expect(registry.agents.filter((a) => a.role === 'owner' && a.status === 'active')).toHaveLength(1);
    expect(registry.agents.filter((a) => a.status === 'pending')).toHaveLength(5);
    const records = (await readFile(join(team, 'members', 'records.jsonl'), 'utf8')).trim().split('\n');
    expect(records.map((l) => JSON.parse(l).op).sort()).toEqual(['found', ...Array(5).fill('request')]);
  });

  it('registry - secrets import moves plaintext tokens into the instance and --redact removes them', async () => {
    const dir = await tempDir();
    const team = join(dir, 'team');
    const home = join(dir, 'home');
    await runOis(['--home', home, 'init', '--name', 'gamma', '--team', team]);
    await writeFile(join(team, 'AGENTS.md'), fixture);
    const warned = await runOis(['--home', home, 'agents']);
    expect(warned.stderr).toContain('the entry of Nova holds a plaintext gateway token');
    expect(warned.stderr + warned.stdout).not.toContain('c0ffee00');
    const r = await runOis(['--home', home, 'secrets', 'import', '--redact']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('imported the tokens of Nova');
    expect(await readFile(join(team, 'AGENTS.md'), 'utf8')).not.toContain('c0ffee00');
    expect(await readFile(join(home, 'secrets.yaml'), 'utf8')).toContain(
      'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00',
    );
    const after = await runOis(['--home', home, 'agents', 'show', 'nova', '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ name: 'Nova', token: 'secrets', plaintextToken: false });
    expect(after.stderr).toBe('');
  });

  it('registry - a failed edit leaves AGENTS.md as it was', async () => {
    const dir = await tempDir();
    const team = join(dir, 'team');
    const home = join(dir, 'home');
    await runOis(['--home', home, 'init', '--name', 'alpha', '--team', team]);
    const broken = '# T\n\n## x (admin)\n```yaml ois-agent\nname: x\nrole: chief\n```\n';
    await writeFile(join(team, 'AGENTS.md'), broken);
    const r = await runOis(['--home', home, 'join']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('OIS_ERR_REGISTRY_INVALID');
    expect(await readFile(join(team, 'AGENTS.md'), 'utf8')).toBe(broken);
  });
});
