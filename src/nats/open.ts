import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type InstanceConfig, parseNatsLocation } from '../config/index.js';
import { connectNatsTeam, type NatsTeam, type NatsTeamOptions } from './connection.js';
import { NatsTeamStore } from './store.js';

/** Where an instance keeps its copy of the team's registry and membership records (specs/nats.md). */
export const NATS_CACHE_DIR = 'nats-cache';

/** The connection options of an instance whose team is on NATS (`team: nats://…`, the `nats.*` settings). */
export function natsOptions(config: InstanceConfig) {
  const { servers, team } = parseNatsLocation(config.team ?? '');
  const { nkey, creds, tlsCa } = config.nats;
  const auth = {
    ...(nkey ? { nkeyFile: nkey } : {}),
    ...(creds ? { credsFile: creds } : {}),
    ...(tlsCa ? { tlsCaFile: tlsCa } : {}),
  };
  return {
    servers,
    team,
    replicas: config.nats.replicas,
    ...(config.name ? { name: config.name } : {}),
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
  };
}

/**
 * The copy of one team in an instance's home: per team and servers (`<team>-<hash of the URL>`), so that an
 * instance moved to another team never reads the previous one's registry while NATS is down.
 */
export function cacheDirOf(config: InstanceConfig): string {
  const { team } = parseNatsLocation(config.team ?? '');
  const digest = createHash('sha256')
    .update(config.team ?? '')
    .digest('hex')
    .slice(0, 12);
  return join(config.home, NATS_CACHE_DIR, `${team}-${digest}`);
}

/** Connects an instance to its team on NATS (`overrides`: shorter timeouts for the doctor). */
export function connectInstance(
  config: InstanceConfig,
  overrides: Partial<NatsTeamOptions> = {},
): Promise<NatsTeam> {
  return connectNatsTeam({ ...natsOptions(config), ...overrides });
}

/** The team store of an instance whose team is on NATS; connected on first use. */
export function openNatsTeamStore(config: InstanceConfig): NatsTeamStore {
  return new NatsTeamStore(
    config.team ?? '',
    () => connectInstance(config),
    {},
    {
      cacheDir: cacheDirOf(config),
    },
  );
}
