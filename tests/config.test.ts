import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isLoopbackHost,
  loadConfig,
  readSecrets,
  renderConfigDoc,
  renderConfigDocZh,
  resolveToken,
  tokenEnvName,
  untranslatedConfigKeys,
  updateSecret,
} from '../src/config/index.js';
import { isOisError, type OisError } from '../src/errors.js';
import { ROOT } from './helpers/spec-blocks.js';

async function home(config?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ois-config-'));
  if (config !== undefined) await writeFile(join(dir, 'config.yaml'), config);
  return dir;
}

describe('config - loading', () => {
  it('config - docs/config.md is generated from the declarations and current', async () => {
    expect(await readFile(join(ROOT, 'docs/config.md'), 'utf8')).toBe(renderConfigDoc());
  });

  it('config - docs/zh/config.md is generated from the same declarations and current', async () => {
    expect(await readFile(join(ROOT, 'docs/zh/config.md'), 'utf8')).toBe(renderConfigDocZh());
  });

  it('config - every setting has a Chinese description made from its current English one', () => {
    // A new or reworded setting fails here: add or update its entry in src/config/doc-zh.ts.
    expect(untranslatedConfigKeys()).toEqual([]);
  });

  it('config - defaults < file < environment < flags', async () => {
    const dir = await home(
      'name: alpha\nteam: /srv/team\ngateway:\n  url: http://10.0.0.5:18789/\nsend:\n  retries: 1\n',
    );
    const c = loadConfig({
      env: { OIS_HOME: dir, OIS_SEND_RETRIES: '5' },
      cwd: '/',
      flags: { team: '/other' },
    });
    expect(c.name).toBe('alpha');
    expect(c.gateway).toEqual({ url: 'http://10.0.0.5:18789', sessionKey: 'agent:main:main' });
    expect(c.send.retries).toBe(5);
    expect(c.team).toBe('/other');
    expect(c.teamSource).toBe('flag');
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("config - the daemon's default port is the gateway's + 11, so each instance keeps its own", async () => {
    const dir = await home('name: beta\ngateway:\n  url: http://127.0.0.1:19021\n');
    const derived = loadConfig({ env: { OIS_HOME: dir }, cwd: dir });
    expect(derived.serve).toMatchObject({
      port: 19032,
      portSource: 'derived',
      url: 'http://127.0.0.1:19032',
    });
    const defaults = loadConfig({ env: { OIS_HOME: await home() }, cwd: dir });
    expect(defaults.serve).toMatchObject({ port: 18800, portSource: 'derived' });
    const set = loadConfig({ env: { OIS_HOME: dir, OIS_SERVE_PORT: '18920' }, cwd: dir });
    expect(set.serve).toMatchObject({ port: 18920, portSource: 'configured', url: 'http://127.0.0.1:18920' });
  });

  it('config - isLoopbackHost is the one loopback check: localhost, 127/8 and ::1, nothing else', () => {
    for (const h of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.147.17.5', '127.example.com', '0.0.0.0', '::', 'localhost.evil'])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it('config - every problem is reported at once', async () => {
    const dir = await home('nmae: x\ngateway:\n  url: ftp://x\nsend:\n  retries: lots\n');
    try {
      loadConfig({ env: { OIS_HOME: dir, OIS_CONNECT_TIMEOUT_MS: '5' }, cwd: '/' });
      expect.unreachable();
    } catch (err) {
      expect(isOisError(err, 'OIS_ERR_CONFIG_INVALID')).toBe(true);
      const problems = (err as OisError).details?.problems as string[];
      expect(problems).toHaveLength(4);
      expect(problems.join('\n')).toMatch(/unknown key "nmae"/);
      expect(problems.join('\n')).toMatch(/OIS_CONNECT_TIMEOUT_MS: 5 is outside 100\.\.120000/);
    }
  });

  it('config - without a team setting, the nearest AGENTS.md above the working directory is the team', async () => {
    const dir = await home();
    const team = await mkdtemp(join(tmpdir(), 'ois-team-'));
    await writeFile(join(team, 'AGENTS.md'), '# Team\n');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(team, 'shared', 'deep'), { recursive: true });
    const c = loadConfig({ env: { OIS_HOME: dir }, cwd: join(team, 'shared', 'deep') });
    expect(c.team).toBe(team);
    expect(c.teamSource).toBe('discovered');
    expect(c.initialised).toBe(false);
  });
});

describe('config - secrets', () => {
  it('config - tokens are stored with mode 0600 and the environment wins', async () => {
    const dir = await home();
    await updateSecret(dir, 'Beta', 'tok-from-file-123');
    expect((await stat(join(dir, 'secrets.yaml'))).mode & 0o777).toBe(0o600);
    expect(await resolveToken(dir, {}, 'beta')).toMatchObject({
      token: 'tok-from-file-123',
      source: 'secrets',
    });
    expect(tokenEnvName('agent a.1')).toBe('OIS_TOKEN_AGENT_A_1');
    expect(await resolveToken(dir, { OIS_TOKEN_BETA: ' tok-env \n' }, 'beta')).toMatchObject({
      token: 'tok-env',
      source: 'env',
    });
    await updateSecret(dir, 'beta', null);
    expect(await resolveToken(dir, {}, 'beta')).toBeNull();
  });

  it('config - a secrets file others can read is refused, and its content never shows in errors', async () => {
    const dir = await home();
    await writeFile(join(dir, 'secrets.yaml'), 'tokens: {beta: "s3cr3t-value: [broken"\n', { mode: 0o644 });
    await expect(readSecrets(dir)).rejects.toMatchObject({
      code: 'OIS_ERR_SECRETS_INVALID',
      hint: expect.stringContaining('chmod 600'),
    });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'secrets.yaml'), 0o600);
    const err = await readSecrets(dir).catch((e: unknown) => e as OisError);
    expect((err as OisError).code).toBe('OIS_ERR_SECRETS_INVALID');
    expect(JSON.stringify((err as OisError).toJSON()) + (err as Error).message).not.toContain('s3cr3t');
  });
});

describe('config - ipVersion', () => {
  it('config - ipVersion agrees with node:net isIP', async () => {
    const { isIP } = await import('node:net');
    const { ipVersion } = await import('../src/config/index.js');
    for (const h of [
      '10.147.17.5',
      '255.255.255.255',
      '256.1.1.1',
      '1.2.3',
      '01.2.3.4',
      '::1',
      'fe80::1',
      '2001:db8::8a2e:370:7334',
      '::ffff:10.0.0.1',
      'localhost',
      'example.com',
      '',
      'gggg::1',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      expect(ipVersion(h), h).toBe(isIP(h));
    }
  });
});
