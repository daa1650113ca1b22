import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OisError } from '../../errors.js';
import { loadIdentity } from '../../membership/index.js';
import { OIS_SKILL_MD, OIS_SKILL_NAME, publishSkill, workspaceOf } from '../../skills/index.js';
import type { Command } from '../command.js';

export const command: Command = {
  spec: {
    name: 'skill',
    summary: 'The OIS skill: teach an assistant without the plugin to work in the team with ois',
    usage: ['skill install [--workspace DIR]', 'skill publish', 'skill show'],
    options: {
      workspace: {
        type: 'string',
        value: 'DIR',
        description:
          "The OpenClaw workspace (default: the local openclaw.json's, else ~/.openclaw/workspace)",
      },
    },
    args: { min: 1, max: 1 },
    examples: ['ois skill install', 'ois skill publish'],
    notes: [
      'install writes <workspace>/skills/ois/SKILL.md; publish makes it the team skill "ois" (ois skills install ois).',
    ],
  },
  async run(ctx) {
    const [sub] = ctx.args.positionals;
    if (sub === 'show') {
      if (ctx.json) ctx.printJson({ name: OIS_SKILL_NAME, skill: OIS_SKILL_MD });
      else ctx.io.stdout.write(OIS_SKILL_MD);
      return undefined;
    }
    if (sub === 'install') {
      const ws = await workspaceOf(ctx.io.env, ctx.args.values.workspace as string | undefined);
      const dir = join(ws, 'skills', OIS_SKILL_NAME);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'SKILL.md'), OIS_SKILL_MD);
      if (ctx.json) ctx.printJson({ ok: true, dir });
      else ctx.print(`installed the OIS skill into ${dir}`);
      return undefined;
    }
    if (sub === 'publish') {
      const config = ctx.initialisedConfig();
      const identity = await loadIdentity(config.home);
      if (!identity)
        throw new OisError('OIS_ERR_IDENTITY_MISSING', `${config.home} has no signing key`, {
          hint: 'run ois init again',
        });
      const tmp = await mkdtemp(join(tmpdir(), 'ois-skill-'));
      try {
        const dir = join(tmp, OIS_SKILL_NAME);
        await mkdir(dir);
        await writeFile(join(dir, 'SKILL.md'), OIS_SKILL_MD);
        const manifest = await publishSkill(ctx.team(), config.home, { name: config.name, identity }, dir);
        if (ctx.json) ctx.printJson({ ok: true, manifest });
        else
          ctx.print(
            `published the OIS skill as team skill ${manifest.name} ${manifest.version}: every member can run ois skills install ois`,
          );
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return undefined;
    }
    throw new OisError('OIS_ERR_USAGE', `unknown subcommand "skill ${sub}"`, {
      hint: 'usage: ois skill install | publish | show',
    });
  },
};
