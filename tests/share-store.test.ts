import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOisError, OisError } from '../src/errors.js';
import { FsTeamStore } from '../src/team/index.js';
import {
  getShared,
  listShared,
  putShared,
  removeShared,
  sharedName,
  sharedRefusal,
} from '../src/team/shared.js';
import { runNode, SHARE_WORKER } from './e2e/viewer-fixture.js';
import { tempDir } from './helpers/cli.js';

describe('share - store', () => {
  it('share - refuses names that could leave shared/', async () => {
    const dir = await tempDir('ois-share-');
    for (const name of [
      '',
      '.',
      '..',
      '../AGENTS.md',
      '/etc/passwd',
      'a/b',
      'a\\b',
      '..\\x',
      'a\0b',
      '%2F..%2Fx',
      '..%2fx',
      '%2e%2e',
      '%5cx',
      '.ois-meta',
      '.hidden',
      'x.lock',
      'x.',
      'x ',
      'line\nbreak',
    ]) {
      await expect(
        putShared(new FsTeamStore(dir), name, Buffer.from('x'), { uploader: 'alpha' }),
      ).rejects.toSatisfy(
        (err: unknown) => isOisError(err, 'OIS_ERR_SHARED_NAME_INVALID') && sharedRefusal(err) === 'bad-name',
      );
      await expect(getShared(new FsTeamStore(dir), name)).rejects.toSatisfy((err: unknown) =>
        isOisError(err, 'OIS_ERR_SHARED_NAME_INVALID'),
      );
      await expect(removeShared(new FsTeamStore(dir), name)).rejects.toSatisfy((err: unknown) =>
        isOisError(err, 'OIS_ERR_SHARED_NAME_INVALID'),
      );
    }
    expect(await readdir(dir)).toEqual([]);
    expect(sharedName('plan v2.md')).toBe('plan v2.md');
  });

  it('share - never follows a symlink in shared/', async () => {
    const dir = await tempDir('ois-share-');
    await mkdir(join(dir, 'shared'));
    await writeFile(join(dir, 'outside.txt'), 'secret');
    await symlink(join(dir, 'outside.txt'), join(dir, 'shared', 'link.txt'));
    await symlink('/etc/passwd', join(dir, 'shared', 'passwd'));
    await expect(getShared(new FsTeamStore(dir), 'link.txt')).rejects.toSatisfy(
      (err: unknown) => sharedRefusal(err) === 'not-a-file',
    );
    await expect(getShared(new FsTeamStore(dir), 'passwd')).rejects.toSatisfy(
      (err: unknown) => sharedRefusal(err) === 'not-a-file',
    );
    await expect(
      putShared(new FsTeamStore(dir), 'link.txt', Buffer.from('x'), { uploader: 'alpha', overwrite: true }),
    ).rejects.toSatisfy((err: unknown) => sharedRefusal(err) === 'not-a-file');
    await expect(removeShared(new FsTeamStore(dir), 'link.txt')).rejects.toSatisfy(
      (err: unknown) => sharedRefusal(err) === 'not-a-file',
    );
    expect(await readFile(join(dir, 'outside.txt'), 'utf8')).toBe('secret');
    expect(await listShared(new FsTeamStore(dir))).toEqual([]);
  });

  it('share - keeps metadata, refuses a silent overwrite, enforces the size limit', async () => {
    const dir = await tempDir('ois-share-');
    const at = new Date('2026-11-21T10:00:00.000Z');
    const info = await putShared(new FsTeamStore(dir), 'plan.md', Buffer.from('# Plan'), {
      uploader: 'alpha',
      now: () => at,
    });
    expect(info).toEqual({
      name: 'plan.md',
      size: 6,
      uploadedAt: '2026-11-21T10:00:00.000Z',
      uploader: 'alpha',
      sha256: createHash('sha256').update('# Plan').digest('hex'),
    });
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    await expect(
      putShared(new FsTeamStore(dir), 'plan.md', Buffer.from('other'), { uploader: 'beta' }),
    ).rejects.toSatisfy((err: unknown) => sharedRefusal(err) === 'exists');
    expect((await getShared(new FsTeamStore(dir), 'plan.md'))?.data.toString()).toBe('# Plan');
    await putShared(new FsTeamStore(dir), 'plan.md', Buffer.from('# Plan 2'), {
      uploader: 'beta',
      overwrite: true,
    });
    const got = await getShared(new FsTeamStore(dir), 'plan.md');
    expect(got?.data.toString()).toBe('# Plan 2');
    expect(got?.info.uploader).toBe('beta');
    await expect(
      putShared(new FsTeamStore(dir), 'big.bin', Buffer.alloc(11), { uploader: 'alpha', maxBytes: 10 }),
    ).rejects.toSatisfy((err: unknown) => sharedRefusal(err) === 'too-large');
    // A file put in by hand is listed from its stat; sidecars and locks are not listed.
    await writeFile(join(dir, 'shared', 'by-hand.txt'), 'hello');
    const list = await listShared(new FsTeamStore(dir));
    expect(list.map((f) => [f.name, f.uploader])).toEqual([
      ['by-hand.txt', null],
      ['plan.md', 'beta'],
    ]);
    expect(await removeShared(new FsTeamStore(dir), 'plan.md')).toBe(true);
    expect(await removeShared(new FsTeamStore(dir), 'plan.md')).toBe(false);
    expect(await getShared(new FsTeamStore(dir), 'plan.md')).toBeNull();
    expect(await readdir(join(dir, 'shared', '.ois-meta'))).toEqual([]);
  });

  it('share - each refusal has its own code, and the code its HTTP status and exit code', async () => {
    const dir = await tempDir('ois-share-');
    await mkdir(join(dir, 'shared'));
    await symlink('/etc/passwd', join(dir, 'shared', 'passwd'));
    const store = new FsTeamStore(dir);
    await putShared(store, 'plan.md', Buffer.from('x'), { uploader: 'alpha' });
    const refusals = await Promise.all(
      [
        putShared(store, '../x', Buffer.from('x'), { uploader: 'alpha' }),
        getShared(store, 'passwd'),
        putShared(store, 'plan.md', Buffer.from('y'), { uploader: 'alpha' }),
        putShared(store, 'big.bin', Buffer.alloc(11), { uploader: 'alpha', maxBytes: 10 }),
      ].map((p) =>
        p.then(
          () => null,
          (err: OisError) => [sharedRefusal(err), err.code, err.status, err.exitCode, err.details?.reason],
        ),
      ),
    );
    expect(refusals).toEqual([
      ['bad-name', 'OIS_ERR_SHARED_NAME_INVALID', 400, 2, 'bad-name'],
      ['not-a-file', 'OIS_ERR_SHARED_NOT_A_FILE', 400, 2, 'not-a-file'],
      ['exists', 'OIS_ERR_SHARED_EXISTS', 409, 2, 'exists'],
      ['too-large', 'OIS_ERR_SHARED_TOO_LARGE', 413, 2, 'too-large'],
    ]);
    // Another module's error is no refusal, even with the same details.
    expect(sharedRefusal(new OisError('OIS_ERR_USAGE', 'x', { details: { reason: 'exists' } }))).toBeNull();
  });

  it('share - concurrent puts from several processes keep consistent metadata', async () => {
    const dir = await tempDir('ois-share-');
    const writers = ['w1', 'w2', 'w3', 'w4'];
    const results = await Promise.all(writers.map((w) => runNode([SHARE_WORKER, dir, w, '8'], 15_000)));
    for (const r of results) expect(r).toEqual({ code: 0, stderr: '' });
    const list = await listShared(new FsTeamStore(dir));
    expect(list).toHaveLength(writers.length * 8 + 8);
    for (const f of list) {
      const got = await getShared(new FsTeamStore(dir), f.name);
      expect(f.uploader).not.toBeNull();
      expect(f.sha256).toBe(createHash('sha256').update(got!.data).digest('hex'));
      if (f.name.startsWith('contested-')) expect(got!.data.toString()).toBe(`${f.uploader}\n`);
      else expect(f.name.startsWith(`${f.uploader}-`)).toBe(true);
    }
    const names = await readdir(join(dir, 'shared'));
    expect(names.filter((n) => n.startsWith('.ois-tmp-'))).toEqual([]);
  }, 20_000);
});
