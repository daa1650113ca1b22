import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `<home>/daemon.json`: what `ois serve` records while it runs. */
export const DAEMON_STATE_FILE = 'daemon.json';

export interface DaemonState {
  pid: number;
  port: number;
  url: string;
  startedAt: string;
}

/** The running daemon of an instance home, if any (its state file names a live process). */
export async function runningDaemon(home: string): Promise<DaemonState | null> {
  let state: DaemonState;
  try {
    state = JSON.parse(await readFile(join(home, DAEMON_STATE_FILE), 'utf8')) as DaemonState;
  } catch {
    return null;
  }
  try {
    process.kill(state.pid, 0);
    return state;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? state : null;
  }
}
