import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type InstanceConfig, isNatsLocation, loadConfig } from '../config/index.js';
import { EXIT, isOisError, OisError } from '../errors.js';
import { FsTeamStore, LazyTeamStore, type TeamStore } from '../team/index.js';
import type { CliIo, CommandContext, CommandSpec, OptionSpec, ParsedArgs } from './command.js';
import { COMMANDS } from './commands/index.js';
import { renderCommandHelp, renderMainHelp } from './help.js';

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  home: {
    type: 'string',
    value: 'DIR',
    description: "This instance's home (default: $OIS_HOME, else ~/.ois)",
  },
  team: {
    type: 'string',
    value: 'DIR',
    description:
      'The team folder or nats://HOST:4222/TEAM (default: $OIS_TEAM, the config, else the nearest AGENTS.md)',
  },
  json: { type: 'boolean', description: 'Print one JSON document on stdout' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

const VERSION = '0.1.0';

/**
 * The CLI entry. Takes its process as an argument and returns the exit code; never calls process.exit.
 */
export async function main(io: CliIo): Promise<number> {
  const { name, rest } = splitCommand(io.argv);
  const end = io.argv.indexOf('--');
  const wantsJson = (end < 0 ? io.argv : io.argv.slice(0, end)).includes('--json');
  const out: JsonOutput = { json: wantsJson, written: 'none' };
  try {
    if (name === null || name === 'help') {
      const wantsHelp = rest.includes('--help') || rest.includes('-h');
      if (name === null && (rest.includes('--version') || rest.includes('-v'))) {
        if (wantsJson) writeJson(io, out, { ok: true, version: VERSION });
        else io.stdout.write(`${VERSION}\n`);
        return EXIT.ok;
      }
      const topic = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
      const entry = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
      const spec = entry ? (await entry.load()).spec : null;
      const known = name === 'help' || rest.every((a) => a === '--json') || wantsHelp;
      if (wantsJson) {
        if (!known) throw usageWithoutCommand(rest);
        writeJson(io, out, spec ? commandHelpJson(spec) : mainHelpJson());
        return EXIT.ok;
      }
      io.stdout.write(spec ? renderCommandHelp(spec, GLOBAL_OPTIONS) : renderMainHelp(COMMANDS));
      return known ? EXIT.ok : EXIT.usage;
    }
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry) {
      // Loaded only on this error path: the registry module pulls in the YAML parser.
      const { closestNames } = await import('../registry/index.js');
      const near = closestNames(
        name,
        COMMANDS.map((c) => c.name),
      );
      throw new OisError('OIS_ERR_UNKNOWN_COMMAND', `unknown command "${name}"`, {
        hint:
          near.length > 0
            ? `did you mean ${near.join(' or ')}? (ois --help lists them)`
            : 'ois --help lists the commands',
      });
    }
    const command = await entry.load();
    const args = parseCommandArgs(command.spec, rest);
    if (args.values.help) {
      if (wantsJson) writeJson(io, out, commandHelpJson(command.spec));
      else io.stdout.write(renderCommandHelp(command.spec, GLOBAL_OPTIONS));
      return EXIT.ok;
    }
    const { ctx, dispose } = createContext(io, args, out);
    try {
      const code = (await command.run(ctx)) ?? EXIT.ok;
      return code === EXIT.ok && io.signal?.aborted ? stoppedCode(command.spec, io.signal.reason) : code;
    } finally {
      await dispose();
    }
  } catch (err) {
    return reportError(io, err, out);
  }
}

/** What a --json run has written to stdout so far: the envelope allows one document, or JSON Lines. */
interface JsonOutput {
  json: boolean;
  written: 'none' | 'document' | 'lines';
}

function writeJson(io: CliIo, out: JsonOutput, doc: Record<string, unknown>, line = false): void {
  io.stdout.write(line ? `${JSON.stringify(doc)}\n` : `${JSON.stringify(doc, null, 2)}\n`);
  out.written = line ? 'lines' : 'document';
}

