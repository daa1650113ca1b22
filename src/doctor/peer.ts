import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isOisError } from '../errors.js';
import type { Agent } from '../registry/index.js';
import { invokeTool, networkProblem, probeGet } from '../transport/index.js';
import type { Check } from './types.js';

export const VERIFIED_OPENCLAW_VERSION = '2026.9.6';
const SKEW_WARN_S = 30;
const SKEW_FAIL_S = 300;
const MAIN_KEY = /^agent:[^:]+:main$/;

export interface PeerCheckOptions {
  timeoutMs: number;
  /** The check subject, e.g. `beta`, or `this instance` for our own gateway. */
  subject?: string;
  /** Own gateway: the session key check is about what peers will use. */
  now?: () => Date;
}

/**
 * Checks one peer's gateway the way a send would use it, without ever delivering anything and with at most
 * one authentication attempt (a gateway locks out an address after repeated failures):
 * address → /health (round trip, clock) → /startupz (version) → token (`session_status`, a harmless call)
 * → `sessions_send` allowed (called without a message, which the tool refuses before delivering) →
 * session key exists.
 */
export async function checkGateway(
  agent: Agent,
  token: string | null,
  options: PeerCheckOptions,
): Promise<Check[]> {
  const subject = options.subject ?? agent.name;
  const checks: Check[] = [];
  const add = (c: Omit<Check, 'subject'>) => checks.push({ subject, ...c });
  const skipRest = (names: string[], why: string) => {
    for (const name of names) add({ name, status: 'skip', detail: why });
  };
  const later = [
    'gateway up',
    'gateway started',
    'token accepted',
    'sessions_send allowed',
    'session key',
    'clock',
  ];

  if (!agent.gateway) {
    add({
      name: 'gateway address',
      status: 'fail',
      detail: 'no gateway in AGENTS.md',
      fix: `${agent.name} runs \`ois join\` on its machine to publish its gateway`,
      code: 'OIS_ERR_AGENT_NO_GATEWAY',
    });
    return checks;
  }
  const url = new URL(agent.gateway.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) add({ name: 'address', status: 'ok', detail: host });
  else {
    try {
      const { address } = await lookup(host);
      add({ name: 'address', status: 'ok', detail: `${host} → ${address}` });
    } catch {
      add({
        name: 'address',
        status: 'fail',
        detail: `${host} does not resolve`,
        fix: `fix the gateway URL in ${agent.name}'s AGENTS.md entry, or use its ZeroTier IP`,
        code: 'OIS_ERR_PEER_UNREACHABLE',
      });
      skipRest(later, 'address does not resolve');
      return checks;
    }
  }

  let health: Awaited<ReturnType<typeof probeGet>>;
  try {
    health = await probeGet(`${agent.gateway.url}/health`, options.timeoutMs);
  } catch (err) {
    add({
      name: 'gateway up',
      status: 'fail',
      detail: `${agent.gateway.url}: ${networkProblem(err)}`,
      fix: `check that ${agent.name}'s OpenClaw gateway is running and reachable at ${agent.gateway.url} (ZeroTier joined and online, right port)`,
      code: 'OIS_ERR_PEER_UNREACHABLE',
    });
    skipRest(later.slice(1), 'gateway down');
    return checks;
  }
  if (health.status !== 200) {
    add({
      name: 'gateway up',
      status: 'fail',
      detail: `GET /health answered ${health.status}`,
      fix: `check that ${agent.gateway.url} is an OpenClaw gateway`,
      code: 'OIS_ERR_PEER_PROTOCOL',
    });
    skipRest(later.slice(1), 'not a gateway');
    return checks;
  }
  add({
    name: 'gateway up',
    status: 'ok',
    detail: `${agent.gateway.url} answered /health in ${health.ms.toFixed(0)} ms`,
  });

  try {
    const startup = await probeGet(`${agent.gateway.url}/startupz`, options.timeoutMs);
    const version = safeJson(startup.body)?.version;
    if (startup.status === 200) {
      const v = typeof version === 'string' ? version : 'unknown';
      add({
        name: 'gateway started',
        status: v === VERIFIED_OPENCLAW_VERSION ? 'ok' : 'warn',
        detail: `openclaw ${v}${v === VERIFIED_OPENCLAW_VERSION ? '' : ` (OIS is verified with ${VERIFIED_OPENCLAW_VERSION}; see docs/openclaw.md)`}`,
      });
    } else {
      add({
        name: 'gateway started',
        status: 'warn',
        detail: `/startupz answered ${startup.status}: still starting`,
        fix: 'wait a few seconds; sends during startup are retried',
      });
    }
  } catch (err) {
    add({ name: 'gateway started', status: 'warn', detail: networkProblem(err) });
  }

  if (token === null) {
    add({
      name: 'token accepted',
      status: 'fail',
      detail: 'no gateway token for this peer',
      fix: `ois secrets set ${agent.id} --token-stdin (the token is ${agent.name}'s gateway.auth.token)`,
      code: 'OIS_ERR_TOKEN_MISSING',
    });
    skipRest(['sessions_send allowed', 'session key'], 'no token');
  } else {
    const target = { url: agent.gateway.url, token, sessionKey: agent.gateway.sessionKey };
    const call = { retries: 0, timeoutMs: options.timeoutMs, connectTimeoutMs: options.timeoutMs };
    let authed = false;
    try {
      await invokeTool(target, 'session_status', {}, call);
      authed = true;
      add({ name: 'token accepted', status: 'ok', detail: 'an authenticated session_status call answered' });
    } catch (err) {
      const code = isOisError(err) ? err.code : 'OIS_ERR_INTERNAL';
      add({
        name: 'token accepted',
        status: 'fail',
        detail: isOisError(err) ? err.message : String(err),
        fix:
          code === 'OIS_ERR_PEER_AUTH'
            ? `the stored token is not ${agent.name}'s gateway token: get the current one from its owner, then ois secrets set ${agent.id} --token-stdin`
            : code === 'OIS_ERR_PEER_BUSY'
              ? 'the gateway locked this address out after failed logins: wait for the lockout to end, with the right token stored'
              : ((isOisError(err) ? err.hint : undefined) ?? 'see the gateway log'),
        code: isOisError(err) ? err.code : 'OIS_ERR_INTERNAL',
      });
      skipRest(
        ['sessions_send allowed', 'session key'],
        'not authenticated (one attempt only, to avoid a lockout)',
      );
    }
    if (authed) {
      try {
        // Without a message the tool refuses before it delivers anything: "message required" means allowed.
        await invokeTool(target, 'sessions_send', { sessionKey: agent.gateway.sessionKey }, call);
        add({ name: 'sessions_send allowed', status: 'warn', detail: 'the probe was accepted unexpectedly' });
      } catch (err) {
        if (isOisError(err, 'OIS_ERR_PEER_TOOL_DENIED')) {
          add({
            name: 'sessions_send allowed',
            status: 'fail',
            detail: 'the gateway denies sessions_send over HTTP (404 Tool not available)',
            fix: `on ${agent.name}'s machine, add "gateway": {"tools": {"allow": ["sessions_send"]}} to openclaw.json and restart the gateway`,
            code: 'OIS_ERR_PEER_TOOL_DENIED',
          });
        } else if (isOisError(err) && /message required/i.test(err.message)) {
          add({
            name: 'sessions_send allowed',
            status: 'ok',
            detail: 'gateway.tools.allow lets sessions_send through',
          });
        } else {
          add({
            name: 'sessions_send allowed',
            status: 'fail',
            detail: isOisError(err) ? err.message : String(err),
            ...(isOisError(err) && err.hint ? { fix: err.hint } : {}),
            code: isOisError(err) ? err.code : 'OIS_ERR_INTERNAL',
          });
        }
      }
      const key = agent.gateway.sessionKey;
      if (MAIN_KEY.test(key)) {
        add({ name: 'session key', status: 'ok', detail: `${key} (a main key: created on demand)` });
      } else {
        try {
          const details = (await invokeTool(
            target,
            'sessions_history',
            { sessionKey: key, limit: 1 },
            call,
          )) as {
            status?: string;
            error?: string;
          };
          if (details?.status === 'error' && /No session found/i.test(details.error ?? '')) {
            add({
              name: 'session key',
              status: 'fail',
              detail: `${agent.name}'s gateway has no session ${key}`,
              fix: `only agent:<id>:main keys are created on demand: ${agent.name} runs ois init --session-key agent:main:main (or creates ${key}), then ois join`,
              code: 'OIS_ERR_PEER_SESSION_UNKNOWN',
            });
          } else add({ name: 'session key', status: 'ok', detail: `${key} exists` });
        } catch (err) {
          add({
            name: 'session key',
            status: 'warn',
            detail: `could not check ${key}: ${isOisError(err) ? err.message : String(err)}`,
          });
        }
      }
    }
  }

  if (health.date) {
    const now = (options.now ?? (() => new Date()))();
    // The Date header has whole seconds and was made mid-request.
    const skew = Math.round((health.date.getTime() - (now.getTime() - health.ms / 2)) / 1000);
    const abs = Math.abs(skew);
    add({
      name: 'clock',
      status: abs >= SKEW_FAIL_S ? 'fail' : abs >= SKEW_WARN_S ? 'warn' : 'ok',
      detail: abs < 2 ? 'in step (within 2 s)' : `${abs} s ${skew > 0 ? 'ahead of' : 'behind'} this machine`,
      ...(abs >= SKEW_WARN_S
        ? { fix: 'turn on NTP (timedatectl set-ntp true) on the machine whose clock is off' }
        : {}),
      ...(abs >= SKEW_FAIL_S ? { code: 'OIS_ERR_CLOCK_SKEW' as const } : {}),
    });
  } else add({ name: 'clock', status: 'skip', detail: 'the gateway sent no Date header' });
  return checks;
}

function safeJson(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
