import { resolveOwnToken, resolveToken } from '../../config/index.js';
import { type Check, checkGateway, checkInstance, checkZerotier, SELF } from '../../doctor/index.js';
import { ERROR_CODES, EXIT, OisError } from '../../errors.js';
import { type Agent, agentId, requireAgent } from '../../registry/index.js';
import type { Command } from '../command.js';

const MARK: Record<Check['status'], string> = { ok: 'ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };

export const command: Command = {
  spec: {
    name: 'doctor',
    summary: 'Check this instance and why each peer is (not) reachable',
    usage: ['doctor [NAME…] [--timeout MS] [--json]'],
    options: {
      timeout: {
        type: 'string',
        value: 'MS',
        description: 'Per-request timeout for the gateway probes (default 5000)',
      },
    },
    args: { min: 0, max: Number.POSITIVE_INFINITY },
    examples: ['ois doctor', 'ois doctor beta --json'],
  },
  async run(ctx) {
    const timeoutMs = ctx.args.values.timeout === undefined ? 5000 : Number(ctx.args.values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) {
      throw new OisError(
        'OIS_ERR_USAGE',
        `--timeout ${String(ctx.args.values.timeout)} is not 100..120000 ms`,
        { hint: 'e.g. --timeout 3000' },
      );
    }
    const { checks, config, registry } = await checkInstance(() => ctx.config());

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
        (await resolveOwnToken(config.home, ctx.io.env, config.name, config.gateway.url).catch(() => null))
          ?.token ?? null;
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

      const names = ctx.args.positionals;
      const peers =
        names.length > 0
          ? names.map((n) => requireAgent(registry, n))
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
            token = (await resolveToken(config.home, ctx.io.env, peer.name))?.token ?? null;
          } catch {}
          return checkGateway(peer, token, { timeoutMs });
        }),
      );
      for (const r of results) checks.push(...r);
      // After the gateway probes, so ZeroTier has already tried to reach each peer.
      checks.push(
        ...(await checkZerotier({
          env: ctx.io.env,
          networkId: registry.team?.zerotier?.network ?? null,
          self: me ?? null,
          peers,
          timeoutMs,
        })),
      );
    }

    const failed = checks.filter((c) => c.status === 'fail');
    const exitCode = failed.length === 0 ? EXIT.ok : ERROR_CODES[failed[0]!.code ?? 'OIS_ERR_INTERNAL'].exit;
    if (ctx.json) {
      const first = failed[0];
      ctx.printJson({
        ok: first === undefined,
        // The failure that decides the exit code, as the error of the envelope (docs/json.md).
        ...(first
          ? {
              error: {
                code: first.code ?? 'OIS_ERR_INTERNAL',
                message: `${first.subject}: ${first.name}: ${first.detail}`,
                ...(first.fix ? { hint: first.fix } : {}),
              },
            }
          : {}),
        checks,
      });
      return exitCode;
    }
    const sw = Math.max(...checks.map((c) => c.subject.length));
    const nw = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      ctx.print(`${MARK[c.status].padEnd(4)}  ${c.subject.padEnd(sw)}  ${c.name.padEnd(nw)}  ${c.detail}`);
      if (c.fix && c.status !== 'ok') ctx.print(`${' '.repeat(8 + sw + nw)}fix: ${c.fix}`);
    }
    const warned = checks.filter((c) => c.status === 'warn').length;
    ctx.print(
      failed.length === 0
        ? `\nall checks passed${warned > 0 ? ` (${warned} warnings)` : ''}`
        : `\n${failed.length} check${failed.length === 1 ? '' : 's'} failed${warned > 0 ? `, ${warned} warnings` : ''}`,
    );
    return exitCode;
  },
};