function usageWithoutCommand(rest: string[]): OisError {
  const bad = rest.find((a) => a !== '--json') ?? '';
  return new OisError('OIS_ERR_USAGE', `"${bad}" is not a command or a global option`, {
    hint: 'ois --help lists the commands',
  });
}

function optionsJson(options: Record<string, OptionSpec>): Record<string, unknown>[] {
  return Object.entries(options).map(([flag, o]) => ({ flag: `--${flag}`, ...o }));
}

/** `ois --help --json`: the command list as data. */
function mainHelpJson(): Record<string, unknown> {
  return {
    ok: true,
    name: 'ois',
    version: VERSION,
    commands: COMMANDS.map((c) => ({ name: c.name, summary: c.summary })),
    globalOptions: optionsJson(GLOBAL_OPTIONS),
  };
}

/** `ois CMD --help --json`: the command's spec as data (`args.max` null: no upper bound). */
function commandHelpJson(spec: CommandSpec): Record<string, unknown> {
  return {
    ok: true,
    command: {
      name: spec.name,
      summary: spec.summary,
      usage: spec.usage,
      options: optionsJson(spec.options),
      args: { min: spec.args.min, max: Number.isFinite(spec.args.max) ? spec.args.max : null },
      examples: spec.examples ?? [],
      notes: spec.notes ?? [],
      service: spec.service === true,
    },
    globalOptions: optionsJson(GLOBAL_OPTIONS),
  };
}

/**
 * The exit code of a command that ended cleanly because a signal asked it to: 0 for a service stopped by
 * SIGTERM (that is how systemd and docker stop it), 130 (interrupted) otherwise.
 */
function stoppedCode(spec: CommandSpec, reason: unknown): number {
  return spec.service === true && reason === 'SIGTERM' ? EXIT.ok : EXIT.interrupted;
}

/** The first argument that is not an option (or an option's value) is the command. */
function splitCommand(argv: string[]): { name: string | null; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--home' || a === '--team') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: null, rest: argv };
}

export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [key, o] of Object.entries({ ...GLOBAL_OPTIONS, ...spec.options })) {
    options[key] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  const { args: rewritten, bare } = withOptionalValues(spec, argv);
  const config = { args: rewritten, options, allowPositionals: true, strict: true, tokens: true } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new OisError(
      'OIS_ERR_USAGE',
      (err as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''),
      {
        hint: `see: ois ${spec.name} --help`,
      },
    );
  }
  const afterBare: Record<string, number> = {};
  const positionalAt = parsed.tokens.filter((t) => t.kind === 'positional').map((t) => t.index);
  for (const [name, at] of bare) {
    const i = positionalAt.indexOf(at + 1);
    if (i >= 0) afterBare[name] ??= i;
  }
  const args: ParsedArgs = {
    values: parsed.values as ParsedArgs['values'],
    positionals: parsed.positionals,
    afterBare,
  };
  if (!args.values.help) {
    const n = args.positionals.length;
    if (n < spec.args.min || n > spec.args.max) {
      throw new OisError(
        'OIS_ERR_USAGE',
        n < spec.args.min ? 'missing arguments' : `unexpected argument "${args.positionals[spec.args.max]}"`,
        {
          hint: `usage: ${spec.usage.map((u) => `ois ${u}`).join(' | ')}`,
        },
      );
    }
  }
  return args;
}

/**
 * Gives a bare `--wait` its default value, so `--wait` and `--wait 30` both parse: the next argument is the
 * value only when it is a number (a negative one too, so that `--wait -5` is refused as a value, not taken
 * for an option). Returns the rewritten arguments and, for each bare option, its index in them.
 */
function withOptionalValues(
  spec: CommandSpec,
  argv: string[],
): { args: string[]; bare: [name: string, at: number][] } {
  const out: string[] = [];
  const bare: [string, number][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const option = a.startsWith('--') ? spec.options[a.slice(2)] : undefined;
    if (option?.optionalValue !== undefined) {
      const next = argv[i + 1];
      if (next !== undefined && /^[+-]?\d+(\.\d+)?$/.test(next)) {
        out.push(`${a}=${next}`);
        i++;
      } else {
        bare.push([a.slice(2), out.length]);
        out.push(`${a}=${option.optionalValue}`);
      }
      continue;
    }
    out.push(a);
  }
  return { args: out, bare };
}

