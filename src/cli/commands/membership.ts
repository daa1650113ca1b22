import { runningDaemon } from '../../config/index.js';
import { isOisError, OisError } from '../../errors.js';
import { type SendReport, sendAs } from '../../federation/index.js';
import {
  type ChangeResult,
  changeMembership,
  loadIdentity,
  loadTeamView,
  type MembershipChange,
  type MembershipNotice,
  noticeOf,
  readChain,
  type TeamView,
  updatePin,
} from '../../membership/index.js';
import { agentId, findAgent } from '../../registry/index.js';
import type { CommandContext } from '../command.js';

/** What a membership command did: the change, the notice it sent, and the ZeroTier side. */
export interface Applied {
  result: ChangeResult;
  notice: MembershipNotice | null;
  report: SendReport | null;
  /** The member's node on the team network: what was done, or what to do by hand. */
  zerotier: { done: string } | { todo: string } | null;
}

/** This instance's name and signing key; a membership change needs both. */
export async function actor(ctx: CommandContext) {
  const config = ctx.initialisedConfig();
  const identity = await loadIdentity(config.home);
  if (!identity) {
    throw new OisError('OIS_ERR_IDENTITY_MISSING', `${config.home} has no signing key`, {
      hint: 'run ois init again: it creates identity.key and keeps everything else',
    });
  }
  return { config, identity };
}

/** The team through its membership records, as this instance trusts it. */
export async function teamView(ctx: CommandContext): Promise<TeamView> {
  return loadTeamView(ctx.team(), ctx.config().home);
}

/**
 * Makes a membership change as this instance, then: moves this instance's pin forward, tells those it
 * concerns (chat log and sessions, through the normal delivery path), and authorises or de-authorises the
 * member's ZeroTier node when the team has a network.
 */
export async function apply(
  ctx: CommandContext,
  change: MembershipChange,
  /** Runs after the record is written and before anyone is told (ois join writes its entry here). */
  after?: (result: ChangeResult) => Promise<void>,
): Promise<Applied> {
  const { config, identity } = await actor(ctx);
  const store = ctx.team();
  const result = await changeMembership(
    store,
    { name: config.name, privateKey: identity.privateKey },
    change,
  );
  await updatePin(config.home, store, await readChain(store)).catch(() => null);
  await after?.(result);
  // Verifies the records as they are now, once, and keeps the result: the next ois agents needs no crypto.
  await loadTeamView(store, config.home);
  const zerotier = await syncZerotier(ctx, result);
  const notice = noticeOf(result.record, result.state);
  const report = notice ? await announce(ctx, notice) : null;
  return { result, notice, report, zerotier };
}

/** Sends a notice to its recipients (queued for those that cannot be reached now) and logs it. */
async function announce(ctx: CommandContext, notice: MembershipNotice): Promise<SendReport | null> {
  const config = ctx.initialisedConfig();
  const store = ctx.team();
  try {
    return await sendAs({
      config,
      env: ctx.io.env,
      store,
      registry: async () => (await loadTeamView(store, config.home)).registry,
      to: { names: notice.to },
      body: notice.body,
      notice: { type: notice.type, subject: notice.subject },
      queue: true,
      daemonRuns: (await runningDaemon(config.home)) !== null,
      warn: (m, h) => ctx.warn(`notice: ${m}`, h),
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
  } catch (err) {
    // The change is made; a notice that cannot go is said, not fatal.
    if (!isOisError(err)) throw err;
    ctx.warn(`the ${notice.type} notice was not sent: ${err.message}`, err.hint);
    return null;
  }
}

const AUTHORIZE: Record<string, boolean> = {
  approve: true,
  enable: true,
  disable: false,
  remove: false,
  leave: false,
};

async function syncZerotier(ctx: CommandContext, result: ChangeResult): Promise<Applied['zerotier']> {
  const authorized = AUTHORIZE[result.record.op];
  if (authorized === undefined) return null;
  const networkId = result.registry.team?.zerotier?.network;
  const entry = findAgent(result.registry, result.member.name);
  const nodeId = (entry?.extra.zerotier as { nodeId?: unknown } | undefined)?.nodeId;
  if (typeof networkId !== 'string' || typeof nodeId !== 'string') return null;
  const what = `${authorized ? 'authorise' : 'de-authorise'} node ${nodeId} (${result.member.name}) on network ${networkId}`;
  if (result.record.op === 'leave' && agentId(result.record.by) === result.member.id) {
    return { todo: `an admin should ${what}` };
  }
  const { setNodeAuthorized } = await import('../../zerotier/index.js');
  const config = ctx.initialisedConfig();
  try {
    const done = await setNodeAuthorized({
      env: ctx.io.env,
      home: config.home,
      networkId,
      nodeId,
      name: result.member.name,
      authorized,
    });
    return { done: `${authorized ? 'authorised' : 'de-authorised'} node ${nodeId} via ${done.where}` };
  } catch (err) {
    if (!isOisError(err)) throw err;
    const how =
      err.code === 'OIS_ERR_ZT_TOKEN'
        ? 'in ZeroTier Central (my.zerotier.com → the network → Members), or set ZEROTIER_API_TOKEN and run this again'
        : `(${err.code}: ${err.message})`;
    return { todo: `${what} by hand ${how}` };
  }
}

/** Prints what a change did, in one line each: the change, the notice, the ZeroTier side. */
export function printApplied(ctx: CommandContext, what: string, applied: Applied): void {
  ctx.print(what);
  if (applied.report) {
    const d = applied.report.deliveries.map((x) => `${x.to} ${x.outcome}`).join(', ');
    ctx.print(`  notice ${applied.notice!.type}${d ? ` → ${d}` : ' (logged)'}`);
  }
  if (applied.zerotier && 'done' in applied.zerotier) ctx.print(`  zerotier: ${applied.zerotier.done}`);
  if (applied.zerotier && 'todo' in applied.zerotier) ctx.warn(`zerotier: ${applied.zerotier.todo}`);
}

/** The JSON of a change, for --json. */
export function appliedJson(applied: Applied): Record<string, unknown> {
  const { record, member } = applied.result;
  return {
    ok: true,
    op: record.op,
    seq: record.seq,
    member: {
      name: member.name,
      role: member.role,
      status: member.status,
      publicKey: member.publicKey,
      ...(member.pendingKey ? { pendingKey: member.pendingKey } : {}),
    },
    notice: applied.notice
      ? {
          type: applied.notice.type,
          to: applied.notice.to,
          deliveries: applied.report?.deliveries.map((d) => ({ to: d.to, outcome: d.outcome })) ?? [],
        }
      : null,
    zerotier: applied.zerotier,
  };
}
