import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { runDoctor } from '../src/doctor/index.js';
import { OisError } from '../src/errors.js';
import { tempDir } from './helpers/cli.js';

/** Nothing listens on port 9 of loopback: a gateway there is refused at once. */
const REFUSED = 'http://127.0.0.1:9';

const REGISTRY = `# Team

## alpha (admin)

\`\`\`yaml ois-agent
name: alpha
role: admin
status: active
gateway: { url: "${REFUSED}", sessionKey: "agent:main:main" }
\`\`\`

## beta (member)

\`\`\`yaml ois-agent
name: beta
role: member
status: active
gateway: { url: "${REFUSED}", sessionKey: "agent:main:main" }
\`\`\`

## gamma (member)

\`\`\`yaml ois-agent
name: gamma
role: member
status: disabled
gateway: { url: "${REFUSED}", sessionKey: "agent:main:main" }
\`\`\`
`;

/** alpha, not initialised (no config.yaml), with a team folder whose AGENTS.md lists beta and gamma. */
async function alpha() {
  const team = await tempDir('ois-doctor-team-');
  await writeFile(join(team, 'AGENTS.md'), REGISTRY);
  const home = await tempDir('ois-doctor-home-');
  const env = { OIS_HOME: home, OIS_NAME: 'alpha', OIS_TEAM: team, OIS_GATEWAY_URL: REFUSED };
  return { env, loadConfig: () => loadConfig({ env, cwd: home }) };
}

describe('doctor - runDoctor', () => {
  it('doctor - a config that cannot be read is the one check, and its code decides the exit code', async () => {
    const report = await runDoctor({
      loadConfig: () => {
        throw new OisError('OIS_ERR_CONFIG_INVALID', 'serve.port: not a port', { hint: 'fix config.yaml' });
      },
      env: {},
      peers: [],
      timeoutMs: 1000,
    });
    expect(report).toEqual({
      checks: [
        {
          subject: 'this instance',
          name: 'config',
          status: 'fail',
          detail: 'serve.port: not a port',
          fix: 'fix config.yaml',
          code: 'OIS_ERR_CONFIG_INVALID',
        },
      ],
      failure: report.checks[0],
      exitCode: 3,
    });
  });

  it('doctor - instance, own gateway, then each peer, then ZeroTier; the first failure decides', async () => {
    const { env, loadConfig } = await alpha();
    const { checks, failure, exitCode } = await runDoctor({ loadConfig, env, peers: [], timeoutMs: 1000 });
    const subjects = [...new Set(checks.map((c) => c.subject))];
    expect(subjects).toEqual(['this instance', 'beta', 'gamma']);
    // ZeroTier last (the team has no network: one skip).
    expect(checks.at(-1)).toMatchObject({ subject: 'this instance', name: 'zerotier', status: 'skip' });
    expect(checks.slice(0, 2).map((c) => c.name)).toEqual(['config', 'team folder']);
    // This instance's gateway, checked as a peer's is but for the clock, between its own checks and the peers'.
    const firstOwn = checks.findIndex((c) => c.name === 'own address');
    const firstPeer = checks.findIndex((c) => c.subject === 'beta');
    expect(firstOwn).toBeGreaterThan(1);
    const beta = checks.filter((c) => c.subject === 'beta').map((c) => c.name);
    expect(checks.slice(firstOwn, firstPeer).map((c) => c.name)).toEqual(
      beta.filter((n) => n !== 'clock').map((n) => `own ${n}`),
    );
    expect(checks.find((c) => c.subject === 'beta' && c.name === 'gateway up')).toMatchObject({
      status: 'fail',
      code: 'OIS_ERR_PEER_UNREACHABLE',
    });
    expect(checks.filter((c) => c.subject === 'gamma')).toEqual([
      {
        subject: 'gamma',
        name: 'status',
        status: 'skip',
        detail: 'disabled in AGENTS.md: receives no messages',
      },
    ]);
    // No config.yaml (exit 3) comes before beta being down (exit 4).
    expect(failure).toMatchObject({
      subject: 'this instance',
      name: 'config',
      code: 'OIS_ERR_CONFIG_MISSING',
    });
    expect(exitCode).toBe(3);
  });

  it('doctor - only the peers asked for; an unknown name is an error, not a check', async () => {
    const { env, loadConfig } = await alpha();
    const { checks } = await runDoctor({ loadConfig, env, peers: ['gamma'], timeoutMs: 1000 });
    expect(checks.some((c) => c.subject === 'beta')).toBe(false);
    expect(checks.some((c) => c.subject === 'gamma')).toBe(true);
    await expect(runDoctor({ loadConfig, env, peers: ['betta'], timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'OIS_ERR_AGENT_UNKNOWN',
      hint: 'did you mean beta?',
    });
  });
});
