#!/usr/bin/env node
// The `ois` command. Kept tiny: an assistant runs it once per message, so start-up time is what users pay.
// Builtins through process.getBuiltinModule, not `import`: an ES import of node:fs makes its module namespace,
// which reads every lazy property of fs (its streams load node:stream and readline: 8 ms).
const {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');
const { basename, dirname, join } = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const { constants: vm, Script } = process.getBuiltinModule('node:vm');

// Reuse V8's compiled code across runs (Node >= 22.1); a miss costs nothing but the first run.
module.enableCompileCache?.();

const bundle = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
const command = commandName();
// The daemon idles most of its life. Loading it (fastify, ajv) grows V8's young generation to 16 MB, which
// it then keeps: 12 MB of an idle daemon's 106 MB. With a growth factor of 1 it stays at 1 MB semi-spaces
// (what `node --max-semi-space-size=1` gives; that flag cannot be set from inside). Measured through the
// daemon, the throughput and the latency it adds did not change (bench/daemon.js). Set before anything
// loads, so V8's code caches are made and used with the same flags every time.
const v8 = command === 'serve' ? process.getBuiltinModule('node:v8') : null;
v8?.setFlagsFromString('--semi-space-growth-factor=1');
// The daemon's start-up runs once, yet it runs enough code (loading fastify and ajv, compiling schemas) that
// V8 optimises some of it with Maglev and TurboFan, and sends much of it through Sparkplug. The compilers'
// own code (the pages of the node binary they touch) and what they made then stay in the idle daemon: 12 MB of
// its 91 MB. They are off until the daemon serves (io.started), then on again, so requests get optimised
// code as before. Left alone when the user chose these compilers' flags.
const userJit = /--(no-)?(opt|turbofan|maglev|sparkplug|jitless|max-opt)\b/.test(
  [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '),
);
const compilers = (on) => {
  for (const name of ['turbofan', 'maglev', 'sparkplug'])
    v8.setFlagsFromString(`--${on ? '' : 'no-'}${name}`);
};
if (v8 && !userJit) compilers(false);
// Once it serves: the compilers back on, then start-up's garbage collected (see collectStartupGarbage).
const started = v8
  ? () => {
      if (!userJit) compilers(true);
      setImmediate(collectStartupGarbage);
    }
  : undefined;

// Ctrl-C or SIGTERM first asks the command to stop (a send reports what it knows, --follow ends); a second
// signal, or a command that does not stop within 3 s, ends the process with 130.
const controller = new AbortController();
const onSignal = (signal) => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(signal);
  setTimeout(() => process.exit(130), 3000).unref();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `ois chat | head`: a closed pipe is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

// The bundle (scripts/bundle.js) when the build made one: far fewer files for Node to load.
const { main } = await loadMain();
const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  // Looked up when a command reads it: making process.stdin opens a stream (and loads its modules).
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  signal: controller.signal,
  started,
});
// main() decides the exit code of a stopped command too: 130, or 0 for a service stopped by SIGTERM.
process.exitCode = code;

async function loadMain() {
  try {
    // Not for the daemon: it starts once, nobody waits for it, and the code V8 kept at its last exit
    // (everything it ran, 1 MB) would be loaded at start and kept: 5 MB more idle memory.
    if (command !== 'serve') cacheCompiledCode();
    return module.createRequire(import.meta.url)('../dist/bundle/main.cjs');
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('main.cjs')) throw err;
    return import('../dist/cli/main.js');
  }
}

/**
 * Node's compile cache keeps only the code V8 compiles before a file runs: a function is compiled when it is
 * first called, so every run compiled again each function a command calls (a third of `ois agents`). For
 * the bundles, this keeps V8's code as it is when the process exits instead, functions included, beside
 * Node's compile cache (so NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE apply): one file per bundle,
 * and for main.cjs one per command (`ois --version` calls next to nothing of what `ois send` calls in it),
 * written when there is none or V8 refused it (another Node version, other V8 flags, a rebuilt bundle).
 */
function cacheCompiledCode() {
  const nodeCache = module.getCompileCacheDir?.();
  if (!nodeCache) return;
  const dir = join(nodeCache, 'ois');
  // A mistyped command adds no file.
  const partition = existsSync(join(bundle, 'commands', `${command}.cjs`)) ? command : 'none';
  const uid = process.getuid?.();
  const compile = module._extensions['.js'];
  const toWrite = [];
  module._extensions['.cjs'] = (mod, filename) => {
    if (!filename.startsWith(bundle)) return compile(mod, filename);
    const source = readFileSync(filename, 'utf8');
    // The file's version: a rebuilt bundle has another one (V8 itself checks only the source's length).
    const s = statSync(filename);
    const version = `${filename}|${s.size}|${s.mtimeMs}|${s.ctimeMs}|${s.ino}\n`;
    const name = basename(filename) + (filename === join(bundle, 'main.cjs') ? `.${partition}` : '');
    const file = join(dir, `${hash(filename)}-${name}`);
    let cachedData;
    try {
      const fd = openSync(file, 'r');
      try {
        // Compiled code runs as this user: only a file this user wrote is used.
        const data = uid === undefined || fstatSync(fd).uid === uid ? readFileSync(fd) : null;
        const at = data?.indexOf(10) ?? -1;
        if (at > 0 && data.toString('utf8', 0, at + 1) === version) cachedData = data.subarray(at + 1);
      } finally {
        closeSync(fd);
      }
    } catch {}
    const script = new Script(module.wrap(source), {
      filename,
      cachedData,
      importModuleDynamically: vm.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (cachedData === undefined || script.cachedDataRejected) toWrite.push({ script, file, version });
    const req = (id) => mod.require(id);
    req.resolve = (request, options) => module._resolveFilename(request, mod, false, options);
    req.cache = module._cache;
    req.main = process.mainModule;
    script.runInThisContext().call(mod.exports, mod.exports, req, mod, filename, dirname(filename));
  };
  process.on('exit', () => {
    for (const { script, file, version } of toWrite) {
      const temp = `${file}.${process.pid}.tmp`;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(temp, Buffer.concat([Buffer.from(version), script.createCachedData()]), {
          mode: 0o600,
        });
        renameSync(temp, file);
      } catch {}
    }
  });
}

/**
 * Once the daemon serves: one collection of the kind V8 makes when memory runs short (it compacts the heap
 * and drops the bytecode of functions that ran only at start-up). Otherwise start-up's garbage stays: an idle
 * daemon allocates too little for V8 to collect, and its RSS did not move in a minute. 3.2 MB less, for one
 * 30-45 ms pause just after start. `gc` comes from a context made while --expose-gc is set, and only there.
 */
function collectStartupGarbage() {
  v8.setFlagsFromString('--expose-gc');
  const gc = process.getBuiltinModule('node:vm').runInNewContext('gc');
  v8.setFlagsFromString('--no-expose-gc');
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/**
 * The command this run names: the first argument that is neither an option nor the value of --home or
 * --team, as src/cli/main.ts reads it.
 */
function commandName() {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a === '--home' || a === '--team') i++;
    else if (!a.startsWith('-')) return /^[a-z][a-z-]*$/.test(a) ? a : 'none';
  }
  return 'none';
}

/** FNV-1a, for a file name per bundle path. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
