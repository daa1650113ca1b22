import { type InstanceConfig, parseNatsLocation } from '../config/index.js';
import { connectNatsTeam, type NatsTeam } from './connection.js';
import { NatsTeamStore } from './store.js';

/** The connection options of an instance whose team is on NATS (`team: nats://…`, the `nats.*` settings). */
export function natsOptions(config: InstanceConfig) {
  const { servers, team } = parseNatsLocation(config.team ?? '');
  return {
    servers,
    team,
    replicas: config.nats.replicas,
    ...(config.name ? { name: config.name } : {}),
  };
}

/** Connects an instance to its team on NATS. */
export function connectInstance(config: InstanceConfig): Promise<NatsTeam> {
  return connectNatsTeam(natsOptions(config));
}

/** The team store of an instance whose team is on NATS; connected on first use. */
export function openNatsTeamStore(config: InstanceConfig): NatsTeamStore {
  return new NatsTeamStore(config.team ?? '', () => connectInstance(config));
}
