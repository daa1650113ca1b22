import { describe, expect, it } from 'vitest';
import { centralMember, zerotierSpecs } from './helpers/zerotier-fakes.js';

// The fakes are only as good as their check against the official specs: make sure that check can fail.
describe('zerotier - the fakes are checked against the official specs', () => {
  it('zerotier - a Central member with nullable fields passes, a wrongly typed one does not', () => {
    const { central } = zerotierSpecs();
    const ok = centralMember('8056c2e21c000001', '89e92ceee5', { name: null, config: null, lastSeen: null });
    expect(central.validate('GET', '/network/{networkID}/member', 200, [ok])).toEqual([]);
    const bad = { ...ok, lastSeen: 'yesterday', config: { authorized: 'yes' } };
    expect(central.validate('GET', '/network/{networkID}/member', 200, [bad]).length).toBeGreaterThan(0);
  });

  it('zerotier - the local service schemas reject a peer without paths and a member list as an array', () => {
    const { local, localSchema } = zerotierSpecs();
    expect(
      local.validate('GET', '/peer/{network_id}', 200, { address: '89e92ceee5' }).length,
    ).toBeGreaterThan(0);
    expect(localSchema.validate('Peer', { address: '89e92ceee5' }).length).toBeGreaterThan(0);
    expect(
      local.validate('GET', '/controller/network/{network_id}/member', 200, ['89e92ceee5']).length,
    ).toBeGreaterThan(0);
    expect(
      local.validate('GET', '/controller/network/{network_id}/member', 200, { '89e92ceee5': 3 }),
    ).toEqual([]);
  });

  it('zerotier - an operation the spec does not have is refused', () => {
    expect(() => zerotierSpecs().local.validate('GET', '/no/such/path', 200, {})).toThrow(/no GET/);
  });
});
