// One of N concurrent chat-log writers for the throughput benchmark.
// Usage: node append-worker.js <team folder> <writer> <count> <date>
import { appendEntry } from '../dist/chatlog/index.js';
import { FsTeamStore } from '../dist/team/index.js';

const [root, writer, countText, date] = process.argv.slice(2);
const store = new FsTeamStore(root);
for (let n = 0; n < Number(countText); n++) {
  await appendEntry(store, {
    id: `${writer}-${String(n).padStart(5, '0')}`,
    at: `${date}T12:00:00.000Z`,
    from: writer,
    to: ['everyone'],
    kind: 'message',
    body: `benchmark entry ${n} from ${writer}\nsecond line`,
    deliveries: [{ to: 'everyone', outcome: 'delivered', seconds: 0.01 }],
  });
}
