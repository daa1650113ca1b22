import { afterEach, describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../src/transport/index.js';
import { CentralClient, centralUrl, DEFAULT_CENTRAL_URL, parseReset } from '../src/zerotier/index.js';
import { caught } from './helpers/errors.js';
import { centralMember, type FakeCentral, rateLimited, startFakeCentral } from './helpers/zerotier-fakes.js';

const TOKEN = 'central-api-token-abcdef0123456789';
const NET = '8056c2e21c000001';

let fake: FakeCentral | undefined;
let client: CentralClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  if (fake) expect(fake.violations).toEqual([]);
  await fake?.close();
  fake = undefined;
});

async function setup(members: Record<string, Record<string, unknown>> = {}, token = TOKEN) {
  fake = await startFakeCentral({
    token: TOKEN,
    networks: { [NET]: { name: 'ois-team', members: members as never } },
  });
  client = new CentralClient({ token, env: { ZEROTIER_CENTRAL_URL: fake.url }, retryDelayMs: 20 });
  return { fake, client };
}

describe('zerotier - Central API client', () => {
  it('zerotier - the base URL is configurable; ZEROTIER_CENTRAL_URL overrides the default', () => {
    expect(centralUrl({})).toBe(DEFAULT_CENTRAL_URL);
    expect(centralUrl({ ZEROTIER_CENTRAL_URL: 'http://127.0.0.1:1/api/v1/' })).toBe(
      'http://127.0.0.1:1/api/v1',
    );
    expect(centralUrl({ ZEROTIER_CENTRAL_URL: 'http://a' }, 'http://b')).toBe('http://b');
  });

  it('zerotier - members are listed with presence from lastSeen within 180 s and every IP', async () => {
    const now = Date.now();
    const { fake, client } = await setup({
      '89e92ceee5': centralMember(NET, '89e92ceee5', {
        name: 'beta',
        lastSeen: now - 20_000,
        config: { authorized: true, ipAssignments: ['10.147.17.9', '10.147.18.9', 'fd80::9'] },
      }),
      '0011223344': centralMember(NET, '0011223344', { lastSeen: now - 600_000 }),
      a1a1a1a1a1: centralMember(NET, 'a1a1a1a1a1', { lastSeen: 0 }),
    });
    const members = await client.members(NET);
    expect(members).toEqual([
      expect.objectContaining({
        nodeId: '89e92ceee5',
        name: 'beta',
        authorized: true,
        online: true,
        ipAssignments: ['10.147.17.9', '10.147.18.9', 'fd80::9'],
      }),
      expect.objectContaining({ nodeId: '0011223344', authorized: false, online: false, name: null }),
      // lastSeen 0 means "reset", not 1970: unknown.
      expect.objectContaining({ nodeId: 'a1a1a1a1a1', lastSeen: null, online: null }),
    ]);
    expect(fake.requests[0]!.headers.authorization).toBe(`token ${TOKEN}`);
  });

  it('zerotier - a member whose fields are all null is read without error', async () => {
    const { client } = await setup({
      '5555555555': centralMember(NET, '5555555555', {
        id: null,
        networkId: null,
        name: null,
        description: null,
        config: null,
        lastSeen: null,
        lastOnline: null,
        physicalAddress: null,
        clientVersion: null,
        protocolVersion: null,
        supportsRulesEngine: null,
        hidden: null,
        clock: null,
        controllerId: null,
      }),
    });
    expect(await client.members(NET)).toEqual([
      {
        nodeId: '5555555555',
        name: null,
        description: null,
        authorized: false,
        ipAssignments: [],
        lastSeen: null,
        online: null,
        physicalAddress: null,
        clientVersion: null,
      },
    ]);
  });

  it('zerotier - a member not on the network is null; an unknown network is OIS_ERR_ZT_NOT_FOUND', async () => {
    const { client } = await setup();
    expect(await client.member(NET, '0123456789')).toBeNull();
    expect((await caught(client.members('1111111111111111'))).code).toBe('OIS_ERR_ZT_NOT_FOUND');
    expect(await client.network('1111111111111111')).toBeNull();
    expect(await client.network(NET)).toMatchObject({ id: NET, name: 'ois-team' });
    expect((await client.networks()).map((n) => n.id)).toEqual([NET]);
  });

  it('zerotier - authorising sends a partial body {name, description, config: {authorized}}', async () => {
    const { fake, client } = await setup({
      '89e92ceee5': centralMember(NET, '89e92ceee5', { config: { ipAssignments: ['10.147.17.9'] } }),
    });
    const m = await client.updateMember(NET, '89e92ceee5', {
      name: 'beta',
      description: 'OIS agent beta',
      authorized: true,
    });
    expect(m).toMatchObject({
      nodeId: '89e92ceee5',
      authorized: true,
      name: 'beta',
      ipAssignments: ['10.147.17.9'],
    });
    const post = fake.requests.at(-1)!;
    expect(post.method).toBe('POST');
    expect(post.body).toEqual({ name: 'beta', description: 'OIS agent beta', config: { authorized: true } });
    expect(fake.requests).toHaveLength(1);
  });

  it('zerotier - ipAssignments are read, modified and written whole', async () => {
    const { fake, client } = await setup({
      '89e92ceee5': centralMember(NET, '89e92ceee5', { config: { ipAssignments: ['10.147.17.9'] } }),
    });
    const m = await client.updateMember(NET, '89e92ceee5', {
      ipAssignments: (ips) => [...ips, '10.147.17.99'],
    });
    expect(m.ipAssignments).toEqual(['10.147.17.9', '10.147.17.99']);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST']);
    expect(fake.requests[1]!.body).toEqual({ config: { ipAssignments: ['10.147.17.9', '10.147.17.99'] } });
  });

  it('zerotier - 429 with rate-limit headers waits for the reset, then succeeds', async () => {
    const { fake, client } = await setup({ '89e92ceee5': centralMember(NET, '89e92ceee5') });
    const answer = rateLimited(1);
    fake.script.push(answer);
    const members = await client.members(NET);
    expect(members).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
    // The client waited for the window to reset (epoch seconds in X-Ratelimit-Reset) rather than hammering.
    expect(Date.now()).toBeGreaterThanOrEqual(Number(answer.headers!['x-ratelimit-reset']) * 1000);
  });

  it('zerotier - a request is held back while the window has no request left', async () => {
    const { fake, client } = await setup({ '89e92ceee5': centralMember(NET, '89e92ceee5') });
    const reset = Date.now() + 400;
    fake.script.push({
      status: 200,
      body: [],
      headers: {
        'x-ratelimit-limit': '20',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(reset),
      },
    });
    await client.members(NET);
    await client.members(NET);
    expect(fake.requests).toHaveLength(2);
    expect(Date.now()).toBeGreaterThanOrEqual(reset);
  });

  it('zerotier - 429 that lasts past the retries is OIS_ERR_ZT_RATE_LIMITED with the wait', async () => {
    const { fake, client } = await setup();
    for (let i = 0; i < 4; i++) fake.script.push({ ...rateLimited(0), headers: { 'retry-after': '0' } });
    const err = await caught(client.members(NET));
    expect(err.code).toBe('OIS_ERR_ZT_RATE_LIMITED');
    expect(fake.requests).toHaveLength(4);
  });

  it('zerotier - 401 is never retried (exactly one request) and never shows the token', async () => {
    const { fake, client } = await setup({}, 'a-wrong-central-token');
    const err = await caught(client.members(NET));
    expect(err.code).toBe('OIS_ERR_ZT_AUTH');
    expect(fake.requests).toHaveLength(1);
    expect(JSON.stringify(err.toJSON()) + err.message).not.toContain('a-wrong-central-token');
  });

  it('zerotier - 403 is never retried (exactly one request)', async () => {
    const { fake, client } = await setup();
    fake.script.push({ status: 403, body: { type: 'forbidden', message: 'no access to this network' } });
    const err = await caught(client.updateMember(NET, '89e92ceee5', { authorized: true }));
    expect(err.code).toBe('OIS_ERR_ZT_FORBIDDEN');
    expect(fake.requests).toHaveLength(1);
  });

  it('zerotier - a Central outage (500) is OIS_ERR_ZT_API naming the status', async () => {
    const { fake, client } = await setup();
    fake.script.push({ status: 500, body: { type: 'internal', message: 'database unavailable' } });
    const err = await caught(client.members(NET));
    expect(err.code).toBe('OIS_ERR_ZT_API');
    expect(err.message).toContain('500');
    expect(err.message).toContain('database unavailable');
  });

  it('zerotier - Central refusing connections is OIS_ERR_ZT_API after bounded retries', async () => {
    const { fake, client } = await setup();
    await fake.close();
    const err = await caught(client.members(NET));
    expect(err.code).toBe('OIS_ERR_ZT_API');
    expect(err.message).toContain('connection refused');
  });

  it('zerotier - unexpected JSON from Central is OIS_ERR_ZT_PROTOCOL', async () => {
    const { fake, client } = await setup();
    fake.script.push({ status: 200, body: { members: 'not a list' } });
    expect((await caught(client.members(NET))).code).toBe('OIS_ERR_ZT_PROTOCOL');
    expect(fake.violations.length).toBeGreaterThan(0);
    fake.violations.length = 0;
  });

  it('zerotier - rate-limit header values are read in seconds, epoch seconds or epoch ms', () => {
    const now = 1_700_000_000_000;
    expect(parseReset('2', now)).toBe(now + 2000);
    expect(parseReset('1700000005', now)).toBe(1_700_000_005_000);
    expect(parseReset('1700000005000', now)).toBe(1_700_000_005_000);
    expect(parseReset('soon', now)).toBeNull();
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
  });
});
