import { access, constants, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type ConfigFileValues,
  DEFAULT_GATEWAY_URL,
  DEFAULT_SESSION_KEY,
  formatNatsLocation,
  type InstanceConfig,
  isHttpUrl,
  isNatsLocation,
  parseNatsLocation,
  writeConfigFile,
} from '../../config/index.js';
import { OisError, storageError } from '../../errors.js';
import { ensureIdentity } from '../../federation/index.js';
import { editRegistry, setTeamSettingsText, validateAgentName } from '../../registry/index.js';
import { FsTeamStore, TEAM_PATHS, type TeamStore } from '../../team/index.js';
import type { Command } from '../command.js';

const REGISTRY_TEMPLATE = `# Team registry

Who is in this team and how to reach them. Add yourself with \`ois join\`; the format is in OIS's
specs/registry.md. Never put a gateway token in this file.
`;

export const command: Command = {
  spec: {
    name: 'init',
    summary: "Set up this instance's home: name, team folder (or NATS team), gateway",
    usage: [
      'init --name NAME --team DIR [--gateway URL] [--session-key KEY] [--zerotier-network ID]',
      'init --name NAME --team nats://HOST:4222[,HOST:4222...]/TEAM [--nkey FILE | --creds FILE] [--tls-ca FILE] [--replicas N]',
    ],
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
      nkey: {
        type: 'string',
        value: 'FILE',
        description: "A team on NATS: this agent's NATS user seed file (from ois nats config)",
      },
      creds: {
        type: 'string',
        value: 'FILE',
        description: 'A team on NATS: a NATS credentials file (operator mode servers)',
      },
      'tls-ca': {
        type: 'string',
        value: 'FILE',
        description: "A team on NATS: the CA of the servers' TLS certificates",
      },
      replicas: {
        type: 'string',
        value: 'N',
        description:
          'A team on NATS: replicas of what this instance creates (3 on a three-node cluster; default 1)',
      },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois init --name alpha --team /mnt/nas/team --gateway http://10.147.17.5:18789',
      'ois --home ~/.ois-beta init --name beta --team /tmp/team --gateway http://127.0.0.1:18909',
      'ois init --name alpha --team nats://10.147.17.2:4222,10.147.17.3:4222,10.147.17.4:4222/home-lab --nkey ~/alpha.nk --replicas 3',
    ],
  },
  async run(ctx) {
    const { values } = ctx.args;
    const existing = ctx.config();
    const name = (values.name as string | undefined) ?? existing.name ?? undefined;
    const teamFlag = values.team as string | undefined;
    const team = teamFlag
      ? isNatsLocation(teamFlag)
        ? formatNatsLocation(parseNatsLocation(teamFlag))
        : resolve(ctx.io.cwd, teamFlag)
      : existing.team;
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
    const onNats = isNatsLocation(team);
    const nats = onNats ? await natsSettings(ctx.io.cwd, values, existing) : undefined;
    const config: InstanceConfig = {
      ...existing,
      name,
      team,
      nats: { nkey: null, creds: null, tlsCa: null, replicas: 1, ...nats },
    };
    let store: TeamStore | undefined;
    let created: boolean;
    try {
      if (onNats) {
        // Connects now: a server that is down or refuses the credentials is said here, not at the first send.
        store = (await import('../../nats/index.js')).openNatsTeamStore(config);
        created = await ensureRegistry(store);
      } else {
        created = await ensureTeamFolder(team);
        store = new FsTeamStore(team);
      }
      if (networkId !== undefined) {
        await editRegistry(store, (text, reg) =>
          setTeamSettingsText(text, reg, { ...(reg.team ?? {}), zerotier: { network: networkId } }),
        );
      }
    } finally {
      await store?.close?.();
    }
    const settings: ConfigFileValues = { name, team, gateway: { url: gatewayUrl, sessionKey } };
    if (nats !== undefined && Object.keys(nats).length > 0) settings.nats = nats;
    const file = await writeConfigFile(existing.home, settings);
    const { identity, created: keyCreated } = await ensureIdentity(existing.home);
    if (ctx.json) {
      ctx.printJson({
        ok: true,
        home: existing.home,
        config: file,
        name,
        team,
        createdTeamFolder: created,
        backend: onNats ? 'nats' : 'folder',
        gateway: { url: gatewayUrl, sessionKey },
      });
      return;
    }
    ctx.print(`${existing.initialised ? 'updated' : 'wrote'} ${file}`);
    ctx.print(`  name     ${name}`);
    ctx.print(`  team     ${team}${created ? ' (created)' : ''}${onNats ? ' (NATS JetStream)' : ''}`);
    ctx.print(`  gateway  ${gatewayUrl} (session ${sessionKey})`);
    ctx.print(`  key      ${identity.publicKey}${keyCreated ? ' (new)' : ''}`);
    if (networkId !== undefined) ctx.print(`  network  ${networkId} (ZeroTier, recorded in AGENTS.md)`);
    ctx.print('next: ois join --description "what this agent does"');
  },
};

/** The `nats.*` settings from the flags (files checked readable, by absolute path), else the current ones. */
async function natsSettings(
  cwd: string,
  values: Record<string, unknown>,
  existing: InstanceConfig,
): Promise<NonNullable<ConfigFileValues['nats']>> {
  const file = async (flag: string, current: string | null): Promise<string | undefined> => {
    const given = values[flag] as string | undefined;
    if (given === undefined) return current ?? undefined;
    const path = resolve(cwd, given);
    try {
      await access(path, constants.R_OK);
    } catch {
      throw new OisError('OIS_ERR_USAGE', `--${flag} ${path} cannot be read`, {
        hint: flag === 'nkey' ? 'give the seed file ois nats config wrote for this agent' : 'check the path',
      });
    }
    return path;
  };
  const out: NonNullable<ConfigFileValues['nats']> = {};
  const nkey = await file('nkey', existing.nats.nkey);
  const creds = await file('creds', existing.nats.creds);
  const tlsCa = await file('tls-ca', existing.nats.tlsCa);
  if (values.nkey !== undefined && values.creds !== undefined) {
    throw new OisError('OIS_ERR_USAGE', '--nkey and --creds are two ways to log in: give one', {
      hint: 'ois nats config writes nkey seed files (--nkey); --creds is for operator-mode servers',
    });
  }
  if (nkey !== undefined && values.creds === undefined) out.nkey = nkey;
  if (creds !== undefined && values.nkey === undefined) out.creds = creds;
  if (tlsCa !== undefined) out.tlsCa = tlsCa;
  const replicas = values.replicas === undefined ? existing.nats.replicas : Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new OisError('OIS_ERR_USAGE', `--replicas ${String(values.replicas)} is not 1 to 5`, {
      hint: '1 on one server, 3 on a three-node cluster',
    });
  }
  if (replicas !== 1) out.replicas = replicas;
  return out;
}

/** Creates AGENTS.md in a team store where it is missing (under its lock); returns whether it did. */
async function ensureRegistry(store: TeamStore): Promise<boolean> {
  return store.withLock(TEAM_PATHS.registry, async () => {
    if ((await store.read(TEAM_PATHS.registry)) !== null) return false;
    await store.writeAtomic(TEAM_PATHS.registry, REGISTRY_TEMPLATE);
    return true;
  });
}

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
