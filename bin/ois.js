#!/usr/bin/env node
// The `ois` command. Kept tiny: an assistant runs it once per message, so start-up time is what users pay.
import module, { createRequire } from 'node:module';

// Reuse V8's compiled code across runs (Node >= 22.1); a miss costs nothing but the first run.
module.enableCompileCache?.();

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
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  signal: controller.signal,
});
// main() decides the exit code of a stopped command too: 130, or 0 for a service stopped by SIGTERM.
process.exitCode = code;

async function loadMain() {
  try {
    return createRequire(import.meta.url)('../dist/bundle/main.cjs');
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('main.cjs')) throw err;
    return import('../dist/cli/main.js');
  }
}
