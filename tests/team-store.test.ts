import { FsTeamStore, MemoryTeamStore } from '../src/team/index.js';
import { tempDir } from './helpers/cli.js';
import { teamStoreContract } from './helpers/team-store-contract.js';

teamStoreContract('file system', async () => new FsTeamStore(await tempDir('ois-store-')));
teamStoreContract('memory', async () => new MemoryTeamStore());
