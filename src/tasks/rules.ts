import { OisError } from '../errors.js';
import type { TaskState } from '../federation/index.js';
import { agentId } from '../registry/index.js';

/** States after which nothing changes (A2A's terminal states). */
export const TERMINAL: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'canceled', 'rejected']);

/**
 * Who may move a task to a state, and from which (specs/tasks.md keeps the same table; a test holds them
 * equal). The assignee works the task; the delegator may only cancel it (or answer an `input_required`
 * by moving it back to `working` with its answer as the result text).
 */
export const TASK_TRANSITIONS: Record<
  Exclude<TaskState, 'submitted'>,
  { from: readonly TaskState[]; by: 'assignee' | 'delegator' | 'either' }
> = {
  working: { from: ['submitted', 'input_required'], by: 'either' },
  input_required: { from: ['submitted', 'working'], by: 'assignee' },
  completed: { from: ['submitted', 'working', 'input_required'], by: 'assignee' },
  failed: { from: ['submitted', 'working', 'input_required'], by: 'assignee' },
  rejected: { from: ['submitted'], by: 'assignee' },
  canceled: { from: ['submitted', 'working', 'input_required'], by: 'delegator' },
};

export interface TaskParties {
  id: string;
  from: string;
  to: string;
  status: TaskState;
}

/**
 * Checks one change of a task by `actor` (an agent id): a task after a terminal state never changes, only
 * its parties change it, each only in the ways the table allows. Throws the OisError to answer with.
 */
export function checkUpdate(task: TaskParties, actor: string, next: TaskState): void {
  const who = agentId(actor);
  const role = who === agentId(task.to) ? 'assignee' : who === agentId(task.from) ? 'delegator' : null;
  if (role === null) {
    throw new OisError(
      'OIS_ERR_TASK_FORBIDDEN',
      `${actor} is neither the delegator nor the assignee of ${task.id}`,
      {
        hint: `only ${task.from} (who delegated it) and ${task.to} (who works it) change it`,
      },
    );
  }
  if (TERMINAL.has(task.status)) {
    throw new OisError(
      'OIS_ERR_TASK_TERMINAL',
      `task ${task.id} is ${task.status}: it does not change any more`,
      {
        hint: 'delegate a new task: ois task send NAME TEXT',
      },
    );
  }
  if (next === 'submitted') {
    throw new OisError('OIS_ERR_TASK_TRANSITION', `a task is submitted only when it is sent`, {
      hint: 'statuses: working, input_required, completed, failed, rejected, canceled',
    });
  }
  const rule = TASK_TRANSITIONS[next];
  if (rule.by !== 'either' && rule.by !== role) {
    throw new OisError(
      'OIS_ERR_TASK_FORBIDDEN',
      `only the ${rule.by} of ${task.id} (${rule.by === 'assignee' ? task.to : task.from}) sets it ${next}`,
      {
        hint:
          role === 'delegator'
            ? `you delegated it: ois task cancel ${task.id}`
            : `you work it: ois task update ${task.id} --status completed|failed|…`,
      },
    );
  }
  if (!rule.from.includes(task.status)) {
    throw new OisError(
      'OIS_ERR_TASK_TRANSITION',
      `task ${task.id} is ${task.status}: it cannot become ${next}`,
      {
        hint: `${next} is for a task that is ${rule.from.join(' or ')}`,
      },
    );
  }
}
