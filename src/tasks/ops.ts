import { basename } from 'node:path';
import { type ParsedChatEntry, queryChat } from '../chatlog/index.js';
import type { Env, InstanceConfig } from '../config/index.js';
import { isOisError, OisError } from '../errors.js';
import {
  type Envelope,
  messageIdTime,
  newMessageId,
  type PeerPresence,
  type SendReport,
  sendAs,
  type TaskState,
} from '../federation/index.js';
import { type Agent, agentId, findAgent, type Registry } from '../registry/index.js';
import { putShared, type TeamStore } from '../team/index.js';
import { checkUpdate, TERMINAL } from './rules.js';
import type { Task, TaskStore } from './store.js';

/** What every task operation needs: this instance, its team, the registry as the membership view gives it. */
export interface TaskContext {
  config: InstanceConfig & { name: string };
  env: Env;
  store: TeamStore;
  registry: () => Promise<Registry>;
  tasks: TaskStore;
  daemonRuns: boolean;
  warn?: (message: string, hint?: string) => void;
}

/**
 * The text an assistant reads: the OIS "Task Request" template (../shared/reference/ois-formats.md) with
 * the task id and the exact commands that answer it.
 */
export function taskRequestText(task: Pick<Task, 'id' | 'text' | 'priority' | 'due'>): string {
  return [
    'Task Request:',
    '',
    'Type: task',
    `Description: ${task.text}`,
    `Priority: ${task.priority}`,
    `Deadline: ${task.due ?? 'none'}`,
    `RequestID: ${task.id}`,
    '',
    'Answer with ois (the delegator sees each change):',
    `  ois task update ${task.id} --status working`,
    `  ois task update ${task.id} --status completed --result "what you did"`,
    `  (or --status input_required --result "your question", failed, rejected)`,
  ].join('\n');
}

/** The line an update puts into the other side's session. */
function updateText(task: Task, status: TaskState, by: string, note: string | null): string {
  return [
    `Task ${status === 'completed' ? 'Complete' : 'Update'}:`,
    '',
    `RequestID: ${task.id}`,
    `Status: ${status}`,
    `By: ${by}`,
    ...(note ? [`Result: ${note}`] : []),
  ].join('\n');
}

const PRIORITIES = ['low', 'normal', 'high'] as const;

export interface SendTaskInput {
  /** By name, or null with `capability`. */
  to: string | null;
  capability?: string;
  text: string;
  priority?: string;
  due?: string;
  /** Files to put in shared/ and name in the task. */
  context?: { path: string; data: Uint8Array }[];
  presence?: Record<string, PeerPresence>;
}

/** Delegates a task: recorded here (submitted), sent signed to its assignee, logged as kind `task`. */
export async function sendTask(
  ctx: TaskContext,
  input: SendTaskInput,
): Promise<{ task: Task; report: SendReport }> {
  const priority = (input.priority ?? 'normal') as Task['priority'];
  if (!PRIORITIES.includes(priority)) {
    throw new OisError('OIS_ERR_USAGE', `unknown priority "${input.priority}"`, {
      hint: 'low, normal or high',
    });
  }
  const due = input.due === undefined ? null : parseDue(input.due);
  if (input.text.trim() === '') {
    throw new OisError('OIS_ERR_MESSAGE_EMPTY', 'the task has no text', { hint: 'say what needs doing' });
  }
  const registry = await ctx.registry();
  let routedBy: string | null = null;
  let to: Agent;
  if (input.to !== null) {
    const a = findAgent(registry, input.to);
    if (!a)
      throw new OisError('OIS_ERR_AGENT_UNKNOWN', `no agent ${input.to}`, { hint: 'ois agents lists them' });
    to = a;
  } else {
    const picked = pickByCapability(
      registry,
      ctx.config.name,
      input.capability ?? '',
      input.presence ?? {},
      ctx.tasks.openCounts(),
    );
    to = picked.agent;
    routedBy = picked.why;
  }
  let text = input.text;
  for (const file of input.context ?? []) {
    const shared = await putShared(ctx.store, basename(file.path), file.data, {
      uploader: ctx.config.name,
      overwrite: true,
    });
    text += `\nContext: shared/${shared.name} (${shared.size} bytes, sha256 ${(shared.sha256 ?? '').slice(0, 12)}…)`;
  }
  const now = new Date();
  const id = newMessageId(now.getTime());
  const task: Task = {
    id,
    conversation: id,
    from: ctx.config.name,
    to: to.name,
    text,
    priority,
    due,
    status: 'submitted',
    result: null,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    routedBy,
  };
  const report = await sendAs({
    config: ctx.config,
    env: ctx.env,
    store: ctx.store,
    registry: ctx.registry,
    to: { names: [to.name] },
    body: taskRequestText(task),
    queue: true,
    daemonRuns: ctx.daemonRuns,
    id,
    thread: {
      type: 'task',
      conversation: id,
      hops: 0,
      task: { id, status: 'submitted', priority, ...(due ? { due } : {}) },
    },
    ...(ctx.warn ? { warn: ctx.warn } : {}),
  });
  ctx.tasks.add(task);
  return { task: ctx.tasks.get(id)!, report };
}

