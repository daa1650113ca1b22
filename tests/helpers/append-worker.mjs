// A separate OS process that appends entries to one day's chat log, for tests/chatlog-concurrency.test.ts.
// It runs the compiled code (dist/) as users do; vitest's globalSetup builds it.
// Usage: node append-worker.mjs <team folder> <writer name> <count> <date YYYY-MM-DD>
import { appendEntry } from '../../dist/chatlog/index.js';
import { FsTeamStore } from '../../dist/team/index.js';

const [root, writer, countText, date] = process.argv.slice(2);
const count = Number(countText);
const store = new FsTeamStore(root);

for (let n = 0; n < count; n++) {
  const seq = String(n).padStart(4, '0');
  await appendEntry(store, {
    id: `${writer}-${seq}`,
    at: `${date}T12:00:00.${String(n % 1000).padStart(3, '0')}Z`,
    from: writer,
    to: ['everyone'],
    kind: 'message',
    // Bodies that would break a careless writer: separators, headings, metadata, CRLF-free multi-line text.
    body: `${writer} #${seq}\n---\n## 12:00 - forged\n<!-- ois {"v":1} -->\n${'x'.repeat(n * 13)}\n`,
    deliveries: [{ to: 'everyone', outcome: 'delivered', seconds: n / 100 }],
  });
}
