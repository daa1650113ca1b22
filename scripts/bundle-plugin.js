// Builds the OpenClaw plugin package in plugin/ (npm run build runs it after tsc): plugin/dist/index.js, an
// ES module holding the plugin and the OIS code it calls (with chunks it loads on demand), so an install needs nothing from npm but the host
// SDK, which OpenClaw links itself; and plugin/openclaw.plugin.json, the manifest OpenClaw reads before it
// loads any plugin code, made from the same tool list and config schema as the code (committed: a test
// checks the committed file is what the build makes).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pluginDir = join(root, 'plugin');

rmSync(join(pluginDir, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'plugin', 'entry.ts')],
  entryNames: 'index',
  outdir: join(pluginDir, 'dist'),
  bundle: true,
  // Split at each dynamic import, as the CLI loads its commands: what only `ois serve` reaches (fastify)
  // stays in a chunk the plugin never loads, instead of a top-level import of a package it does not ship.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // The host's SDK; and what only `ois serve` and the viewer load, which no tool runs.
  external: ['openclaw/*', 'fastify', '@fastify/*', 'pino-pretty', 'playwright-core'],
  // CommonJS dependencies (undici, js-yaml, ajv) call require(): give the ES module one.
  banner: {
    js: "import { createRequire as __oisCreateRequire } from 'node:module';\nconst require = __oisCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
});

const { PLUGIN_CONFIG_SCHEMA, PLUGIN_DEFINITION, TOOLS, VERIFIED_OPENCLAW } = await import(
  join(root, 'dist', 'plugin', 'index.js')
);
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const manifest = {
  id: PLUGIN_DEFINITION.id,
  name: PLUGIN_DEFINITION.name,
  description: PLUGIN_DEFINITION.description,
  version,
  categories: ['agent-orchestration'],
  activation: { onStartup: true },
  configSchema: PLUGIN_CONFIG_SCHEMA,
  contracts: { tools: TOOLS.map((t) => t.name) },
};
writeFileSync(join(pluginDir, 'openclaw.plugin.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const pkg = {
  name: 'openclaw-ois-plugin',
  version,
  description: PLUGIN_DEFINITION.description,
  license: 'MIT',
  type: 'module',
  files: ['dist', 'openclaw.plugin.json', 'README.md'],
  peerDependencies: { openclaw: `>=${VERIFIED_OPENCLAW}` },
  engines: { node: '>=22.19' },
  openclaw: {
    extensions: ['./dist/index.js'],
    compat: { pluginApi: `>=${VERIFIED_OPENCLAW}`, minGatewayVersion: VERIFIED_OPENCLAW },
    build: { openclawVersion: VERIFIED_OPENCLAW, pluginSdkVersion: VERIFIED_OPENCLAW },
  },
};
writeFileSync(join(pluginDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