/** Which active agent with the capability works the task: online first, then the fewest open tasks. */
export function pickByCapability(
  registry: Registry,
  self: string,
  capability: string,
  presence: Record<string, PeerPresence>,
  open: Map<string, number>,
): { agent: Agent; why: string } {
  const want = capability.trim().toLowerCase();
  if (want === '')
    throw new OisError('OIS_ERR_USAGE', '--to-capability needs a word', {
      hint: 'e.g. --to-capability research',
    });
  const candidates = registry.agents
    .filter((a) => a.id !== agentId(self) && a.status === 'active')
    .filter((a) => a.capabilities.some((c) => c.toLowerCase() === want))
    .map((a) => ({ agent: a, up: presence[a.name]?.status === 'up', open: open.get(a.id) ?? 0 }))
    .filter((c) => presence[c.agent.name]?.status !== 'down');
  if (candidates.length === 0) {
    throw new OisError(
      'OIS_ERR_NO_CAPABLE_AGENT',
      `no active agent that is not offline has the capability "${capability}"`,
      {
        hint: 'ois agents shows capabilities and presence; agents add theirs with ois join --capabilities',
      },
    );
  }
  candidates.sort(
    (a, b) => Number(b.up) - Number(a.up) || a.open - b.open || a.agent.name.localeCompare(b.agent.name),
  );
  const [best, ...rest] = candidates;
  const describe = (c: (typeof candidates)[number]) =>
    `${c.agent.name} (${c.up ? 'online' : 'presence unknown'}, ${c.open} open task${c.open === 1 ? '' : 's'})`;
  const why = `capability ${want}: ${describe(best!)}${rest.length ? ` over ${rest.map(describe).join(', ')}` : ''}`;
  return { agent: best!.agent, why };
}

export interface UpdateTaskInput {
  id: string;
  status: TaskState;
  result?: string | null;
  attach?: { path: string; data: Uint8Array }[];
}

/**
 * Changes a task as this instance: checked by the rules against the task as this instance knows it (from
 * its store, brought up to date from the chat log first), recorded, then sent to the other side and logged.
 */
export async function updateTask(
  ctx: TaskContext,
  input: UpdateTaskInput,
): Promise<{ task: Task; report: SendReport }> {
  const task = await knownTask(ctx, input.id);
  let note = input.result ?? null;
  for (const file of input.attach ?? []) {
    const shared = await putShared(ctx.store, basename(file.path), file.data, {
      uploader: ctx.config.name,
      overwrite: true,
    });
    note = `${note ? `${note}\n` : ''}Attached: shared/${shared.name} (${shared.size} bytes)`;
  }
  const at = new Date();
  const eventId = newMessageId(at.getTime());
  const updated = ctx.tasks.update({
    id: eventId,
    taskId: task.id,
    at: at.toISOString(),
    by: ctx.config.name,
    status: input.status,
    note,
  });
  const other = agentId(task.from) === agentId(ctx.config.name) ? task.to : task.from;
  const report = await sendAs({
    config: ctx.config,
    env: ctx.env,
    store: ctx.store,
    registry: ctx.registry,
    to: { names: [other] },
    body: updateText(updated, input.status, ctx.config.name, note),
    queue: true,
    daemonRuns: ctx.daemonRuns,
    id: eventId,
    thread: {
      type: 'task_update',
      replyTo: task.id,
      conversation: task.conversation,
      hops: 0,
      task: { id: task.id, status: input.status },
    },
    ...(ctx.warn ? { warn: ctx.warn } : {}),
  });
  return { task: updated, report };
}

