import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_GATEWAY_URL, DEFAULT_SESSION_KEY, isHttpUrl, writeConfigFile } from '../../config/index.js';
import { OisError, storageError } from '../../errors.js';
import { ensureIdentity } from '../../federation/index.js';
import { editRegistry, setTeamSettingsText, validateAgentName } from '../../registry/index.js';
import { FsTeamStore, TEAM_PATHS } from '../../team/index.js';
import type { Command } from '../command.js';

const REGISTRY_TEMPLATE = `# Team registry

Who is in this team and how to reach them. Add yourself with \`ois join\`; the format is in OIS's
specs/registry.md. Never put a gateway token in this file.
`;

export const command: Command = {
  spec: {
    name: 'init',
    summary: "Set up this instance's home: name, team folder, gateway",
    usage: ['init --name NAME --team DIR [--gateway URL] [--session-key KEY] [--zerotier-network ID]'],
    options: {
      name: {
        type: 'string',
        value: 'NAME',
        description: "This agent's name in the team (letters, digits, . _ -)",
      },
      gateway: {
        type: 'string',
        value: 'URL',
        description: `This instance's OpenClaw gateway as peers reach it (default ${DEFAULT_GATEWAY_URL})`,
      },
      'zerotier-network': {
        type: 'string',
        value: 'ID',
        description: "The team's ZeroTier network id (16 hex digits), recorded in AGENTS.md",
      },
      'session-key': {
        type: 'string',
        value: 'KEY',
        description: `The session peers' messages go into (default ${DEFAULT_SESSION_KEY})`,
      },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois init --name alpha --team /mnt/nas/team --gateway http://10.147.17.5:18789',
      'ois --home ~/.ois-beta init --name beta --team /tmp/team --gateway http://127.0.0.1:18909',
    ],
  },
  async run(ctx) {
    const { values } = ctx.args;
    const existing = ctx.config();
    const name = (values.name as string | undefined) ?? existing.name ?? undefined;
    const teamFlag = values.team as string | undefined;
    const team = teamFlag ? resolve(ctx.io.cwd, teamFlag) : existing.team;
    if (!name)
      throw new OisError('OIS_ERR_USAGE', 'missing --name', {
        hint: 'usage: ois init --name NAME --team DIR',
      });
    validateAgentName(name);
    if (!team)
      throw new OisError('OIS_ERR_USAGE', 'missing --team', {
        hint: 'usage: ois init --name NAME --team DIR',
      });
    const gatewayUrl = ((values.gateway as string | undefined) ?? existing.gateway.url).replace(/\/+$/, '');
    if (!isHttpUrl(gatewayUrl)) {
      throw new OisError('OIS_ERR_USAGE', `--gateway "${gatewayUrl}" is not an http(s) URL`, {
        hint: 'for example --gateway http://10.147.17.5:18789',
      });
    }
    const sessionKey = (values['session-key'] as string | undefined) ?? existing.gateway.sessionKey;
    if (!/^\S+$/.test(sessionKey)) {
      throw new OisError('OIS_ERR_USAGE', `--session-key "${sessionKey}" must not be empty or hold spaces`, {
        hint: 'for example --session-key agent:main:main',
      });
    }

    const networkFlag = values['zerotier-network'] as string | undefined;
    // The ZeroTier module is loaded only when the flag asks for it.
    const networkId =
      networkFlag === undefined
        ? undefined
        : (await import('../../zerotier/index.js')).parseNetworkId(networkFlag);
    const created = await ensureTeamFolder(team);
    if (networkId !== undefined) {
      await editRegistry(new FsTeamStore(team), (text, reg) =>
        setTeamSettingsText(text, reg, { ...(reg.team ?? {}), zerotier: { network: networkId } }),
      );
    }
    const file = await writeConfigFile(existing.home, {
      name,
      team,
      gateway: { url: gatewayUrl, sessionKey },
    });
    const { identity, created: keyCreated } = await ensureIdentity(existing.home);
    if (ctx.json) {
      ctx.printJson({
        ok: true,
        home: existing.home,
        config: file,
        name,
        team,
        createdTeamFolder: created,
        gateway: { url: gatewayUrl, sessionKey },
      });
      return;
    }
    ctx.print(`${existing.initialised ? 'updated' : 'wrote'} ${file}`);
    ctx.print(`  name     ${name}`);
    ctx.print(`  team     ${team}${created ? ' (created)' : ''}`);
    ctx.print(`  gateway  ${gatewayUrl} (session ${sessionKey})`);
    ctx.print(`  key      ${identity.publicKey}${keyCreated ? ' (new)' : ''}`);
    if (networkId !== undefined) ctx.print(`  network  ${networkId} (ZeroTier, recorded in AGENTS.md)`);
    ctx.print('next: ois join --description "what this agent does"');
  },
};

/** Creates the team folder layout where it is missing; returns whether AGENTS.md was created. */
async function ensureTeamFolder(team: string): Promise<boolean> {
  try {
    await mkdir(join(team, TEAM_PATHS.chat), { recursive: true });
    await mkdir(join(team, TEAM_PATHS.shared), { recursive: true });
  } catch (err) {
    throw storageError('create', team, err);
  }
  try {
    // 'wx': never replace a registry that appeared meanwhile.
    await writeFile(join(team, TEAM_PATHS.registry), REGISTRY_TEMPLATE, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw storageError('create', join(team, TEAM_PATHS.registry), err);
  }
}
