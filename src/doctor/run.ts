import { type Env, type InstanceConfig, resolveOwnToken, resolveToken } from '../config/index.js';
import { ERROR_CODES, EXIT, type ExitCode } from '../errors.js';
import { type Agent, agentId, requireAgent } from '../registry/index.js';
import { checkInstance, SELF } from './instance.js';
import { checkGateway } from './peer.js';
import type { Check } from './types.js';
import { checkZerotier } from './zerotier.js';

export interface DoctorOptions {
  /** Reads this instance's config; what it throws is reported as the config check's failure. */
  loadConfig: () => InstanceConfig;
  env: Env;
  /** The peers to check, by name; empty: every other agent in AGENTS.md. An unknown name throws. */
  peers: string[];
  /** Per-request timeout of the gateway and ZeroTier probes. */
  timeoutMs: number;
}

export interface DoctorReport {
  /** In the order `ois doctor` prints them: this instance, its own gateway, each peer, ZeroTier. */
  checks: Check[];
  /** The first failed check, which decides the exit code; undefined when none failed. */
  failure: Check | undefined;
  /** 0, or the exit code of the first failure's error code. */
  exitCode: ExitCode;
}

/**
 * The checks of `ois doctor`, in order: this instance (config, team folder, AGENTS.md), its own gateway,
 * the peers' gateways (all at once), then ZeroTier, which comes last so that it sees whether each peer was
 * reached. Checks that cannot run without an earlier one (no config, no registry) are left out.
 * @example const { checks, exitCode } = await runDoctor({ loadConfig: () => config, env, peers: [], timeoutMs: 5000 })
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { env, timeoutMs } = options;
  const { checks, config, registry } = await checkInstance(options.loadConfig);

  if (config?.name && registry) {
    const me = registry.agents.find((a) => a.id === agentId(config.name!));
    const self: Agent = me ?? {
      name: config.name,
      id: agentId(config.name),
      role: 'member',
      status: 'active',
      description: '',
      capabilities: [],
      gateway: config.gateway,
      joined: null,
      extra: {},
      form: 'canonical',
      roleLabel: null,
      line: 0,
      plaintextToken: false,
    };
    const ownToken =
      (await resolveOwnToken(config.home, env, config.name, config.gateway.url).catch(() => null))?.token ??
      null;
    const own = await checkGateway({ ...self, gateway: config.gateway }, ownToken, {
      timeoutMs,
      subject: SELF,
    });
    for (const c of own) {
      c.name = `own ${c.name}`;
      // Our own token is optional: without it doctor cannot look at sessions_send, which is no failure.
      if (c.code === 'OIS_ERR_TOKEN_MISSING') {
        c.status = 'warn';
        c.detail =
          'no token for our own gateway: ois serve will not start, and sessions_send and the session key were not checked';
        c.fix = `ois secrets set ${self.id} --token-stdin (this gateway's gateway.auth.token), or export OPENCLAW_GATEWAY_TOKEN`;
        delete c.code;
      }
    }
    checks.push(...own.filter((c) => c.name !== 'own clock'));

    const peers =
      options.peers.length > 0
        ? options.peers.map((n) => requireAgent(registry, n))
        : registry.agents.filter((a) => a.id !== self.id);
    const results = await Promise.all(
      peers.map(async (peer) => {
        if (peer.status !== 'active') {
          return [
            {
              subject: peer.name,
              name: 'status',
              status: 'skip',
              detail: `${peer.status} in AGENTS.md: receives no messages`,
            } as Check,
          ];
        }
        let token: string | null = null;
        try {
          token = (await resolveToken(config.home, env, peer.name))?.token ?? null;
        } catch {}
        return checkGateway(peer, token, { timeoutMs });
      }),
    );
    for (const r of results) checks.push(...r);
    // After the gateway probes, so ZeroTier has already tried to reach each peer.
    checks.push(
      ...(await checkZerotier({
        env,
        networkId: registry.team?.zerotier?.network ?? null,
        self: me ?? null,
        peers,
        timeoutMs,
      })),
    );
  }

  const failure = checks.find((c) => c.status === 'fail');
  const exitCode = failure === undefined ? EXIT.ok : ERROR_CODES[failure.code ?? 'OIS_ERR_INTERNAL'].exit;
  return { checks, failure, exitCode };
}
