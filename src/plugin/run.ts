import { Readable, Writable } from 'node:stream';
import { main, openTeamFolder } from '../cli/index.js';
import { type InstanceConfig, loadConfig } from '../config/index.js';
import { OisError } from '../errors.js';
import type { TeamStore } from '../team/index.js';
import type { PluginConfig } from './config.js';

/** What a command printed with --json: the document (always with `ok`), and its warnings. */
export interface CommandOutput {
  doc: Record<string, unknown> & { ok: boolean };
  warnings: string[];
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * Runs an ois command in this process, as `ois --home H [--team T] --json ARGV` with `input` as its standard
 * input: the same parsing, checks and errors as the CLI, and the document of docs/json.md back. A tool never
 * passes model text as an option or a positional that could be read as one: text goes in as stdin (`-`) or
 * after `--`.
 */
export async function runCommand(
  config: PluginConfig,
  argv: string[],
  options: { input?: string; signal?: AbortSignal } = {},
): Promise<CommandOutput> {
  const out = sink();
  const err = sink();
  await main({
    argv: ['--home', config.home, ...(config.team ? ['--team', config.team] : []), '--json', ...argv],
    env: { ...process.env, OIS_HOME: config.home },
    stdin: Readable.from(options.input === undefined ? [] : [Buffer.from(options.input, 'utf8')]),
    stdout: out.stream,
    stderr: err.stream,
    cwd: config.home,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = out.text();
  let doc: CommandOutput['doc'];
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OisError('OIS_ERR_INTERNAL', `ois ${argv[0]} printed no JSON document`, {
      hint: 'report it with the tool call; OIS_DEBUG=1 in the gateway environment logs the stack',
    });
  }
  const warnings = err
    .text()
    .split('\n')
    .filter((l) => l.startsWith('warning:') || l.startsWith('  hint:'))
    .map((l) => l.trim());
  return { doc, warnings };
}

/** The instance config and team folder of the plugin's home, resolved as the CLI does. */
export function openInstance(config: PluginConfig): {
  instance: InstanceConfig & { name: string };
  store: TeamStore;
} {
  const instance = loadConfig({
    env: { ...process.env, OIS_HOME: config.home },
    cwd: config.home,
    flags: { home: config.home, ...(config.team ? { team: config.team } : {}) },
  });
  if (!instance.initialised || instance.name === null) {
    throw new OisError(
      'OIS_ERR_CONFIG_MISSING',
      `OIS is not set up in ${config.home} (no ${instance.file})`,
      {
        hint: 'run ois init --name NAME --team DIR there, or set plugins.entries.ois.config.home',
      },
    );
  }
  return { instance: instance as InstanceConfig & { name: string }, store: teamOf(instance) };
}

/**
 * One store per home and team for the gateway's life: a team on NATS holds a connection, which every hook
 * and tool call would otherwise open anew and never close. A folder store holds nothing; it is kept too.
 */
const stores = new Map<string, TeamStore>();
function teamOf(instance: InstanceConfig): TeamStore {
  const key = `${instance.home}\0${instance.team ?? ''}`;
  let store = stores.get(key);
  if (store === undefined) {
    store = openTeamFolder(instance);
    stores.set(key, store);
  }
  return store;
}

/** Closes the stores the plugin opened (the gateway stops). */
export async function closeStores(): Promise<void> {
  const open = [...stores.values()];
  stores.clear();
  await Promise.all(open.map((s) => s.close?.().catch(() => {})));
}
