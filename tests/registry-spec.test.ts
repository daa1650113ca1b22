import { describe, expect, it } from 'vitest';
import { isOisError } from '../src/errors.js';
import { parseRegistry } from '../src/registry/index.js';
import { specBlocks } from './helpers/spec-blocks.js';

const examples = specBlocks('registry.md', 'registry-example');
const expected = specBlocks('registry.md', 'registry-expected');
const invalid = specBlocks('registry.md', 'registry-invalid');

describe('registry - examples of specs/registry.md', () => {
  it('has examples to check', () => {
    expect([...examples.keys()].sort()).toEqual(['canonical', 'ois-team', 'ois-template']);
    expect(invalid.size).toBeGreaterThanOrEqual(2);
  });

  for (const [name, text] of examples) {
    it(`registry - parses the "${name}" example as documented`, () => {
      const registry = parseRegistry(text, 'AGENTS.md');
      expect(registry.agents).toEqual(JSON.parse(expected.get(name)!));
    });
  }

  it('registry - the OIS team example warns about its plaintext token without showing it', () => {
    const registry = parseRegistry(examples.get('ois-team')!, 'AGENTS.md');
    const warning = registry.warnings.find((w) => w.code === 'plaintext-token');
    expect(warning?.message).toMatch(/AGENTS\.md:14: the entry of 小龙 holds a plaintext gateway token/);
    expect(JSON.stringify(registry.warnings)).not.toContain('9f2c4e7a');
    expect(JSON.stringify(registry.agents)).not.toContain('9f2c4e7a');
  });

  it('registry - the OIS template placeholder address gives an agent without gateway and a warning', () => {
    const registry = parseRegistry(examples.get('ois-template')!, 'AGENTS.md');
    expect(registry.warnings.map((w) => w.code)).toEqual(['ois-address']);
  });

  it("registry - the team settings example: the network id and the agent's node are read", () => {
    const registry = parseRegistry(specBlocks('registry.md', 'registry-team').get('zerotier')!, 'AGENTS.md');
    expect(registry.team).toEqual({ zerotier: { network: '8056c2e21c000001' } });
    expect(registry.agents[0]!.extra).toEqual({ zerotier: { nodeId: '89e92ceee5', ip: '10.147.17.5' } });
  });

  it('registry - a duplicate name is an error naming both lines', () => {
    try {
      parseRegistry(invalid.get('duplicate')!, '/team/AGENTS.md');
      expect.unreachable();
    } catch (err) {
      expect(isOisError(err, 'OIS_ERR_REGISTRY_INVALID')).toBe(true);
      expect((err as Error).message).toContain(
        '/team/AGENTS.md:8: duplicate agent name "Beta" (first at line 1)',
      );
    }
  });

  it('registry - an unknown role and a bad URL are reported together', () => {
    try {
      parseRegistry(invalid.get('bad-role')!, 'AGENTS.md');
      expect.unreachable();
    } catch (err) {
      expect(isOisError(err, 'OIS_ERR_REGISTRY_INVALID')).toBe(true);
      const message = (err as Error).message;
      expect(message).toContain('AGENTS.md:3: unknown role "boss" for gamma (use owner or admin or member)');
      expect(message).toContain('gateway.url "ftp://10.0.0.1" is not an http(s) URL');
    }
  });
});
