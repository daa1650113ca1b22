// Loaded with `node --import` by tests/startup.test.ts: records every module a process loads (ES modules,
// CommonJS files and node: builtins) and writes the list to $OIS_RECORD_MODULES when the process exits.
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
process.on('exit', () => writeFileSync(process.env.OIS_RECORD_MODULES, [...seen].join('\n')));
