import type { Readable, Writable } from 'node:stream';
import type { Env, InstanceConfig } from '../config/index.js';
import type { TeamStore } from '../team/index.js';

/** What the entry gets from its process: nothing else of `process` is used. */
export interface CliIo {
  argv: string[];
  env: Env;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  /**
   * Aborted on SIGINT/SIGTERM by the launcher, for long-running commands (`chat --follow`); its reason is
   * the signal's name (`'SIGTERM'`).
   */
  signal?: AbortSignal;
  /**
   * Called once by a service command (`serve`) when it is up and serving: the launcher's cue that start-up,
   * which runs once, is over (bin/ois.js turns V8's optimising compilers back on and collects start-up's
   * garbage).
   */
  started?: () => void;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in help, e.g. `NAME`. */
  value?: string;
  /**
   * For a string option whose value may be left out (`--wait` or `--wait 30`): the value it takes then. A
   * following argument is its value only when it is a number; otherwise it stays a positional, and
   * `ParsedArgs.afterBare` says which one, so the command can refuse a word it cannot place.
   */
  optionalValue?: string;
  description: string;
}

/** A command's metadata, as data: the help text and the argument parser are made from it. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Lines after `ois `, e.g. `send NAME MESSAGE`. */
  usage: string[];
  options: Record<string, OptionSpec>;
  /** Positional arguments: at least min, at most max (Infinity for any). */
  args: { min: number; max: number };
  /** Worked examples for `--help`. */
  examples?: string[];
  /**
   * A service runs until it is stopped (`serve`, `gateway-sim`). SIGTERM is how a service manager stops one,
   * so a clean stop after SIGTERM exits 0; Ctrl-C (SIGINT) still exits 130, interrupted.
   */
  service?: boolean;
  /** Rules worth knowing, shown in `--help` under Notes. */
  notes?: string[];
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /**
   * For each optional-value option given without a value (`--wait`), the index in `positionals` of the
   * argument right after it, when that argument is a positional.
   */
  afterBare: Record<string, number>;
}

/** Everything a command's `run` can use. Config and team folder are loaded on first use only. */
export interface CommandContext {
  io: CliIo;
  args: ParsedArgs;
  json: boolean;
  /** The instance config (throws OIS_ERR_CONFIG_INVALID on a broken file). */
  config(): InstanceConfig;
  /** The instance config; OIS_ERR_CONFIG_MISSING before `ois init`. */
  initialisedConfig(): InstanceConfig & { name: string };
  /** The team folder; OIS_ERR_TEAM_NOT_FOUND when none is configured or found. */
  team(): TeamStore;
  /** Writes a line (or, with --json, nothing) to stdout. */
  print(line: string): void;
  /**
   * Writes the one JSON document of a --json run, in the envelope of docs/json.md: `ok: true` is added unless
   * the value has its own `ok` (and then, when false, an `error`). With `{ line: true }`, one compact
   * document per line instead, for output that streams (`chat --follow`).
   */
  printJson(value: Record<string, unknown>, options?: { line?: boolean }): void;
  /** A warning on stderr (shown in --json mode too: stdout stays clean). */
  warn(message: string, hint?: string): void;
  /** Runs another ois command in this process with its own I/O (`ois demo` does), returning its exit code. */
  runCommand(io: CliIo): Promise<number>;
}

export interface Command {
  spec: CommandSpec;
  run(ctx: CommandContext): Promise<number | undefined>;
}
