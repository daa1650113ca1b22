import { readFile, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { OisError, storageError } from '../../errors.js';
import { getShared, listShared, putShared, removeShared } from '../../team/index.js';
import type { Command } from '../command.js';
import { table } from '../io.js';

const USAGE_HINT = 'usage: ois share put FILE [--as NAME] [--force] | get NAME [--out FILE] | ls | rm NAME';

export const command: Command = {
  spec: {
    name: 'share',
    summary: "Put, get, list or remove files in the team folder's shared/",
    usage: [
      'share put FILE [--as NAME] [--force]',
      'share get NAME [--out FILE]',
      'share [ls]',
      'share rm NAME',
    ],
    options: {
      as: { type: 'string', value: 'NAME', description: 'The name in shared/ (default: the file name)' },
      force: { type: 'boolean', description: 'Replace a shared file of the same name' },
      out: {
        type: 'string',
        value: 'FILE',
        description: 'Where get writes (default: NAME here; - for stdout)',
      },
    },
    args: { min: 0, max: 2 },
    examples: [
      'ois share put notes/plan.md',
      'ois share put build.log --as nightly.log --force',
      'ois share get plan.md --out /tmp/plan.md',
      'ois share ls --json',
      'ois share rm nightly.log',
    ],
  },
  async run(ctx) {
    const [sub = 'ls', arg, extra] = ctx.args.positionals;
    const { values } = ctx.args;
    const need = (what: string): string => {
      if (arg === undefined)
        throw new OisError('OIS_ERR_USAGE', `missing ${what}`, { hint: `usage: ois share ${sub} ${what}` });
      return arg;
    };
    if (extra !== undefined)
      throw new OisError('OIS_ERR_USAGE', `unexpected argument "${extra}"`, { hint: USAGE_HINT });
    switch (sub) {
      case 'ls': {
        if (arg !== undefined)
          throw new OisError('OIS_ERR_USAGE', `unexpected argument "${arg}"`, { hint: USAGE_HINT });
        const files = await listShared(ctx.team());
        if (ctx.json) ctx.printJson({ files });
        else if (files.length === 0) ctx.print('no shared files');
        else
          ctx.print(
            table(
              ['NAME', 'SIZE', 'UPLOADED', 'BY', 'SHA-256'],
              files.map((f) => [
                f.name,
                String(f.size),
                f.uploadedAt,
                f.uploader ?? '',
                f.sha256?.slice(0, 12) ?? '',
              ]),
            ),
          );
        return;
      }
      case 'put': {
        const file = resolve(ctx.io.cwd, need('FILE'));
        const config = ctx.initialisedConfig();
        let data: Buffer;
        try {
          data = await readFile(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT')
            throw new OisError('OIS_ERR_USAGE', `no such file: ${file}`);
          throw storageError('read', file, err);
        }
        const name = typeof values.as === 'string' ? values.as : basename(file);
        const info = await putShared(ctx.team(), name, data, {
          uploader: config.name,
          overwrite: values.force === true,
        });
        if (ctx.json) ctx.printJson({ ok: true, file: info });
        else ctx.print(`shared/${info.name}: ${info.size} bytes, sha256 ${info.sha256}`);
        return;
      }
      case 'get': {
        const name = need('NAME');
        const found = await getShared(ctx.team(), name);
        if (!found) {
          throw new OisError('OIS_ERR_USAGE', `no shared file ${name}`, { hint: 'ois share ls lists them' });
        }
        const out = typeof values.out === 'string' ? values.out : found.info.name;
        if (out === '-') {
          if (ctx.json)
            throw new OisError('OIS_ERR_USAGE', '--out - and --json both want stdout', { hint: USAGE_HINT });
          ctx.io.stdout.write(found.data);
          return;
        }
        const path = resolve(ctx.io.cwd, out);
        try {
          // 'wx' unless --force: never clobber a local file by surprise either.
          await writeFile(path, found.data, { flag: values.force === true ? 'w' : 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new OisError('OIS_ERR_USAGE', `${path} exists already`, {
              hint: 'give another --out, or --force to replace it',
            });
          }
          throw storageError('write', path, err);
        }
        if (ctx.json) ctx.printJson({ ok: true, file: found.info, path });
        else ctx.print(`wrote ${path} (${found.info.size} bytes)`);
        return;
      }
      case 'rm': {
        const name = need('NAME');
        if (!(await removeShared(ctx.team(), name))) {
          throw new OisError('OIS_ERR_USAGE', `no shared file ${name}`, { hint: 'ois share ls lists them' });
        }
        if (ctx.json) ctx.printJson({ ok: true, removed: name });
        else ctx.print(`removed shared/${name}`);
        return;
      }
      default:
        throw new OisError('OIS_ERR_USAGE', `unknown subcommand "share ${sub}"`, { hint: USAGE_HINT });
    }
  },
};
