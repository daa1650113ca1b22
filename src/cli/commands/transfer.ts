import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { OisError, storageError } from '../../errors.js';
import { MEMBERSHIP_FILE } from '../../membership/index.js';
import { type CopyReport, copyTeam, FsTeamStore, TEAM_PATHS, type TeamStore } from '../../team/index.js';
import type { Command, CommandContext } from '../command.js';

/** `ois export --to DIR`: the team, whatever its backend, as an OIS team folder. */
export const exportCommand: Command = {
  spec: {
    name: 'export',
    summary: 'Write the team (on NATS or a folder) as an OIS team folder: AGENTS.md, chat/*.md, shared/',
    usage: ['export --to DIR [--force]'],
    options: {
      to: { type: 'string', value: 'DIR', description: 'The folder to write (new or empty, unless --force)' },
      force: {
        type: 'boolean',
        description: "Write into a folder that already holds files: the team's replace theirs, others stay",
      },
    },
    args: { min: 0, max: 0 },
    examples: ['ois export --to /mnt/backup/team-2026-12-02', 'ois export --to ./team-copy --json'],
    notes: [
      'Every file of the team: the registry, the membership records, the chat log by day, shared files, team memory, skills and tasks. The chat day files are byte for byte what a team folder holds.',
      'A backup of a team on NATS, or the way back to a folder: point instances at the folder with ois init --team DIR.',
    ],
  },
  async run(ctx) {
    const dir = required(ctx, 'to', 'ois export --to DIR');
    const source = ctx.team();
    if (resolve(source.root) === dir) {
      throw new OisError('OIS_ERR_USAGE', `${dir} is the team folder itself`, {
        hint: 'export to another folder',
      });
    }
    if (ctx.args.values.force !== true && (await holdsFiles(dir))) {
      throw new OisError('OIS_ERR_USAGE', `${dir} already holds files`, {
        hint: 'export to a new or empty folder, or pass --force to replace what is there',
      });
    }
    const target = new FsTeamStore(dir);
    await target.ensureDir('');
    const report = await copyTeam(source, target);
    printReport(ctx, 'exported', source.root, dir, report);
    return undefined;
  },
};

/** `ois import --from DIR`: an OIS team folder into this instance's team (on NATS). */
export const importCommand: Command = {
  spec: {
    name: 'import',
    summary: "Copy an OIS team folder into this instance's team (a team on NATS), nothing lost",
    usage: ['import --from DIR'],
    options: {
      from: { type: 'string', value: 'DIR', description: 'The team folder to copy (it holds AGENTS.md)' },
    },
    args: { min: 0, max: 0 },
    examples: [
      'ois init --name alpha --team nats://10.147.17.2:4222/home-lab && ois import --from /mnt/nas/team',
    ],
    notes: [
      'The team the config names receives every file of the folder; the chat log entries are appended once each (running the import again copies nothing twice).',
      'It refuses a team that already has other membership records: an import moves a team, it does not merge two.',
      'Then each member runs ois init --team nats://… with its own name: its key and its place in the team stay the same.',
    ],
  },
  async run(ctx) {
    const dir = required(ctx, 'from', 'ois import --from DIR');
    const source = new FsTeamStore(dir);
    if ((await source.stat(TEAM_PATHS.registry))?.kind !== 'file') {
      throw new OisError('OIS_ERR_TEAM_NOT_FOUND', `${dir} is not a team folder: it has no AGENTS.md`, {
        hint: 'give the folder that holds AGENTS.md, chat/ and shared/',
      });
    }
    const target = ctx.team();
    if (resolve(target.root) === dir) {
      throw new OisError('OIS_ERR_USAGE', `${dir} is this instance's team already`, {
        hint: 'set up the team to import into first: ois init --team nats://HOST:4222/TEAM',
      });
    }
    await refuseOtherMembers(source, target);
    const report = await copyTeam(source, target);
    printReport(ctx, 'imported', dir, target.root, report);
    return undefined;
  },
};

function required(ctx: CommandContext, flag: string, usage: string): string {
  const value = ctx.args.values[flag] as string | undefined;
  if (!value) throw new OisError('OIS_ERR_USAGE', `missing --${flag}`, { hint: `usage: ${usage}` });
  return resolve(ctx.io.cwd, value);
}

async function holdsFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw storageError('read', dir, err);
  }
}

/** The target's membership records must be none, or the start of the folder's (an import run again). */
async function refuseOtherMembers(source: TeamStore, target: TeamStore): Promise<void> {
  const there = await target.read(MEMBERSHIP_FILE);
  if (there === null || there.length === 0) return;
  const here = (await source.read(MEMBERSHIP_FILE)) ?? Buffer.alloc(0);
  if (here.subarray(0, there.length).equals(there)) return;
  throw new OisError('OIS_ERR_USAGE', `${target.root} already is a team with other members`, {
    hint: 'import into a new team (another TEAM name in nats://HOST:4222/TEAM); an import moves a team, it does not merge two',
  });
}

function printReport(ctx: CommandContext, did: string, from: string, to: string, report: CopyReport): void {
  if (ctx.json) {
    ctx.printJson({
      from,
      to,
      files: report.written.length,
      unchanged: report.same,
      folders: report.folders,
      bytes: report.bytes,
    });
    return;
  }
  ctx.print(`${did} ${from} to ${to}`);
  ctx.print(
    `  ${report.written.length} files written (${report.bytes} bytes), ${report.same} already there, ${report.folders} folders`,
  );
}
