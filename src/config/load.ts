import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { OisError } from '../errors.js';
import { findTeamFolder } from '../team/index.js';
import { SETTINGS, type SettingDeclaration } from './declarations.js';
import { ipVersion, userHome } from './net.js';
import { formatNatsLocation, isNatsLocation, parseNatsLocation } from './team-location.js';

/** OpenClaw's default gateway port (a gateway URL without a port). */
const DEFAULT_GATEWAY_PORT = 18789;

export const CONFIG_FILE = 'config.yaml';

export type Env = Readonly<Record<string, string | undefined>>;

export interface InstanceConfig {
  /** The instance home (`--home`, `OIS_HOME`, default `~/.ois`). */
  readonly home: string;
  /** `<home>/config.yaml`. */
  readonly file: string;
  /** Whether the config file exists (false before `ois init`). */
  readonly initialised: boolean;
  readonly name: string | null;
  /**
   * The team folder, resolved, or a NATS team (`nats://host:4222/team`, see team-location.ts); null when none
   * was given and no AGENTS.md is above the working directory.
   */
  readonly team: string | null;
  readonly teamSource: 'flag' | 'env' | 'config' | 'discovered' | null;
  readonly gateway: { readonly url: string; readonly sessionKey: string };
  readonly serve: {
    readonly port: number;
    /** `derived`: nobody set it; it is the gateway's port + 11. */
    readonly portSource: 'derived' | 'configured';
    readonly host: string;
    /** As peers reach it (published in AGENTS.md). */
    readonly url: string;
    readonly rateLimit: number;
    readonly skewSeconds: number;
    readonly presenceIntervalMs: number;
    readonly requestTimeoutMs: number;
    readonly maxConnectionsPerAddress: number;
  };
  readonly federation: {
    readonly maxHops: number;
    readonly repliesPerMinute: number;
  };
  readonly notices: {
    /** Types not put into this instance's session. */
    readonly mute: readonly string[];
    readonly offlineAfterMs: number;
  };
  readonly send: {
    readonly waitSessionKey: string;
    readonly connectTimeoutMs: number;
    readonly timeoutMs: number;
    readonly retries: number;
  };
  /** How to reach a team on NATS (unused by a folder team). */
  readonly nats: {
    readonly nkey: string | null;
    readonly creds: string | null;
    readonly tlsCa: string | null;
    readonly replicas: number;
  };
}

export interface ConfigInput {
  env: Env;
  cwd: string;
  flags?: { home?: string | undefined; team?: string | undefined };
}

/** The instance home: `--home`, else `OIS_HOME`, else `~/.ois`. */
export function resolveHome(input: ConfigInput): string {
  const raw = input.flags?.home ?? input.env.OIS_HOME;
  if (raw) return resolve(input.cwd, raw);
  return join(userHome(input.env), '.ois');
}

/**
 * Loads the instance config: defaults < `<home>/config.yaml` < environment < flags. Every problem is
 * reported at once in one OIS_ERR_CONFIG_INVALID. The result is frozen.
 */
