import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dump, load as loadYaml } from 'js-yaml';
import { OisError } from '../errors.js';
import { withLock, writeFileAtomic } from '../team/index.js';
import type { Env } from './load.js';

export const SECRETS_FILE = 'secrets.yaml';

/** `OIS_TOKEN_<NAME>`: upper-cased, every character other than A-Z and 0-9 as `_`. */
export function tokenEnvName(agentName: string): string {
  return `OIS_TOKEN_${agentName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Secrets are keyed by the agent's lookup id (lower case), so `Beta` and `beta` are one entry. */
function secretKey(agentName: string): string {
  return agentName.toLowerCase();
}

export interface TokenSource {
  token: string;
  source: 'env' | 'secrets' | 'openclaw';
  /** Where it came from, for messages: the variable name or the file (never the token). */
  where: string;
}

/** The gateway token for a peer: `OIS_TOKEN_<NAME>`, else `<home>/secrets.yaml`; null when neither has it. */
export async function resolveToken(home: string, env: Env, agentName: string): Promise<TokenSource | null> {
  const envName = tokenEnvName(agentName);
  const fromEnv = env[envName]?.trim();
  if (fromEnv) return { token: fromEnv, source: 'env', where: envName };
  const tokens = await readSecrets(home);
  const token = tokens[secretKey(agentName)];
  return token ? { token, source: 'secrets', where: join(home, SECRETS_FILE) } : null;
}

/**
 * Reads `<home>/secrets.yaml` (`tokens: {name: token}`). Like ssh with a private key, refuses a file that
 * others can read: a gateway token is full owner access to that assistant.
 */
export async function readSecrets(home: string): Promise<Record<string, string>> {
  const file = join(home, SECRETS_FILE);
  let text: string;
  try {
    const info = await stat(file);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new OisError('OIS_ERR_SECRETS_INVALID', `${file} can be read by other users`, {
        hint: `run: chmod 600 ${file}`,
      });
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof OisError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new OisError('OIS_ERR_SECRETS_INVALID', `cannot read ${file}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = loadYaml(text);
  } catch {
    // Never echo the YAML error: its snippet would show a token.
    throw new OisError('OIS_ERR_SECRETS_INVALID', `${file} is not valid YAML`, {
      hint: 'fix or remove the file, then set the tokens again with `ois secrets set`',
    });
  }
  if (parsed === null || parsed === undefined) return {};
  const tokens = (parsed as { tokens?: unknown }).tokens;
  if (
    typeof parsed !== 'object' ||
    (tokens !== undefined && (typeof tokens !== 'object' || tokens === null))
  ) {
    throw new OisError('OIS_ERR_SECRETS_INVALID', `${file} must hold a mapping "tokens: {name: token}"`, {
      hint: 'fix or remove the file, then set the tokens again with `ois secrets set`',
    });
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries((tokens ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && value.trim() !== '') out[secretKey(name)] = value.trim();
  }
  return out;
}

/** Sets (or with `token` null, removes) one token, atomically, mode 0600, under the home's lock. */
export async function updateSecret(home: string, agentName: string, token: string | null): Promise<string> {
  const file = join(home, SECRETS_FILE);
  await withLock(file, async () => {
    const tokens = await readSecrets(home);
    if (token === null) delete tokens[secretKey(agentName)];
    else tokens[secretKey(agentName)] = token;
    const text = `# Gateway tokens of peer agents. Keep this file private (mode 0600); never copy it to the team folder.\n${dump({ tokens }, { lineWidth: -1 })}`;
    await writeFileAtomic(file, text, { mode: 0o600 });
  });
  return file;
}