/**
 * The team of a config: its folder, checked (OIS_ERR_TEAM_NOT_FOUND when none is set or it is not a folder),
 * or its store on NATS (connected on first use; `close` it when done).
 */
export function openTeamFolder(c: InstanceConfig): TeamStore {
  if (c.team === null) {
    throw new OisError(
      'OIS_ERR_TEAM_NOT_FOUND',
      'no team folder: none configured and no AGENTS.md above the working directory',
      {
        hint: 'pass --team DIR, set OIS_TEAM, or run: ois init --name NAME --team DIR',
      },
    );
  }
  if (isNatsLocation(c.team)) {
    // The NATS client is loaded when the team is first used, not by every command.
    return new LazyTeamStore(c.team, async () => (await import('../nats/index.js')).openNatsTeamStore(c));
  }
  let isDir = false;
  try {
    isDir = statSync(c.team).isDirectory();
  } catch {}
  if (!isDir) {
    throw new OisError(
      'OIS_ERR_TEAM_NOT_FOUND',
      `the team folder ${c.team} does not exist or is not a folder`,
      {
        hint: 'check that the share is mounted, or fix the path (--team, OIS_TEAM, or ois init --team DIR)',
      },
    );
  }
  return new FsTeamStore(c.team);
}

function createContext(
  io: CliIo,
  args: ParsedArgs,
  out: JsonOutput,
): { ctx: CommandContext; dispose: () => Promise<void> } {
  const json = args.values.json === true;
  let config: InstanceConfig | undefined;
  let store: TeamStore | undefined;
  const ctx: CommandContext = {
    io,
    args,
    json,
    config() {
      config ??= loadConfig({
        env: io.env,
        cwd: io.cwd,
        flags: { home: args.values.home as string | undefined, team: args.values.team as string | undefined },
      });
      return config;
    },
    initialisedConfig() {
      const c = ctx.config();
      if (!c.initialised || c.name === null) {
        throw new OisError('OIS_ERR_CONFIG_MISSING', `this instance is not set up (no ${c.file})`, {
          hint: 'run: ois init --name NAME --team DIR',
        });
      }
      return c as InstanceConfig & { name: string };
    },
    team() {
      store ??= openTeamFolder(ctx.config());
      return store;
    },
    print(line) {
      if (!json) io.stdout.write(`${line}\n`);
    },
    printJson(value, options = {}) {
      writeJson(io, out, 'ok' in value ? value : { ok: true, ...value }, options.line === true);
    },
    warn(message, hint) {
      io.stderr.write(`warning: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
    },
    runCommand: (other) => main(other),
  };
  // A team on NATS holds a connection: closed when the command is done, so the process can end.
  return { ctx, dispose: async () => store?.close?.() };
}

/**
 * The one edge where an error becomes output. Text mode: `error CODE: message` and the hint on stderr. With
 * --json: the failure envelope on stdout and nothing on stderr, so the error is reported once. When a
 * document is already out (a service that fails after its start document), stdout stays one document and the
 * error goes to stderr as text; JSON Lines get the failure envelope as their last line.
 */
function reportError(io: CliIo, err: unknown, out: JsonOutput): number {
  const e = isOisError(err)
    ? err
    : new OisError('OIS_ERR_INTERNAL', `unexpected error: ${(err as Error)?.message ?? String(err)}`, {
        hint: 'this is a bug in ois; please report it with the command you ran',
        cause: err,
      });
  if (out.json && out.written !== 'document') {
    writeJson(io, out, { ok: false, error: e.toJSON() }, out.written === 'lines');
  } else {
    io.stderr.write(`error ${e.code}: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
  }
  if (e.code === 'OIS_ERR_INTERNAL' && io.env.OIS_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  return e.exitCode;
}
