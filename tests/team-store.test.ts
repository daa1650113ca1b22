import { describe, expect, it } from 'vitest';
import { cachedRegistry } from '../src/registry/index.js';
import { FsTeamStore, MemoryTeamStore } from '../src/team/index.js';
import { tempDir } from './helpers/cli.js';
import { teamStoreContract } from './helpers/team-store-contract.js';

teamStoreContract('file system', async () => new FsTeamStore(await tempDir('ois-store-')));
teamStoreContract('memory', async () => new MemoryTeamStore());

describe('registry - cachedRegistry', () => {
  it('registry - AGENTS.md is parsed again only when the store says it changed', async () => {
    const store = new MemoryTeamStore();
    let reads = 0;
    const read = store.read.bind(store);
    store.read = async (rel) => {
      reads++;
      return read(rel);
    };
    const block = (name: string) =>
      `## ${name}\n\n\`\`\`yaml ois-agent\nname: ${name}\nrole: member\nstatus: active\n\`\`\`\n`;
    await store.writeAtomic('AGENTS.md', `# Team\n\n${block('alpha')}`);
    const registry = cachedRegistry(store);
    expect((await registry()).agents.map((a) => a.name)).toEqual(['alpha']);
    await registry();
    await registry();
    expect(reads).toBe(1);
    await store.writeAtomic('AGENTS.md', `# Team\n\n${block('alpha')}\n${block('beta')}`);
    expect((await registry()).agents.map((a) => a.name)).toEqual(['alpha', 'beta']);
    expect(reads).toBe(2);
  });
});
