#!/usr/bin/env node
// The `ois` command. Kept tiny: an assistant runs it once per message, so start-up time is what users pay.
import module from 'node:module';

// Reuse V8's compiled code across runs (Node >= 22.1); a miss costs nothing but the first run.
module.enableCompileCache?.();

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