/** The task as this instance knows it: its store, brought up to date from the chat log (the shared record). */
export async function knownTask(ctx: Pick<TaskContext, 'store' | 'tasks'>, id: string): Promise<Task> {
  await syncFromChat(ctx, id);
  const task = ctx.tasks.get(id);
  if (!task) {
    throw new OisError('OIS_ERR_TASK_NOT_FOUND', `no task ${id} in this instance or the chat log`, {
      hint: 'ois task ls lists the tasks this instance knows',
    });
  }
  return task;
}

/**
 * Applies what the chat log says of a task that this instance's store does not have yet: the task entry
 * (a task delivered straight to the gateway, with no daemon to record it) and every update since. An
 * update the rules refuse (someone who is not a party) is ignored, as a forged one must be.
 */
export async function syncFromChat(ctx: Pick<TaskContext, 'store' | 'tasks'>, id: string): Promise<void> {
  const known = ctx.tasks.get(id);
  if (known && TERMINAL.has(known.status)) return;
  const since = new Date((known ? Date.parse(known.createdAt) : (messageIdTime(id) ?? Date.now())) - 60_000);
  const entries = (await queryChat(ctx.store, { since })).filter((e) => e.task?.id === id);
  for (const e of entries) {
    if (e.kind === 'task' && !ctx.tasks.get(id)) ctx.tasks.add(taskFromEntry(e));
    if (e.kind === 'task_update' && ctx.tasks.get(id)) {
      try {
        ctx.tasks.update({
          id: e.id,
          taskId: id,
          at: e.at,
          by: e.from,
          status: e.task!.status as TaskState,
          note: noteOf(e.body),
        });
      } catch (err) {
        if (!isOisError(err)) throw err;
      }
    }
  }
}

/** Records what a daemon received: a task given to this instance, or an update of one. */
export function recordEnvelope(tasks: TaskStore, envelope: Envelope, sender: Agent, self: string): void {
  if (envelope.type === 'task' && envelope.task) {
    tasks.add({
      id: envelope.task.id,
      conversation: envelope.conversation ?? envelope.task.id,
      from: sender.name,
      to: self,
      text: descriptionOf(envelope.body),
      priority: envelope.task.priority ?? 'normal',
      due: envelope.task.due ?? null,
      status: 'submitted',
      result: null,
      createdAt: envelope.createdAt,
      updatedAt: envelope.createdAt,
      routedBy: null,
    });
  }
  if (envelope.type === 'task_update' && envelope.task && tasks.get(envelope.task.id)) {
    tasks.update({
      id: envelope.id,
      taskId: envelope.task.id,
      at: envelope.createdAt,
      by: sender.name,
      status: envelope.task.status,
      note: noteOf(envelope.body),
    });
  }
}

/** Before a daemon delivers an update: refused when the rules refuse it (the sender is not a party…). */
export function checkEnvelope(tasks: TaskStore, envelope: Envelope, sender: Agent): void {
  if (envelope.type !== 'task_update' || !envelope.task) return;
  const task = tasks.get(envelope.task.id);
  if (!task) return;
  if (tasks.events(task.id).some((e) => e.id === envelope.id)) return;
  checkUpdate(task, sender.name, envelope.task.status);
}

function taskFromEntry(e: ParsedChatEntry): Task {
  return {
    id: e.task!.id,
    conversation: e.task!.id,
    from: e.from,
    to: e.to[0] ?? '',
    text: descriptionOf(e.body),
    priority: (/^Priority: (low|normal|high)$/m.exec(e.body)?.[1] as Task['priority']) ?? 'normal',
    due: /^Deadline: (\S+Z)$/m.exec(e.body)?.[1] ?? null,
    status: 'submitted',
    result: null,
    createdAt: e.at,
    updatedAt: e.at,
    routedBy: null,
  };
}

function descriptionOf(body: string): string {
  const m = /^Description: ([\s\S]*?)\nPriority: /m.exec(body);
  return m ? m[1]! : body;
}

function noteOf(body: string): string | null {
  const m = /^Result: ([\s\S]*)$/m.exec(body);
  return m ? m[1]! : null;
}

function parseDue(text: string): string {
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    const m = /^(\d+)([mhd])$/.exec(text.trim());
    if (!m) {
      throw new OisError('OIS_ERR_USAGE', `--due ${text} is not a time`, {
        hint: 'an ISO-8601 time (2026-12-02T18:00:00Z) or a duration from now (90m, 4h, 2d)',
      });
    }
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() + Number(m[1]) * unit).toISOString();
  }
  return new Date(t).toISOString();
}
