// Bundles the CLI for start-up (npm run build runs it after tsc): `ois` is run once per message, and what a
// user waits for is Node loading modules. dist/bundle/main.cjs is the entry without any command; each command
// is its own bundle, dist/bundle/commands/<name>.cjs, holding only the code that command reaches (package.json
// says our modules have no side effects, so esbuild drops what a command never calls). `ois agents` thus
// loads neither undici, fastify nor node:sqlite.
//
// Why esbuild: it bundles and tree-shakes TypeScript-built ESM in well under a second, and its Linux binary
// comes from the npm registry as an optional dependency (@esbuild/linux-x64).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commandsDir = join(root, 'src', 'cli', 'commands');
const commands = readdirSync(commandsDir)
  .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'shared.ts')
  .map((f) => f.slice(0, -3));

// CommonJS: Node loads a required file with less work than an ES module (no linking phase), and the
// launcher needs one require. js-yaml, p-retry (ES-only: its default export does not survive a require) and
// undici (108 files otherwise, for every send) are bundled in; fastify and pino stay in node_modules (but
// see the daemon's bundle below).
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  external: ['fastify', '@fastify/*', 'pino', 'pino-*', 'playwright-core'],
  logLevel: 'warning',
  legalComments: 'none',
  // import() becomes require(): a command bundle then loads as a plain CommonJS file (an import() of one goes
  // through the ES module loader, which also scans the whole file for its exports), and bin/ois.js loads
  // every bundle with its own compiled-code cache.
  supported: { 'dynamic-import': false },
};

// The command list loads each command with import('./<name>.js'): in the bundle, that is the command's own
// file, kept out of main.js.
const lazyCommands = {
  name: 'lazy-commands',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      const name = args.path.slice(2, -3);
      if (!args.importer.endsWith(join('cli', 'commands', 'index.ts')) || !commands.includes(name))
        return null;
      return { path: `./commands/${name}.cjs`, external: true };
    });
  },
};

// undici's index loads all of undici (fetch, WebSocket, caches, mocks: node:zlib, node:dns, worker_threads).
// The transport needs Agent, its dispatch() and request(): the bundle's `undici` loads those at once and every
// other export on first use. (The idea and the two shims below come from a colleague's rolldown version.)
const require = createRequire(import.meta.url);
const undiciLib = (file) => JSON.stringify(require.resolve(`undici/lib/${file}`));
function slimUndici(index) {
  const names = Object.keys(require('undici')).filter((k) => k !== 'Agent');
  return `const Agent = require(${undiciLib('dispatcher/agent')});
const Dispatcher = require(${undiciLib('dispatcher/dispatcher')});
Object.assign(Dispatcher.prototype, require(${undiciLib('api')}));
let full;
const load = () => (full ??= require(${JSON.stringify(index)}));
exports.Agent = Agent;
for (const name of ${JSON.stringify(names)}) {
  Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });
}`;
}

// undici's HTTP/2 client requires node:http2 (and node:tls, ~15 ms) when it loads, only to read `constants`;
// OIS speaks HTTP/1.1. The constants are protocol numbers and header names that no Node version changes, so
// the build copies them and the module loads on first use of anything else.
async function lazyHttp2() {
  const { constants } = await import('node:http2');
  return `const constants = Object.freeze(${JSON.stringify(constants)});
let real;
module.exports = new Proxy({ constants }, {
  get(_, key) {
    if (key === 'constants') return constants;
    real ??= process.getBuiltinModule('node:http2');
    return real[key];
  },
});`;
}

// fastify requires node:https and node:http2 when it loads, for the servers it makes when given `https` or
// `http2` options, which OIS never gives; node:https loads node:tls with it. In the daemon's bundle both are
// loaded on first use instead.
const lazyHttps = {
  name: 'lazy-https',
  setup(b) {
    b.onResolve({ filter: /^(node:)?https$/ }, () => ({ path: 'https', namespace: 'ois-lazy' }));
    b.onLoad({ filter: /.*/, namespace: 'ois-lazy' }, () => ({
      contents: `let real;
module.exports = new Proxy({}, {
  get(_, key) {
    real ??= process.getBuiltinModule('node:https');
    return real[key];
  },
});`,
      loader: 'js',
    }));
  },
};

// `index`: what the shim requires for the rest of undici (bundled when it is undici's path).
const slimPlugin = (index) => ({
  name: 'slim-undici',
  setup(b) {
    b.onResolve({ filter: /^undici$/, namespace: 'ois-slim' }, () => ({ path: 'undici', external: true }));
    b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'ois-slim' }));
    b.onResolve({ filter: /^(node:)?http2$/ }, () => ({ path: 'http2', namespace: 'ois-slim' }));
    b.onLoad({ filter: /.*/, namespace: 'ois-slim' }, async (args) => ({
      contents: args.path === 'undici' ? slimUndici(index) : await lazyHttp2(),
      loader: 'js',
      resolveDir: root,
    }));
  },
});
const slim = slimPlugin(require.resolve('undici'));

// For the daemon: what its Agent does not load until it first connects, or never (the rest of undici), stays
// in node_modules: HTTP/1.1 parsers as WebAssembly in base64 text (llhttp, milo: 310 KB).
const undiciOnDemand = {
  name: 'undici-on-demand',
  setup(b) {
    b.onResolve({ filter: /\/(llhttp\/llhttp(_simd)?-wasm|milo\/(no-)?simd)\.js$/ }, (args) => ({
      path: `undici/lib/${args.path.split('/').slice(-2).join('/')}`,
      external: true,
    }));
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    outfile: join(root, 'dist', 'bundle', 'main.cjs'),
    plugins: [lazyCommands, slim],
  }),
  build({
    ...common,
    entryPoints: commands.filter((c) => c !== 'serve').map((name) => join(commandsDir, `${name}.ts`)),
    plugins: [slim],
    outdir: join(root, 'dist', 'bundle', 'commands'),
    outExtension: { '.js': '.cjs' },
  }),
  // The daemon idles most of its life: its bundle holds fastify and its plugins too, so that their
  // node:https and node:http2 (above) load only if used, and with them node:tls. With the 270 files of
  // fastify and ajv in one, an idle daemon is 4.8 MB smaller (79.4 MB).
  build({
    ...common,
    external: ['pino', 'pino-*', 'playwright-core'],
    entryPoints: [join(commandsDir, 'serve.ts')],
    plugins: [undiciOnDemand, slimPlugin('undici'), lazyHttps],
    outdir: join(root, 'dist', 'bundle', 'commands'),
    outExtension: { '.js': '.cjs' },
  }),
]);

// One non-ASCII character anywhere (a comment, a regular expression, a string: esbuild escapes only the
// strings) makes V8 hold the whole source as two bytes per character: 4 MB instead of 2 for serve.cjs, in
// every daemon. Every one becomes a \u escape, which means the same thing in a string, a template, a regular
// expression, an identifier or a comment; only a String.raw template would change, so one with such a
// character fails the build instead.
const out = join(root, 'dist', 'bundle');
for (const file of [
  join(out, 'main.cjs'),
  ...readdirSync(join(out, 'commands')).map((f) => join(out, 'commands', f)),
]) {
  const text = readFileSync(file, 'utf8');
  if (!/[\u0080-\uffff]/.test(text)) continue;
  for (const raw of text.matchAll(/String\.raw`[^`]*`/g)) {
    if (/[\u0080-\uffff]/.test(raw[0]))
      throw new Error(`${file}: a String.raw template holds a non-ASCII character; write it as \\u`);
  }
  const ascii = text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  writeFileSync(file, ascii);
}
