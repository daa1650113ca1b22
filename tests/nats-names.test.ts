import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  agentToken,
  chatSubjectDate,
  inboxPrefix,
  inboxSubjectSender,
  natsTeamName,
  serversForDisplay,
  teamNames,
} from '../src/nats/index.js';
import { ROOT } from './helpers/spec-blocks.js';

describe('nats names - the mapping of specs/nats.md', () => {
  it('nats names - the examples of the spec', () => {
    const n = teamNames('home-lab');
    expect(n.chatStream).toBe('OIS_home-lab_CHAT');
    expect(n.chatSubjects).toBe('ois.home-lab.chat.>');
    expect(n.chatSubject('2026-11-21', 'alpha')).toBe('ois.home-lab.chat.2026-11-21.alpha');
    expect(n.chatDay('2026-11-21')).toBe('ois.home-lab.chat.2026-11-21.*');
    expect(n.inboxStream('beta')).toBe('OIS_home-lab_INBOX_beta');
    expect(n.inboxSubjects('beta')).toBe('ois.home-lab.inbox.beta.*');
    expect(n.inboxSubject('beta', 'alpha')).toBe('ois.home-lab.inbox.beta.alpha');
    expect(chatSubjectDate('ois.home-lab.chat.2026-11-21.alpha')).toBe('2026-11-21');
    expect(chatSubjectDate('ois.home-lab.inbox.beta.alpha')).toBeNull();
    expect(inboxSubjectSender('ois.home-lab.inbox.beta.alpha')).toBe('alpha');
    expect(inboxPrefix('home-lab', 'Data Bot')).toBe('_INBOX_home-lab_data-bot');
    expect(inboxSubjectSender('ois.home-lab.chat.2026-11-21.alpha')).toBeNull();
  });

  it('nats names - agents become one subject token, never a wildcard or a separator', () => {
    expect(agentToken('Data Bot')).toBe('data-bot');
    expect(agentToken('a.b*c>d e')).toBe('a-b-c-d-e');
    expect(teamNames('t').inboxSubject('x.>', 'y *')).toBe('ois.t.inbox.x.y');
    expect(() => agentToken('...')).toThrow(expect.objectContaining({ code: 'OIS_ERR_USAGE' }));
  });

  it('nats names - team names are checked: OIS_ERR_NATS_TEAM_INVALID', () => {
    for (const ok of ['home-lab', 'a', 'team_2', '0x'.padEnd(64, 'x')]) expect(natsTeamName(ok)).toBe(ok);
    for (const bad of ['', 'Home', 'a.b', 'a b', '-a', 'a>', 'a*', 'x'.repeat(65)]) {
      expect(() => natsTeamName(bad)).toThrow(expect.objectContaining({ code: 'OIS_ERR_NATS_TEAM_INVALID' }));
    }
  });

  it('nats names - a password in a server URL never shows in a message', () => {
    expect(serversForDisplay(['nats://alice:s3cret@10.0.0.5:4222', 'nats://10.0.0.6:4222'])).toBe(
      'nats://***@10.0.0.5:4222, nats://10.0.0.6:4222',
    );
    expect(serversForDisplay(['tls://token@host:4222'])).toBe('tls://***@host:4222');
  });
});

describe('nats names - the client libraries load on first connect only', () => {
  it('nats names - importing the NATS backend loads no @nats-io module (a folder team never pays for it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ois-nats-lazy-'));
    try {
      const file = join(dir, 'modules.txt');
      const room = pathToFileURL(join(ROOT, 'dist', 'nats', 'index.js')).href;
      await promisify(execFile)(
        process.execPath,
        [
          '--import',
          join(ROOT, 'tests', 'helpers', 'record-modules.mjs'),
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(room)}); if (typeof m.connectNatsTeam !== 'function') process.exit(3);`,
        ],
        { env: { PATH: process.env.PATH, OIS_RECORD_MODULES: file } },
      );
      const loaded = (await readFile(file, 'utf8')).split('\n');
      expect(loaded.some((m) => m.includes(join('dist', 'nats', 'chat.js')))).toBe(true);
      expect(loaded.filter((m) => m.includes('@nats-io'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
