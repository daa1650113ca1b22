import { OisError } from '../errors.js';

/** A team name on NATS: it becomes part of every subject and stream name (specs/nats.md). */
export const NATS_TEAM_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Where a team on NATS is: its servers (the client fails over between them) and its name. */
export interface NatsLocation {
  /** `nats://host:4222` or `tls://host:4222`, one per server. */
  servers: string[];
  team: string;
}

/** True when a `team` setting names a NATS team (`nats://…` or `tls://…`) rather than a folder. */
export function isNatsLocation(team: string): boolean {
  return /^(nats|tls):\/\//i.test(team);
}

/**
 * Reads `nats://HOST[:PORT][,HOST[:PORT]…]/TEAM` (or `tls://`); the port defaults to 4222. Credentials never
 * go into the URL (the setting is shown by commands and logs): they come from `nats.nkey` or `nats.creds`.
 * Throws `OIS_ERR_CONFIG_INVALID`.
 * @example parseNatsLocation('nats://10.0.0.5,10.0.0.6:4223/home-lab')
 *   // { servers: ['nats://10.0.0.5:4222', 'nats://10.0.0.6:4223'], team: 'home-lab' }
 */
export function parseNatsLocation(value: string): NatsLocation {
  const invalid = (
    why: string,
    hint = 'write it as nats://HOST:4222/TEAM, several servers as nats://A:4222,B:4222,C:4222/TEAM',
  ) => new OisError('OIS_ERR_CONFIG_INVALID', `not a NATS team: ${why}`, { hint });
  const match = /^(nats|tls):\/\/([^/]*)\/([^/?#]*)\/?$/i.exec(value.trim());
  if (!match) throw invalid('expected nats://HOST:4222/TEAM');
  const scheme = match[1]!.toLowerCase();
  const hosts = match[2]!;
  const team = decodeURIComponent(match[3]!);
  if (hosts.includes('@')) {
    throw invalid(
      'the URL holds credentials',
      'keep them out of the URL: pass --nkey FILE or --creds FILE to ois init',
    );
  }
  if (!NATS_TEAM_NAME.test(team)) {
    throw invalid(
      `${JSON.stringify(team)} is not a team name for NATS`,
      'use 1-64 lower-case letters, digits, - or _, starting with a letter or digit (e.g. home-lab)',
    );
  }
  const servers = hosts.split(',').map((part) => {
    const h = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(part.trim());
    const port = h?.[2] === undefined ? 4222 : Number(h[2]);
    if (!h || port < 1 || port > 65_535) throw invalid(`${JSON.stringify(part)} is not HOST or HOST:PORT`);
    return `${scheme}://${h[1]}:${port}`;
  });
  return { servers, team };
}

/** The setting's canonical form: `nats://a:4222,b:4222/team`. */
export function formatNatsLocation(location: NatsLocation): string {
  const scheme = location.servers[0]!.slice(0, location.servers[0]!.indexOf('://'));
  const hosts = location.servers.map((s) => s.slice(s.indexOf('://') + 3));
  return `${scheme}://${hosts.join(',')}/${location.team}`;
}
