// A separate OS process using one instance's outbox, for tests/outbox-processes.test.ts. It runs the compiled
// code (dist/) as `ois send` and the daemon do; vitest's globalSetup builds it.
//
// node outbox-worker.mjs enqueue <home> <prefix> <count> <peer> [<start at, epoch ms> [<pause ms>]]
//   waits until the start time (so that several workers really run at the same time), opens the outbox, then
//   enqueues <prefix>-0000 ... in order and prints each id on its own line once `enqueue` has returned
//   (stdout to a pipe is synchronous on Linux, so a printed id was stored before the parent could see it).
//   With a pause, waits that long between messages, as separate `ois send` runs would.
// node outbox-worker.mjs claim <home> [<start at, epoch ms>]
//   claims due messages like the daemon, prints each claimed id, marks it delivered; exits when nothing is
//   pending any more.
import { Outbox } from '../../dist/federation/outbox.js';

const [mode, home, ...rest] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const waitUntil = (at) => (at ? sleep(Math.max(0, Number(at) - Date.now())) : undefined);

if (mode === 'enqueue') {
  const [prefix, countText, peer, startAt, pauseText] = rest;
  const count = Number(countText);
  const pause = Number(pauseText ?? 0);
  await waitUntil(startAt);
  // Opened after the start time: creating (or recovering) the database at the same time is part of the test.
  const outbox = Outbox.open(home);
  for (let n = 0; n < count; n++) {
    const id = `${prefix}-${String(n).padStart(4, '0')}`;
    outbox.enqueue({
      id,
      peer,
      payload: JSON.stringify({ n, text: `message ${n} from ${prefix}` }),
      mode: 'federated',
    });
    process.stdout.write(`${id}\n`);
    if (pause > 0) await sleep(pause);
  }
  outbox.close();
} else if (mode === 'claim') {
  await waitUntil(rest[0]);
  const outbox = Outbox.open(home);
  for (;;) {
    const batch = outbox.claimDue(2, 60_000);
    for (const m of batch) {
      process.stdout.write(`${m.id}\n`);
      outbox.markDelivered(m.id);
    }
    // A pause between rounds, as the daemon's loop has: lets the other claimer in.
    await sleep(1);
    if (batch.length === 0) {
      const { queued, inflight } = outbox.counts();
      if (queued + inflight === 0) break;
    }
  }
  outbox.close();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