export function loadConfig(input: ConfigInput): InstanceConfig {
  const home = resolveHome(input);
  const file = join(home, CONFIG_FILE);
  const problems: string[] = [];
  let fileValues: Record<string, unknown> = {};
  let initialised = false;
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
    initialised = true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      throw new OisError('OIS_ERR_CONFIG_INVALID', `cannot read ${file} (${code ?? 'error'})`, {
        hint: 'check the permissions of the instance home',
        cause: err,
      });
    }
  }
  if (text !== null) {
    try {
      const parsed = loadYaml(text);
      if (parsed === null || parsed === undefined) fileValues = {};
      else if (typeof parsed !== 'object' || Array.isArray(parsed))
        problems.push('the file is not a YAML mapping');
      else fileValues = flatten(parsed as Record<string, unknown>);
    } catch (err) {
      problems.push(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (const key of Object.keys(fileValues)) {
    if (!SETTINGS.some((s) => s.key === key)) problems.push(`unknown key "${key}"`);
  }

  const values = new Map<string, string | number | null>();
  for (const setting of SETTINGS) {
    let value: unknown = setting.default;
    let from = 'default';
    if (fileValues[setting.key] !== undefined && fileValues[setting.key] !== null) {
      value = fileValues[setting.key];
      from = `${file}: ${setting.key}`;
    }
    const envValue = setting.env ? input.env[setting.env] : undefined;
    if (envValue !== undefined && envValue !== '') {
      value = envValue;
      from = `environment ${setting.env}`;
    }
    const flagValue = setting.key === 'team' ? input.flags?.team : undefined;
    if (flagValue !== undefined) {
      value = flagValue;
      from = setting.flag ?? setting.key;
    }
    const checked = checkValue(setting, value, from, input.cwd, problems);
    values.set(setting.key, checked);
  }
  if (problems.length > 0) {
    throw new OisError('OIS_ERR_CONFIG_INVALID', `invalid instance config:\n  - ${problems.join('\n  - ')}`, {
      hint: `fix ${file} (see docs/config.md) or the environment variables named above`,
      details: { file, problems },
    });
  }

  let team = values.get('team') as string | null;
  let teamSource: InstanceConfig['teamSource'] = null;
  if (team !== null) {
    teamSource = input.flags?.team !== undefined ? 'flag' : input.env.OIS_TEAM ? 'env' : 'config';
  } else {
    team = findTeamFolder(input.cwd);
    if (team !== null) teamSource = 'discovered';
  }

  return Object.freeze({
    home,
    file,
    initialised,
    name: values.get('name') as string | null,
    team,
    teamSource,
    gateway: Object.freeze({
      url: values.get('gateway.url') as string,
      sessionKey: values.get('gateway.sessionKey') as string,
    }),
    serve: Object.freeze(serveSettings(values)),
    federation: Object.freeze({
      maxHops: values.get('federation.maxHops') as number,
      repliesPerMinute: values.get('federation.repliesPerMinute') as number,
    }),
    notices: Object.freeze({
      mute: Object.freeze(
        String(values.get('notices.mute') ?? '')
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== ''),
      ),
      offlineAfterMs: values.get('notices.offlineAfterMs') as number,
    }),
    send: Object.freeze({
      waitSessionKey: values.get('send.waitSessionKey') as string,
      connectTimeoutMs: values.get('send.connectTimeoutMs') as number,
      timeoutMs: values.get('send.timeoutMs') as number,
      retries: values.get('send.retries') as number,
    }),
    nats: Object.freeze({
      nkey: values.get('nats.nkey') as string | null,
      creds: values.get('nats.creds') as string | null,
      tlsCa: values.get('nats.tlsCa') as string | null,
      replicas: values.get('nats.replicas') as number,
    }),
  });
}

/** The daemon's address: `serve.url` or the gateway's host with `serve.port`; it listens on that IP, else loopback. */
function serveSettings(values: Map<string, string | number | null>): InstanceConfig['serve'] {
  const gateway = new URL(values.get('gateway.url') as string);
  const gatewayHost = gateway.hostname;
  const configured = values.get('serve.port') as number | null;
  const port = configured ?? derivedServePort(gateway);
  const url = (values.get('serve.url') as string | null) ?? `http://${gatewayHost}:${port}`;
  const urlHost = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const host =
    (values.get('serve.host') as string | null) ?? (ipVersion(urlHost) !== 0 ? urlHost : '127.0.0.1');
  return {
    port,
    portSource: configured === null ? 'derived' : 'configured',
    host,
    url,
    rateLimit: values.get('serve.rateLimit') as number,
    skewSeconds: values.get('serve.skewSeconds') as number,
    presenceIntervalMs: values.get('serve.presenceIntervalMs') as number,
    requestTimeoutMs: values.get('serve.requestTimeoutMs') as number,
    maxConnectionsPerAddress: values.get('serve.maxConnectionsPerAddress') as number,
  };
}

/**
 * The daemon's default port: the gateway's + 11 (as MemOS does), so each instance on a machine has its own
 * port, the same at every restart. A gateway URL without a port counts as OpenClaw's default 18789.
 */
export function derivedServePort(gateway: URL): number {
  const base = gateway.port === '' ? DEFAULT_GATEWAY_PORT : Number(gateway.port);
  return base + 11 <= 65535 ? base + 11 : base - 11;
}

function checkValue(
  setting: SettingDeclaration,
  value: unknown,
  from: string,
  cwd: string,
  problems: string[],
): string | number | null {
  if (value === null || value === undefined) return null;
  switch (setting.type) {
    case 'integer': {
      const n = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isInteger(n)) {
        problems.push(`${from}: "${String(value)}" is not a whole number`);
        return null;
      }
      if ((setting.min !== undefined && n < setting.min) || (setting.max !== undefined && n > setting.max)) {
        problems.push(`${from}: ${n} is outside ${setting.min}..${setting.max}`);
        return null;
      }
      return n;
    }
    case 'url': {
      const url = String(value);
      if (!isHttpUrl(url)) {
        problems.push(`${from}: "${url}" is not an http(s) URL`);
        return null;
      }
      return url.replace(/\/+$/, '');
    }
    case 'path': {
      const path = String(value);
      return isAbsolute(path) ? path : resolve(cwd, path);
    }
    case 'team': {
      const team = String(value);
      if (!isNatsLocation(team)) return isAbsolute(team) ? team : resolve(cwd, team);
      try {
        return formatNatsLocation(parseNatsLocation(team));
      } catch (err) {
        problems.push(`${from}: ${(err as Error).message}`);
        return null;
      }
    }
    case 'string': {
      if (typeof value !== 'string' && typeof value !== 'number') {
        problems.push(`${from}: expected text`);
        return null;
      }
      return String(value);
    }
  }
}

/** True for absolute http: or https: URLs with a host. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function flatten(obj: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}
