import { OisError } from '../../errors.js';
import { loadIdentity } from '../../membership/index.js';
import {
  fetchSkill,
  installedSkills,
  installSkill,
  listSkills,
  publishSkill,
  uninstallSkill,
  workspaceOf,
} from '../../skills/index.js';
import type { Command } from '../command.js';
import { table } from '../io.js';

const USAGE =
  'usage: ois skills ls | show NAME | publish DIR [--version V] | install NAME [--version V] [--workspace DIR] | update | uninstall NAME | installed';

export const command: Command = {
  spec: {
    name: 'skills',
    summary: 'Team skills: publish an OpenClaw skill, list, show, install into a workspace, update',
    usage: [
      'skills ls [--json]',
      'skills show NAME [--version V]',
      'skills publish DIR [--version V]',
      'skills install NAME [--version V] [--workspace DIR] [--force]',
      'skills update [--workspace DIR]',
      'skills uninstall NAME [--workspace DIR]',
      'skills installed [--workspace DIR]',
    ],
    options: {
      version: {
        type: 'string',
        value: 'V',
        description: 'A version, MAJOR.MINOR.PATCH (default: the latest; publish: the next)',
      },
      workspace: {
        type: 'string',
        value: 'DIR',
        description:
          "The OpenClaw workspace (default: the local openclaw.json's, else ~/.openclaw/workspace)",
      },
      force: {
        type: 'boolean',
        description: 'install: replace a folder of that name that ois did not install',
      },
    },
    args: { min: 1, max: 2 },
    examples: ['ois skills publish ./skills/nas-check', 'ois skills install nas-check', 'ois skills ls'],
    notes: ['specs/skills.md: what is checked at publish and at install.'],
  },
  async run(ctx) {
    const [sub, arg] = ctx.args.positionals;
    const config = ctx.initialisedConfig();
    const store = ctx.team();
    const version = ctx.args.values.version as string | undefined;
    const workspace = async () => workspaceOf(ctx.io.env, ctx.args.values.workspace as string | undefined);
    switch (sub) {
      case 'ls': {
        const list = await listSkills(store, config.home);
        if (ctx.json) ctx.printJson({ skills: list });
        else if (list.length === 0) ctx.print('no team skills yet: ois skills publish DIR');
        else
          ctx.print(
            table(
              ['NAME', 'VERSION', 'PUBLISHER', 'VERIFIED', 'DESCRIPTION'],
              list.map((s) => [
                s.name,
                s.version,
                s.publisher,
                s.verified ? 'yes' : `no: ${s.problem}`,
                s.description,
              ]),
            ),
          );
        return undefined;
      }
      case 'show': {
        const { manifest, files } = await fetchSkill(store, config.home, need(arg, 'show'), version);
        if (ctx.json) ctx.printJson({ manifest, skill: files.get('SKILL.md')?.toString('utf8') ?? '' });
        else {
          ctx.print(
            `${manifest.name} ${manifest.version}, published by ${manifest.publisher} at ${manifest.publishedAt} (signature and hashes verified)`,
          );
          ctx.print(`  ${manifest.description}`);
          for (const f of manifest.files)
            ctx.print(`  ${f.path}  ${f.size} bytes  sha256 ${f.sha256.slice(0, 16)}…`);
          ctx.print('');
          ctx.print(files.get('SKILL.md')?.toString('utf8') ?? '');
        }
        return undefined;
      }
      case 'publish': {
        const identity = await loadIdentity(config.home);
        if (!identity)
          throw new OisError('OIS_ERR_IDENTITY_MISSING', `${config.home} has no signing key`, {
            hint: 'run ois init again',
          });
        const manifest = await publishSkill(
          store,
          config.home,
          { name: config.name, identity },
          need(arg, 'publish'),
          version,
        );
        if (ctx.json) ctx.printJson({ ok: true, manifest });
        else
          ctx.print(
            `published ${manifest.name} ${manifest.version} (${manifest.files.length} files, signed by ${manifest.publisher})`,
          );
        return undefined;
      }
      case 'install': {
        const ws = await workspace();
        const r = await installSkill(store, config.home, need(arg, 'install'), {
          workspace: ws,
          ...(version ? { version } : {}),
          force: ctx.args.values.force === true,
        });
        if (ctx.json) ctx.printJson({ ok: true, dir: r.dir, provenance: r.provenance });
        else
          ctx.print(
            `installed ${r.manifest.name} ${r.manifest.version} into ${r.dir} (by ${r.manifest.publisher}, verified)`,
          );
        return undefined;
      }
      case 'update': {
        const ws = await workspace();
        const latest = new Map((await listSkills(store, config.home)).map((s) => [s.name, s.version]));
        const done: { name: string; from: string; to: string }[] = [];
        for (const p of await installedSkills(ws)) {
          const to = latest.get(p.name);
          if (!to || to === p.version) continue;
          await installSkill(store, config.home, p.name, { workspace: ws, version: to });
          done.push({ name: p.name, from: p.version, to });
        }
        if (ctx.json) ctx.printJson({ ok: true, updated: done });
        else if (done.length === 0) ctx.print('every installed team skill is the latest');
        else for (const d of done) ctx.print(`updated ${d.name} ${d.from} → ${d.to}`);
        return undefined;
      }
      case 'uninstall': {
        const dir = await uninstallSkill(await workspace(), need(arg, 'uninstall'));
        if (ctx.json) ctx.printJson({ ok: true, removed: dir });
        else ctx.print(`removed ${dir}`);
        return undefined;
      }
      case 'installed': {
        const list = await installedSkills(await workspace());
        if (ctx.json) ctx.printJson({ skills: list });
        else if (list.length === 0) ctx.print('no team skills installed in this workspace');
        else
          ctx.print(
            table(
              ['NAME', 'VERSION', 'PUBLISHER', 'INSTALLED'],
              list.map((p) => [p.name, p.version, p.publisher, p.installedAt.slice(0, 16)]),
            ),
          );
        return undefined;
      }
      default:
        throw new OisError(
          'OIS_ERR_USAGE',
          sub ? `unknown subcommand "skills ${sub}"` : 'missing subcommand',
          { hint: USAGE },
        );
    }
  },
};

function need(arg: string | undefined, sub: string): string {
  if (!arg) throw new OisError('OIS_ERR_USAGE', `skills ${sub} needs an argument`, { hint: USAGE });
  return arg;
}
