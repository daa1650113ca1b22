import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { isNatsLocation } from '../config/index.js';
import { OisError } from '../errors.js';

/**
 * The plugin's settings, from `plugins.entries.ois.config` of the gateway's openclaw.json. Every key is
 * optional; docs/openclaw-plugin.md describes each one.
 */
export interface PluginConfig {
  /** This instance's OIS home (default: the gateway's $OIS_HOME, else ~/.ois). */
  home: string;
  /** The team folder or NATS team (`nats://…`), when the home's config does not name one. */
  team: string | undefined;
  recall: { enabled: boolean; maxBytes: number };
  notices: { enabled: boolean; maxBytes: number };
  /** The note that an inbound OIS message is one, with how to answer it. */
  inbound: { enabled: boolean };
  /** Longest the prompt hook may take: after it, the prompt goes on without what is not ready (fail-open). */
  hookTimeoutMs: number;
  writeBack: { enabled: boolean; scope: 'team' | 'private'; maxBytes: number };
}

/** The JSON Schema of the plugin's config: the manifest carries it, and resolvePluginConfig checks it. */
export const PLUGIN_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    home: {
      type: 'string',
      minLength: 1,
      description: 'OIS home of this instance (default: $OIS_HOME, else ~/.ois)',
    },
    team: {
      type: 'string',
      minLength: 1,
      description: 'Team folder or nats://HOST:4222/TEAM, when the home config names none',
    },
    recall: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        maxBytes: { type: 'integer', minimum: 200, maximum: 20000, default: 1500 },
      },
    },
    notices: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        maxBytes: { type: 'integer', minimum: 200, maximum: 20000, default: 1000 },
      },
    },
    inbound: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean', default: true } },
    },
    hookTimeoutMs: { type: 'integer', minimum: 20, maximum: 5000, default: 200 },
    writeBack: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: false },
        scope: { enum: ['team', 'private'], default: 'private' },
        maxBytes: { type: 'integer', minimum: 100, maximum: 4000, default: 600 },
      },
    },
  },
} as const;

let check: ValidateFunction | undefined;

/** The config with its defaults; OIS_ERR_PLUGIN_CONFIG names the first key that is wrong. */
export function resolvePluginConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): PluginConfig {
  const raw = structuredClone(input ?? {}) as Record<string, unknown>;
  check ??= new Ajv({ useDefaults: true, allErrors: false, strict: true }).compile(PLUGIN_CONFIG_SCHEMA);
  for (const key of ['recall', 'notices', 'inbound', 'writeBack']) if (raw[key] === undefined) raw[key] = {};
  if (!check(raw)) {
    const e = check.errors![0]!;
    const key = `${e.instancePath.slice(1).replaceAll('/', '.')}${e.keyword === 'additionalProperties' ? `${e.instancePath ? '.' : ''}${(e.params as { additionalProperty: string }).additionalProperty}` : ''}`;
    throw new OisError(
      'OIS_ERR_PLUGIN_CONFIG',
      `plugins.entries.ois.config${key ? `.${key}` : ''}: ${e.keyword === 'additionalProperties' ? 'not a key of the plugin' : e.message}`,
      { hint: 'docs/openclaw-plugin.md lists the keys, their types and defaults' },
    );
  }
  const c = raw as unknown as Omit<PluginConfig, 'home' | 'team'> & { home?: string; team?: string };
  const path = (v: string) => {
    const expanded = v.startsWith('~/') ? join(env.HOME ?? homedir(), v.slice(2)) : v;
    return isAbsolute(expanded) ? expanded : resolve(expanded);
  };
  return {
    home: c.home ? path(c.home) : env.OIS_HOME ? resolve(env.OIS_HOME) : join(env.HOME ?? homedir(), '.ois'),
    // A NATS team (nats://…) is passed as it is; the config loader checks it.
    team: c.team ? (isNatsLocation(c.team) ? c.team : path(c.team)) : undefined,
    recall: c.recall,
    notices: c.notices,
    inbound: c.inbound,
    hookTimeoutMs: c.hookTimeoutMs,
    writeBack: c.writeBack,
  };
}
