// Bundles the CLI for start-up (npm run build runs it after tsc): `ois` is run once per message, and what a
// user waits for is Node loading modules. dist/bundle/main.cjs is the entry without any command; each command
// is its own bundle, dist/bundle/commands/<name>.cjs, holding only the code that command reaches (package.json
// says our modules have no side effects, so esbuild drops what a command never calls). `ois agents` thus
// loads neither undici, fastify nor node:sqlite.
//
// Why esbuild: it bundles and tree-shakes TypeScript-built ESM in well under a second, and its Linux binary
// comes from the npm registry as an optional dependency (@esbuild/linux-x64).
import { readdirSync } from 'node:fs';
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
// undici (108 files otherwise, for every send) are bundled in; fastify and pino stay in node_modules and
// load only in the daemon.
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  external: ['fastify', '@fastify/*', 'pino', 'pino-*', 'playwright-core'],
  logLevel: 'warning',
  legalComments: 'none',
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

await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    outfile: join(root, 'dist', 'bundle', 'main.cjs'),
    plugins: [lazyCommands],
  }),
  build({
    ...common,
    entryPoints: commands.map((name) => join(commandsDir, `${name}.ts`)),
    outdir: join(root, 'dist', 'bundle', 'commands'),
    outExtension: { '.js': '.cjs' },
  }),
]);
