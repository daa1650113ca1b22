import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { OisError } from '../errors.js';
import type { TaskState } from '../federation/index.js';
import { agentId } from '../registry/index.js';
import { checkUpdate } from './rules.js';

/**
 * This instance's tasks, in `<home>/tasks.db` (SQLite, built into Node, as the outbox): the ones it
 * delegated and the ones it was given. WAL and synchronous FULL, so a task survives kill -9 of any process
 * of the instance; the team's chat log is the shared record (every change is an entry of kind `task` or
 * `task_update`), from which a task this instance never saw is imported.
 */
export const TASKS_FILE = 'tasks.db';

export interface Task {
  id: string;
  conversation: string;
  /** Who delegated it. */
  from: string;
  /** Who works it. */
  to: string;
  text: string;
  priority: 'low' | 'normal' | 'high';
  due: string | null;
  status: TaskState;
  /** The last result or note (for input_required: the question). */
  result: string | null;
  createdAt: string;
  updatedAt: string;
  /** Why this agent was picked, when it was routed by capability. */
  routedBy: string | null;
}

export interface TaskEvent {
  /** The message id that carried it (one change is recorded once, however often it arrives). */
  id: string;
  taskId: string;
  at: string;
  by: string;
  status: TaskState;
  note: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  conversation TEXT NOT NULL,
  from_agent TEXT NOT NULL,
  to_agent TEXT NOT NULL,
  text TEXT NOT NULL,
  priority TEXT NOT NULL,
  due TEXT,
  status TEXT NOT NULL,
  result TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  routed_by TEXT
);
CREATE TABLE IF NOT EXISTS task_events (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  at TEXT NOT NULL,
  by TEXT NOT NULL,
  status TEXT NOT NULL,
  note TEXT
);
CREATE INDEX IF NOT EXISTS task_events_by_task ON task_events (task_id, at);
PRAGMA user_version = 1;`;

type Row = Record<string, string | null>;

function toTask(r: Row): Task {
  return {
    id: r.id!,
    conversation: r.conversation!,
    from: r.from_agent!,
    to: r.to_agent!,
    text: r.text!,
    priority: r.priority as Task['priority'],
    due: r.due ?? null,
    status: r.status as TaskState,
    result: r.result ?? null,
    createdAt: r.created_at!,
    updatedAt: r.updated_at!,
    routedBy: r.routed_by ?? null,
  };
}

export class TaskStore {
  readonly file: string;
  readonly #db: DatabaseSync;

  private constructor(file: string, db: DatabaseSync) {
    this.file = file;
    this.#db = db;
  }

  static open(home: string): TaskStore {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const file = join(home, TASKS_FILE);
    try {
      const db = new DatabaseSync(file, { timeout: 5000 });
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
      db.exec(SCHEMA);
      return new TaskStore(file, db);
    } catch (err) {
      throw new OisError('OIS_ERR_STORAGE', `cannot open the task store ${file}: ${(err as Error).message}`, {
        hint: 'check the instance home is writable; move a damaged tasks.db aside (the chat log keeps every task)',
        cause: err,
      });
    }
  }

  close(): void {
    this.#db.close();
  }

  get(id: string): Task | null {
    const row = this.#db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
    return row ? toTask(row) : null;
  }

  /** Adds a task (a new one, or one learned from a peer or the chat log). Idempotent on its id. */
  add(task: Task): Task {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO tasks (id, conversation, from_agent, to_agent, text, priority, due, status, result,
           created_at, updated_at, routed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        task.id,
        task.conversation,
        task.from,
        task.to,
        task.text,
        task.priority,
        task.due,
        task.status,
        task.result,
        task.createdAt,
        task.updatedAt,
        task.routedBy,
      );
    return this.get(task.id)!;
  }

  /**
   * Records one change by `by`, after the rules allow it (checkUpdate). The same change (its message id)
   * arriving again is a no-op. Returns the task after it.
   */
  update(event: TaskEvent): Task {
    const task = this.get(event.taskId);
    if (!task) {
      throw new OisError('OIS_ERR_TASK_NOT_FOUND', `no task ${event.taskId} here`, {
        hint: 'ois task ls lists the tasks this instance knows',
      });
    }
    const seen = this.#db.prepare('SELECT 1 FROM task_events WHERE id = ?').get(event.id);
    if (seen) return task;
    checkUpdate(task, event.by, event.status);
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db
        .prepare('INSERT INTO task_events (id, task_id, at, by, status, note) VALUES (?, ?, ?, ?, ?, ?)')
        .run(event.id, event.taskId, event.at, event.by, event.status, event.note);
      this.#db
        .prepare('UPDATE tasks SET status = ?, result = COALESCE(?, result), updated_at = ? WHERE id = ?')
        .run(event.status, event.note, event.at, event.taskId);
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
    return this.get(event.taskId)!;
  }

  events(taskId: string): TaskEvent[] {
    return (
      this.#db.prepare('SELECT * FROM task_events WHERE task_id = ? ORDER BY at, id').all(taskId) as Row[]
    ).map((r) => ({
      id: r.id!,
      taskId: r.task_id!,
      at: r.at!,
      by: r.by!,
      status: r.status as TaskState,
      note: r.note ?? null,
    }));
  }

  list(
    filter: { self: string; mine?: boolean; assigned?: boolean; status?: TaskState } = { self: '' },
  ): Task[] {
    const rows = this.#db.prepare('SELECT * FROM tasks ORDER BY created_at, id').all() as Row[];
    const self = agentId(filter.self);
    return rows
      .map(toTask)
      .filter((t) => !filter.mine || agentId(t.from) === self)
      .filter((t) => !filter.assigned || agentId(t.to) === self)
      .filter((t) => !filter.status || t.status === filter.status);
  }

  /** Open tasks per assignee, by agent id (for routing by capability: ties go to the least busy). */
  openCounts(): Map<string, number> {
    const rows = this.#db
      .prepare(
        `SELECT to_agent AS agent, count(*) AS n FROM tasks
         WHERE status NOT IN ('completed', 'failed', 'canceled', 'rejected') GROUP BY to_agent`,
      )
      .all() as { agent: string; n: number }[];
    const out = new Map<string, number>();
    for (const r of rows) out.set(agentId(r.agent), (out.get(agentId(r.agent)) ?? 0) + Number(r.n));
    return out;
  }
}
