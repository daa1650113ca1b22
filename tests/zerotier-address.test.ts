import { describe, expect, it } from 'vitest';
import { type Agent, parseRegistry } from '../src/registry/index.js';
import {
  agentZerotier,
  currentAddress,
  type Member,
  matchMembers,
  resolveAddress,
} from '../src/zerotier/index.js';

const TEXT = `# Team registry

\`\`\`yaml ois-team
zerotier: {network: 8056c2e21c000001}
\`\`\`

## alpha (admin)

\`\`\`yaml ois-agent
name: alpha
role: admin
gateway: {url: 'http://10.147.17.5:18789', sessionKey: 'agent:main:main'}
zerotier: {nodeId: 89e92ceee5, ip: 10.147.17.5}
\`\`\`

## beta (member)

\`\`\`yaml ois-agent
name: beta
role: member
gateway: {url: 'http://beta.lan:18789', sessionKey: 'agent:main:main'}
zerotier: {nodeId: 0011223344, ip: 10.147.17.6}
\`\`\`

## gamma (member)

\`\`\`yaml ois-agent
name: gamma
role: member
\`\`\`
`;

const registry = parseRegistry(TEXT, 'AGENTS.md');
const agent = (name: string) => registry.agents.find((a) => a.name === name) as Agent;

function member(nodeId: string, ips: string[], extra: Partial<Member> = {}): Member {
  return {
    nodeId,
    name: null,
    description: null,
    authorized: true,
    ipAssignments: ips,
    lastSeen: null,
    online: null,
    physicalAddress: null,
    clientVersion: null,
    ...extra,
  };
}

describe('zerotier - address resolution', () => {
  it('zerotier - the registry entry carries zerotier: {nodeId, ip}', () => {
    expect(registry.team?.zerotier?.network).toBe('8056c2e21c000001');
    expect(agentZerotier(agent('alpha'))).toEqual({ nodeId: '89e92ceee5', ip: '10.147.17.5' });
    expect(agentZerotier(agent('gamma'))).toBeNull();
  });

  it('zerotier - an unchanged address is reported as such', () => {
    expect(
      currentAddress(agent('alpha'), member('89e92ceee5', ['10.147.17.5', '10.147.18.5'])),
    ).toMatchObject({
      changed: false,
      currentIp: '10.147.17.5',
      gatewayUrl: null,
    });
  });

  it('zerotier - a new assignment gives the new IP and the gateway URL with that host', () => {
    const r = currentAddress(agent('alpha'), member('89e92ceee5', ['fd80::5', '10.147.17.50']));
    expect(r).toEqual({
      agent: 'alpha',
      nodeId: '89e92ceee5',
      recordedIp: '10.147.17.5',
      currentIp: '10.147.17.50',
      changed: true,
      gatewayUrl: 'http://10.147.17.50:18789/',
    });
  });

  it('zerotier - a gateway addressed by host name keeps its URL; only the IP changes', () => {
    const r = resolveAddress(agent('beta'), [
      member('89e92ceee5', []),
      member('0011223344', ['10.147.17.66']),
    ]);
    expect(r).toMatchObject({ changed: true, currentIp: '10.147.17.66', gatewayUrl: null });
  });

  it('zerotier - no member, another node, or no node id resolves to null; no assignment is no change', () => {
    expect(resolveAddress(agent('alpha'), [member('0011223344', ['10.1.1.1'])])).toBeNull();
    expect(resolveAddress(agent('gamma'), [member('89e92ceee5', ['10.1.1.1'])])).toBeNull();
    expect(currentAddress(agent('alpha'), member('0011223344', ['10.1.1.1']))).toBeNull();
    expect(currentAddress(agent('alpha'), member('89e92ceee5', []))).toMatchObject({
      changed: false,
      currentIp: null,
    });
  });

  it('zerotier - members are matched to agents by node id; strays on both sides are flagged', () => {
    const roster = matchMembers(registry.agents, [
      member('89e92ceee5', ['10.147.17.50']),
      member('abcdefabcd', ['10.147.17.77'], { authorized: false, name: 'laptop' }),
    ]);
    expect(roster.map((e) => [e.agent, e.nodeId, e.flags])).toEqual([
      ['alpha', '89e92ceee5', ['address-changed']],
      [null, 'abcdefabcd', ['no-agent', 'not-authorized']],
      ['beta', '0011223344', ['no-member']],
      ['gamma', null, ['no-node-id']],
    ]);
  });
});
