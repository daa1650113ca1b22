import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './helpers/cli.js';
import { describeNats, type NatsServers, startNats, uniqueTeam } from './helpers/nats.js';
import { makeTeam, ok, type TestTeam } from './helpers/team.js';

/** Every file under a folder, by relative path, with its bytes (locks and temp files are never there at rest). */
async function tree(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`;
    if ((await stat(join(dir, path))).isDirectory()) {
      out.set(`${path}/`, '');
      for (const [k, v] of await tree(dir, path)) out.set(k, v);
    } else out.set(path, (await readFile(join(dir, path))).toString('base64'));
  }
  return out;
}

describeNats('NATS transfer - a folder team moves onto NATS and back, nothing lost', () => {
  let servers: NatsServers;
  let team: TestTeam;
  beforeAll(async () => {
    servers = await startNats();
    team = await makeTeam(['alpha', 'beta']);
  }, 60_000);
  afterAll(async () => {
    await team?.close();
    await servers?.stop();
  });

  it('NATS transfer - import then export gives back the same folder, byte for byte; members keep their place', async () => {
    const { alpha, beta } = team.agents;
    // A team with history: messages, a shared file, team memory.
    await ok(alpha!, ['send', 'beta', 'before the move']);
    await ok(beta!, ['send', 'alpha', 'a reply\n\nwith two paragraphs']);
    const file = join(await tempDir('ois-transfer-'), 'notes.md');
    await writeFile(file, '# Notes\n\nshared before the move\n');
    await ok(alpha!, ['share', 'put', file]);
    await ok(alpha!, ['memory', 'put', 'release', 'every second Tuesday']);
    const before = await tree(team.dir);
    expect([...before.keys()].some((k) => k.startsWith('chat/') && k.endsWith('.md'))).toBe(true);

    // The owner moves the team: a new team on NATS, then the folder into it.
    const url = `${servers.servers[0]}/${uniqueTeam('moved')}`;
    await ok(alpha!, ['init', '--team', url]);
    const imported = JSON.parse((await ok(alpha!, ['import', '--from', team.dir, '--json'])).stdout);
    expect(imported.files).toBeGreaterThan(3);
    // Run again: nothing is copied twice.
    const again = JSON.parse((await ok(alpha!, ['import', '--from', team.dir, '--json'])).stdout);
    expect(again).toMatchObject({ files: 0, unchanged: imported.files + imported.unchanged });

    // The other member points at NATS and is who it was: active, its records verified.
    await ok(beta!, ['init', '--team', url]);
    const agents = JSON.parse((await ok(beta!, ['agents', '--json'])).stdout);
    expect(agents.agents.map((a: { name: string; status: string }) => [a.name, a.status])).toEqual([
      ['alpha', 'active'],
      ['beta', 'active'],
    ]);

    // Back to a folder: exactly what was there.
    const out = join(await tempDir('ois-transfer-out-'), 'team');
    await ok(beta!, ['export', '--to', out]);
    expect(await tree(out)).toEqual(before);

    // Into a folder that holds files: refused, unless --force.
    const refused = await beta!.ois(['export', '--to', out, '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.code).toBe('OIS_ERR_USAGE');
    await ok(beta!, ['export', '--to', out, '--force']);
    // And the team goes on on NATS.
    expect((await ok(beta!, ['memory', 'get', 'release'])).stdout).toContain('every second Tuesday');

    // Another team's folder cannot be merged into this one.
    const other = await makeTeam(['zed']);
    const merge = await alpha!.ois(['import', '--from', other.dir, '--json']);
    expect(merge.code).toBe(2);
    expect(JSON.parse(merge.stdout).error).toMatchObject({ code: 'OIS_ERR_USAGE' });
    await other.close();
  }, 90_000);
});
