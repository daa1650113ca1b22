// A separate OS process that puts shared files, for the concurrency test of src/team/shared.ts.
// Usage: node share-worker.mjs <team folder> <uploader> <count>
import { FsTeamStore, putShared } from '../../dist/team/index.js';

const [root, uploader, countText] = process.argv.slice(2);
const store = new FsTeamStore(root);
for (let n = 0; n < Number(countText); n++) {
  const data = Buffer.from(`${uploader} file ${n}\n`.repeat(100 + n));
  await putShared(store, `${uploader}-${n}.txt`, data, { uploader });
  // The same name from every worker: exactly one must win, the others are refused, never overwritten.
  try {
    await putShared(store, `contested-${n}.txt`, Buffer.from(`${uploader}\n`), { uploader });
  } catch (err) {
    if (err?.details?.reason !== 'exists') throw err;
  }
}
