import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { FolderChatLog } from '../src/chatlog/index.js';
import { connectNatsTeam, NatsChatLog, type NatsTeam } from '../src/nats/index.js';
import { FsTeamStore } from '../src/team/index.js';
import { chatLogContract } from './helpers/chatlog-contract.js';
import { describeNats, type NatsServers, startNats, uniqueTeam } from './helpers/nats.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('chat log - folder backend', () => {
  chatLogContract('folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ois-chat-contract-'));
    dirs.push(dir);
    return new FolderChatLog(new FsTeamStore(dir));
  });
});

describeNats('chat log - NATS backend (one real nats-server)', () => {
  let servers: NatsServers;
  const teams: NatsTeam[] = [];
  beforeAll(async () => {
    servers = await startNats();
  });
  afterAll(async () => {
    for (const team of teams.splice(0)) await team.close();
    await servers?.stop();
  });
  chatLogContract('nats', async () => {
    const team = await connectNatsTeam({ servers: servers.servers, team: uniqueTeam() });
    teams.push(team);
    return NatsChatLog.open(team);
  });
});
