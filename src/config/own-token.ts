import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from './load.js';
import { isLoopbackHost, userHome } from './net.js';
import { resolveToken, type TokenSource } from './secrets.js';

/** Where OpenClaw keeps its gateway's config for this environment (docs/gateway/config-gateway.md). */
export function openclawConfigPath(env: Env, profile?: string): string {
  if (env.OPENCLAW_CONFIG_PATH) return env.OPENCLAW_CONFIG_PATH;
  if (env.OPENCLAW_STATE_DIR) return join(env.OPENCLAW_STATE_DIR, 'openclaw.json');
  const home = env.OPENCLAW_HOME || userHome(env);
  const name = profile ?? env.OPENCLAW_PROFILE;
  return join(home, name ? `.openclaw-${name}` : '.openclaw', 'openclaw.json');
}

/**
 * The token of this instance's own gateway, for the daemon: `OIS_TOKEN_<NAME>` or the secrets file (as for
 * any peer), else where OpenClaw users already keep it: `OPENCLAW_GATEWAY_TOKEN`, and, when the gateway is
 * on this machine, `gateway.auth.token` of the local openclaw.json (`OPENCLAW_CONFIG_PATH`,
 * `OPENCLAW_STATE_DIR`, `OPENCLAW_HOME` and the profile are honoured). `where` names the source, never the
 * value. Null when none has it.
 */
export async function resolveOwnToken(
  home: string,
  env: Env,
  name: string,
  gatewayUrl: string,
  options: { profile?: string } = {},
): Promise<TokenSource | null> {
  const own = await resolveToken(home, env, name);
  if (own) return own;
  const fromEnv = env.OPENCLAW_GATEWAY_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'env', where: 'OPENCLAW_GATEWAY_TOKEN' };
  let host = '';
  try {
    host = new URL(gatewayUrl).hostname;
  } catch {}
  if (!isLoopbackHost(host)) return null;
  const file = openclawConfigPath(env, options.profile);
  let config: unknown;
  try {
    // openclaw.json is JSON5 in OpenClaw's docs; the gateway writes plain JSON, which is what we read.
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
  const token = (config as { gateway?: { auth?: { token?: unknown } } } | null)?.gateway?.auth?.token;
  // A SecretRef object or a ${VAR} reference is resolved by OpenClaw, not by us.
  if (typeof token !== 'string' || token.trim() === '' || token.includes('${')) return null;
  return { token: token.trim(), source: 'openclaw', where: `${file} (gateway.auth.token)` };
}
