import { type InstanceConfig, parseNatsLocation } from '../config/index.js';
import { connectNatsTeam, type NatsTeam, type NatsTeamOptions } from './connection.js';
import { NatsTeamStore } from './store.js';

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

/** Connects an instance to its team on NATS (`overrides`: shorter timeouts for the doctor). */
export function connectInstance(
  config: InstanceConfig,
  overrides: Partial<NatsTeamOptions> = {},
): Promise<NatsTeam> {
  return connectNatsTeam({ ...natsOptions(config), ...overrides });
}

/** The team store of an instance whose team is on NATS; connected on first use. */
export function openNatsTeamStore(config: InstanceConfig): NatsTeamStore {
  return new NatsTeamStore(config.team ?? '', () => connectInstance(config));
}
