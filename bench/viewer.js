// The viewer's share of `npm run bench`: server time of the first page of a day holding 10,000 entries
// (issue 6: under 200 ms), cold (the day file parsed) and warm (served from the parse cache).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { dayHeader, formatEntry } from '../dist/chatlog/index.js';
import { loadConfig } from '../dist/config/index.js';
import { loadRegistry } from '../dist/registry/index.js';
import { viewerPlugin } from '../dist/server/viewer/plugin.js';
import { FsTeamStore } from '../dist/team/index.js';

export async function benchViewer({ entries = 10_000, warmRuns = 20 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ois-bench-viewer-'));
  try {
    const date = '2026-11-21';
    await mkdir(join(dir, 'chat'));
    await writeFile(join(dir, 'AGENTS.md'), '# Team\n');
    const parts = [dayHeader(date)];
    for (let i = 0; i < entries; i++) {
      const at = new Date(Date.parse(`${date}T00:00:00Z`) + i * 8000).toISOString();
      parts.push(
        formatEntry({
          id: `bench-${i}`,
          at,
          from: i % 2 ? 'alpha' : 'beta',
          to: [i % 2 ? 'beta' : 'alpha'],
          kind: 'message',
          body: `message ${i}: the **plan** for \`today\`\nsecond line`,
          deliveries: [{ to: i % 2 ? 'beta' : 'alpha', outcome: 'delivered', seconds: 0.02 }],
        }),
      );
    }
    await writeFile(join(dir, 'chat', `${date}.md`), parts.join(''));
    const store = new FsTeamStore(dir);
    const config = loadConfig({
      env: { OIS_HOME: join(dir, 'home'), OIS_NAME: 'alpha', OIS_TEAM: dir },
      cwd: dir,
    });
    const app = Fastify();
    await app.register(viewerPlugin, {
      store,
      registry: () => loadRegistry(store),
      config,
      presence: async () => ({}),
      outbox: {
        list: () => [],
        retryNow: () => {
          throw new Error('no');
        },
        drop: () => {
          throw new Error('no');
        },
      },
      send: async () => ({}),
      auth: { required: false, token: null },
    });
    // Booted first (plugins, routes, their schemas compiled): the figure is the first page's server time.
    await app.ready();
    const page = async () => {
      const t = performance.now();
      const res = await app.inject({
        method: 'GET',
        url: `/api/chat/day/${date}?limit=100`,
        headers: { host: '127.0.0.1' },
      });
      const ms = performance.now() - t;
      if (res.statusCode !== 200)
        throw new Error(`viewer answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
      return { ms, count: res.json().entries.length };
    };
    const cold = await page();
    const warm = [];
    for (let i = 0; i < warmRuns; i++) warm.push((await page()).ms);
    warm.sort((a, b) => a - b);
    await app.close();
    return { entries, coldMs: cold.ms, warmMs: warm[warm.length >> 1], pageSize: cold.count };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
