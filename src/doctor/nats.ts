import { setTimeout as sleep } from 'node:timers/promises';
import type { InstanceConfig } from '../config/index.js';
import { isOisError, OisError } from '../errors.js';
import { agentToken, connectInstance, type NatsTeam, NatsTeamStore } from '../nats/index.js';
import type { Check } from './types.js';

/** How long each NATS check may take: a doctor answers in seconds, not after the write deadline. */
const NATS_CHECK_MS = 3_000;
/** How long a refused publish takes to come back from the server (it is reported asynchronously). */
const VIOLATION_WAIT_MS = 300;

/**
 * Checks a team on NATS in place of the folder checks: the connection (servers, auth), JetStream, the
 * team's streams and buckets, what this agent may publish (as itself, and never as another), and the team
 * lock. Returns the store the other checks read the registry through (on the same connection), or null
 * when the team cannot be reached; `close` it when done.
 */
export async function checkNatsTeam(
  config: InstanceConfig,
  add: (c: Omit<Check, 'subject'>) => void,
): Promise<NatsTeamStore | null> {
  let team: NatsTeam;
  try {
    team = await connectInstance(
      { ...config },
      { connectTimeoutMs: NATS_CHECK_MS, writeDeadlineMs: NATS_CHECK_MS },
    );
  } catch (err) {
    add(
      failure(
        'NATS connection',
        err,
        'check that nats-server runs and the port is reachable (over ZeroTier)',
      ),
    );
    return null;
  }
  const info = team.nc.info;
  add({
    name: 'NATS connection',
    status: 'ok',
    detail: `${config.team} (${config.teamSource}): server ${info?.server_name ?? '?'}, nats-server ${info?.version ?? '?'}, max_payload ${info?.max_payload ?? '?'} bytes`,
  });
  try {
    const account = await team.jsm.getAccountInfo();
    add({
      name: 'JetStream',
      status: 'ok',
      detail: `${account.streams} streams, ${account.storage} bytes stored${account.api.errors > 0 ? `, ${account.api.errors} API errors so far` : ''}`,
    });
  } catch (err) {
    add(
      failure(
        'JetStream',
        err,
        'start nats-server with JetStream (-js, or a jetstream {} block)',
        'OIS_ERR_NATS_JETSTREAM',
      ),
    );
    await team.close();
    return null;
  }

  const { names } = team;
  const self = config.name === null ? null : agentToken(config.name);
  const streams: { name: string; what: string; missing: 'fail' | 'warn'; fix: string }[] = [
    { name: names.chatStream, what: 'chat log', missing: 'fail', fix: `ois init --team ${config.team}` },
    {
      name: `KV_${names.filesBucket}`,
      what: 'team files',
      missing: 'fail',
      fix: `ois init --team ${config.team}`,
    },
    {
      name: `OBJ_${names.blobsBucket}`,
      what: 'large files',
      missing: 'fail',
      fix: `ois init --team ${config.team}`,
    },
    ...(self === null
      ? []
      : [
          {
            name: names.inboxStream(self),
            what: 'own inbox',
            missing: 'warn' as const,
            fix: 'ois serve (the daemon creates its inbox stream)',
          },
        ]),
  ];
  const found: string[] = [];
  for (const s of streams) {
    try {
      const { config: c, state } = await team.jsm.streams.info(s.name);
      found.push(
        `${s.what} ${s.name} (${c.num_replicas} replica${c.num_replicas === 1 ? '' : 's'}, ${state.messages} messages)`,
      );
      if (c.num_replicas < config.nats.replicas) {
        add({
          name: 'team streams',
          status: 'warn',
          detail: `${s.name} has ${c.num_replicas} replicas; nats.replicas is ${config.nats.replicas}`,
          fix: `raise it on the server: nats stream edit ${s.name} --replicas ${config.nats.replicas}`,
        });
      }
    } catch (err) {
      add({
        name: 'team streams',
        status: s.missing,
        detail: `no ${s.what} stream ${s.name}: ${(err as Error).message}`,
        fix: s.fix,
        ...(s.missing === 'fail' ? { code: 'OIS_ERR_NATS_JETSTREAM' as const } : {}),
      });
    }
  }
  if (found.length > 0) add({ name: 'team streams', status: 'ok', detail: found.join('; ') });

  if (self !== null) add(await checkPublish(team, self));

  const store = NatsTeamStore.onTeam(team, { timeoutMs: NATS_CHECK_MS });
  try {
    await store.withLock('.ois-doctor', async () => {});
    add({ name: 'team lock', status: 'ok', detail: 'a lock key can be taken and released' });
  } catch (err) {
    add(failure('team lock', err, 'check the servers and that this user may write the team bucket'));
  }
  return store;
}

/**
 * What this agent may publish, without storing anything: core messages to an inbox subject that no stream
 * holds (a recipient named `doctor-probe`), once as itself and once as someone else. The server refuses a
 * publish it does not permit asynchronously, as a status of the connection.
 */
async function checkPublish(team: NatsTeam, self: string): Promise<Omit<Check, 'subject'>> {
  const refused: string[] = [];
  const watching = (async () => {
    for await (const s of team.nc.status()) {
      const text = `${(s as { error?: Error }).error?.message ?? ''} ${JSON.stringify(s)}`;
      if (/permissions? violation/i.test(text)) refused.push(text);
    }
  })().catch(() => {});
  const other = self === 'doctor-other' ? 'doctor-someone' : 'doctor-other';
  const asSelf = team.names.inboxSubject('doctor-probe', self);
  const asOther = team.names.inboxSubject('doctor-probe', other);
  try {
    team.nc.publish(asSelf, 'ois doctor');
    await team.nc.flush();
    await sleep(VIOLATION_WAIT_MS);
    const selfRefused = refused.some((r) => r.includes(asSelf));
    team.nc.publish(asOther, 'ois doctor');
    await team.nc.flush();
    await sleep(VIOLATION_WAIT_MS);
    const otherRefused = refused.some((r) => r.includes(asOther));
    if (selfRefused) {
      return {
        name: 'permissions',
        status: 'fail',
        detail: `the server refuses this agent's own subjects (${asSelf})`,
        fix: 'the server config gives this user other permissions: regenerate it with ois nats config',
        code: 'OIS_ERR_NATS_PERMISSION',
      };
    }
    if (!otherRefused) {
      return {
        name: 'permissions',
        status: 'warn',
        detail: `this agent may publish as another agent (${asOther}); signatures still protect every message, but anyone with these credentials can fill others' inboxes`,
        fix: 'give each agent its own NATS user: ois nats config (docs/scale.md)',
      };
    }
    return {
      name: 'permissions',
      status: 'ok',
      detail: 'publishes as itself only (publishing as another agent is refused)',
    };
  } finally {
    void watching;
  }
}

function failure(
  name: string,
  err: unknown,
  fix: string,
  code: Check['code'] = 'OIS_ERR_NATS_UNREACHABLE',
): Omit<Check, 'subject'> {
  const e = isOisError(err) ? err : new OisError(code!, String((err as Error)?.message ?? err));
  return { name, status: 'fail', detail: e.message, fix: e.hint ?? fix, code: e.code };
}
