import { describe } from 'vitest';
import { NATS_SERVER } from './nats-server.js';

export * from './nats-server.js';

/**
 * `describe` when nats-server is on PATH; otherwise the suite is skipped and says so on the console (a
 * skipped suite nobody notices is a suite that silently stopped testing).
 */
export function describeNats(name: string, fn: () => void): void {
  if (NATS_SERVER) {
    describe(name, fn);
    return;
  }
  console.warn(
    `SKIPPED "${name}": nats-server is not on PATH (apt-get install nats-server; .ci/run does it as root)`,
  );
  describe.skip(name, fn);
}

let teams = 0;
/** A team name no other test uses on the same servers. */
export function uniqueTeam(prefix = 't'): string {
  return `${prefix}${process.pid}-${++teams}-${Math.random().toString(36).slice(2, 8)}`;
}
