// Loaded with `node --import` by tests/startup.test.ts: records every module a process loads (ES modules,
// CommonJS files and node: builtins) and writes the list to $OIS_RECORD_MODULES when the process exits.
// Builtins also appear as `builtin:<name>` when they loaded by any way at all (Node's own modules load
// others, and process.getBuiltinModule passes no hook).
import { writeFileSync } from 'node:fs';
import Module, { registerHooks } from 'node:module';

const seen = new Set();
registerHooks({
  load(url, context, next) {
    seen.add(url);
    return next(url, context);
  },
});
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const resolved = request.startsWith('node:')
    ? request
    : (() => {
        try {
          return Module._resolveFilename(request, parent, isMain);
        } catch {
          return request;
        }
      })();
  seen.add(resolved);
  return load.apply(this, [request, parent, isMain]);
};
process.on('exit', () => {
  for (const entry of process.moduleLoadList) {
    if (entry.startsWith('NativeModule ')) seen.add(`builtin:${entry.slice('NativeModule '.length)}`);
  }
  writeFileSync(process.env.OIS_RECORD_MODULES, [...seen].join('\n'));
});
