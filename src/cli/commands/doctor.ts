import { type Check, runDoctor } from '../../doctor/index.js';
import { OisError } from '../../errors.js';
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
    const { checks, failure, exitCode } = await runDoctor({
      loadConfig: () => ctx.config(),
      env: ctx.io.env,
      peers: ctx.args.positionals,
      timeoutMs,
    });

    if (ctx.json) {
      ctx.printJson({
        ok: failure === undefined,
        // The failure that decides the exit code, as the error of the envelope (docs/json.md).
        ...(failure
          ? {
              error: {
                code: failure.code ?? 'OIS_ERR_INTERNAL',
                message: `${failure.subject}: ${failure.name}: ${failure.detail}`,
                ...(failure.fix ? { hint: failure.fix } : {}),
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
    const failed = checks.filter((c) => c.status === 'fail').length;
    const warned = checks.filter((c) => c.status === 'warn').length;
    ctx.print(
      failed === 0
        ? `\nall checks passed${warned > 0 ? ` (${warned} warnings)` : ''}`
        : `\n${failed} check${failed === 1 ? '' : 's'} failed${warned > 0 ? `, ${warned} warnings` : ''}`,
    );
    return exitCode;
  },
};
