import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runningDaemon } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { readPresence, type SendReport, TASK_STATES, type TaskState } from '../../federation/index.js';
import { loadTeamView } from '../../membership/index.js';
import {
  knownTask,
  sendTask,
  syncFromChat,
  type Task,
  type TaskContext,
  TaskStore,
  TERMINAL,
  updateTask,
} from '../../tasks/index.js';
import type { Command, CommandContext } from '../command.js';
import { readStdinText, table } from '../io.js';

const USAGE =
  'usage: ois task send NAME TEXT | send --to-capability CAP TEXT | update ID --status S [--result TEXT|-] | ls | show ID | cancel ID | wait ID';

export const command: Command = {
  spec: {
    name: 'task',
    summary: 'Delegate tasks to peers and track them: send, update, list, show, cancel, wait',
    usage: [
      'task send NAME TEXT [--context FILE] [--priority low|normal|high] [--due TIME]',
      'task send --to-capability CAP TEXT',
      'task update ID --status STATUS [--result TEXT|-] [--attach FILE]',
      'task ls [--mine|--assigned] [--status S] [--json]',
      'task show ID',
      'task cancel ID',
      'task wait ID [--timeout SECONDS]',
    ],
    options: {
      'to-capability': {
        type: 'string',
        value: 'CAP',
        description: 'Pick the agent: active, not offline, with this capability, fewest open tasks',
      },
      context: {
        type: 'string',
        multiple: true,
        value: 'FILE',
        description: 'A file for the task: put in shared/ and named in it',
      },
      priority: { type: 'string', value: 'P', description: 'low, normal (default) or high' },
      due: {
        type: 'string',
        value: 'TIME',
        description: 'ISO-8601 time, or a duration from now (90m, 4h, 2d)',
      },
      status: {
        type: 'string',
        value: 'STATUS',
        description: 'working, input_required, completed, failed, rejected, canceled',
      },
      result: {
        type: 'string',
        value: 'TEXT',
        description: 'What was done, or the question (input_required); - reads stdin',
      },
      attach: {
        type: 'string',
        multiple: true,
        value: 'FILE',
        description: 'A result file: put in shared/ and named in the update',
      },
      mine: { type: 'boolean', description: 'Only tasks this instance delegated' },
      assigned: { type: 'boolean', description: 'Only tasks given to this instance' },
      timeout: { type: 'string', value: 'SECONDS', description: 'How long task wait waits (default 300)' },
    },
    args: { min: 1, max: 30 },
    examples: [
      'ois task send beta "Summarise shared/report.pdf" --priority high --due 4h',
      'ois task update 01JD… --status completed --result "Summary in shared/summary.md"',
      'ois task ls --assigned --status submitted',
    ],
    notes: ['specs/tasks.md has the states and who may move a task where.'],
  },
  async run(ctx) {
    const [sub, ...rest] = ctx.args.positionals;
    const config = ctx.initialisedConfig();
    const tasks = TaskStore.open(config.home);
    try {
      const store = ctx.team();
      const tctx: TaskContext = {
        config,
        env: ctx.io.env,
        store,
        registry: async () => (await loadTeamView(store, config.home)).registry,
        tasks,
        daemonRuns: (await runningDaemon(config.home)) !== null,
        warn: (m, h) => ctx.warn(m, h),
      };
      switch (sub) {
        case 'send':
          return await send(ctx, tctx, rest);
        case 'update':
          return await update(ctx, tctx, one(rest, 'update'), statusOf(ctx.args.values.status));
        case 'cancel':
          return await update(ctx, tctx, one(rest, 'cancel'), 'canceled');
        case 'ls':
          return await list(ctx, tctx, rest);
        case 'show':
          return await show(ctx, tctx, one(rest, 'show'));
        case 'wait':
          return await wait(ctx, tctx, one(rest, 'wait'));
        default:
          throw new OisError(
            'OIS_ERR_USAGE',
            sub ? `unknown subcommand "task ${sub}"` : 'missing subcommand',
            {
              hint: USAGE,
            },
          );
      }
    } finally {
      tasks.close();
    }
  },
};

function one(rest: string[], sub: string): string {
  if (rest.length !== 1)
    throw new OisError('OIS_ERR_USAGE', `task ${sub} takes one task ID`, { hint: USAGE });
  return rest[0]!;
}

function statusOf(value: unknown): TaskState {
  if (
    typeof value !== 'string' ||
    !(TASK_STATES as readonly string[]).includes(value) ||
    value === 'submitted'
  ) {
    throw new OisError(
      'OIS_ERR_USAGE',
      `--status must be one of working, input_required, completed, failed, rejected, canceled`,
      {
        hint: 'ois task update ID --status completed --result "…"',
      },
    );
  }
  return value as TaskState;
}

function anyStatus(value: unknown): TaskState {
  if (typeof value !== 'string' || !(TASK_STATES as readonly string[]).includes(value)) {
    throw new OisError('OIS_ERR_USAGE', `--status must be one of ${TASK_STATES.join(', ')}`, {
      hint: 'ois task ls --status working',
    });
  }
  return value as TaskState;
}

async function files(ctx: CommandContext, value: unknown): Promise<{ path: string; data: Uint8Array }[]> {
  const list = Array.isArray(value) ? (value as string[]) : typeof value === 'string' ? [value] : [];
  return Promise.all(
    list.map(async (p) => {
      const path = resolve(ctx.io.cwd, p);
      try {
        return { path, data: await readFile(path) };
      } catch (err) {
        throw new OisError(
          'OIS_ERR_USAGE',
          `cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          {
            hint: 'give a file that exists',
          },
        );
      }
    }),
  );
}

function delivery(report: SendReport): string {
  return report.deliveries
    .map((d) => `${d.to} ${d.outcome}${d.error ? ` (${d.error.code})` : ''}`)
    .join(', ');
}

async function send(ctx: CommandContext, t: TaskContext, rest: string[]): Promise<number | undefined> {
  const { values } = ctx.args;
  const capability = values['to-capability'] as string | undefined;
  const [name, ...words] = capability === undefined ? rest : [null, ...rest];
  if (capability === undefined && (name === undefined || words.length === 0)) {
    throw new OisError('OIS_ERR_USAGE', 'task send needs NAME and TEXT', { hint: USAGE });
  }
  const text =
    words.length === 1 && words[0] === '-'
      ? (await readStdinText(ctx.io.stdin, 'the task on standard input')).replace(/\r?\n+$/, '')
      : words.join(' ');
  const presence = capability === undefined ? {} : await readPresence(t.config.home);
  const { task, report } = await sendTask(t, {
    to: name ?? null,
    ...(capability === undefined ? {} : { capability }),
    text,
    ...(typeof values.priority === 'string' ? { priority: values.priority } : {}),
    ...(typeof values.due === 'string' ? { due: values.due } : {}),
    context: await files(ctx, values.context),
    presence,
  });
  if (ctx.json) {
    ctx.printJson({
      ok: true,
      task,
      deliveries: report.deliveries.map(({ error, ...d }) => ({
        ...d,
        ...(error ? { error: error.toJSON() } : {}),
      })),
    });
    return report.deliveries.some((d) => d.outcome === 'failed') ? 5 : undefined;
  }
  ctx.print(task.id);
  ctx.print(`  task for ${task.to}: ${delivery(report)}`);
  if (task.routedBy) ctx.print(`  routed by ${task.routedBy}`);
  ctx.print(`  follow it: ois task wait ${task.id}`);
  return report.deliveries.some((d) => d.outcome === 'failed') ? 5 : undefined;
}

async function update(
  ctx: CommandContext,
  t: TaskContext,
  id: string,
  status: TaskState,
): Promise<number | undefined> {
  const { values } = ctx.args;
  const raw = values.result as string | undefined;
  const result =
    raw === '-'
      ? (await readStdinText(ctx.io.stdin, 'the result on standard input')).replace(/\r?\n+$/, '')
      : raw;
  const { task, report } = await updateTask(t, {
    id,
    status,
    ...(result === undefined ? {} : { result }),
    attach: await files(ctx, values.attach),
  });
  if (ctx.json) {
    ctx.printJson({
      ok: true,
      task,
      deliveries: report.deliveries.map(({ error, ...d }) => ({
        ...d,
        ...(error ? { error: error.toJSON() } : {}),
      })),
    });
    return undefined;
  }
  ctx.print(`${task.id} is ${task.status}: ${delivery(report)}`);
  return undefined;
}

async function list(ctx: CommandContext, t: TaskContext, rest: string[]): Promise<number | undefined> {
  if (rest.length > 0) throw new OisError('OIS_ERR_USAGE', 'task ls takes no arguments', { hint: USAGE });
  const { values } = ctx.args;
  for (const open of t.tasks.list({ self: t.config.name }).filter((x) => !TERMINAL.has(x.status))) {
    await syncFromChat(t, open.id);
  }
  const rows = t.tasks.list({
    self: t.config.name,
    mine: values.mine === true,
    assigned: values.assigned === true,
    ...(values.status === undefined ? {} : { status: anyStatus(values.status) }),
  });
  if (ctx.json) {
    ctx.printJson({ tasks: rows });
    return undefined;
  }
  if (rows.length === 0) {
    ctx.print('no tasks');
    return undefined;
  }
  ctx.print(
    table(
      ['ID', 'FROM', 'TO', 'STATUS', 'PRIORITY', 'UPDATED', 'TASK'],
      rows.map((r) => [
        r.id,
        r.from,
        r.to,
        r.status,
        r.priority,
        r.updatedAt.slice(0, 16).replace('T', ' '),
        oneLine(r.text),
      ]),
    ),
  );
  return undefined;
}

function oneLine(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

async function show(ctx: CommandContext, t: TaskContext, id: string): Promise<number | undefined> {
  const task = await knownTask(t, id);
  const events = t.tasks.events(id);
  if (ctx.json) {
    ctx.printJson({ task, events });
    return undefined;
  }
  printTask(ctx, task);
  for (const e of events)
    ctx.print(
      `  ${e.at.slice(0, 19).replace('T', ' ')}  ${e.by.padEnd(12)} ${e.status}${e.note ? `: ${oneLine(e.note)}` : ''}`,
    );
  return undefined;
}

function printTask(ctx: CommandContext, task: Task): void {
  ctx.print(
    `${task.id}  ${task.from} → ${task.to}  ${task.status}  (${task.priority}${task.due ? `, due ${task.due}` : ''})`,
  );
  ctx.print(`  ${task.text.split('\n').join('\n  ')}`);
  if (task.routedBy) ctx.print(`  routed by ${task.routedBy}`);
  if (task.result) ctx.print(`  result: ${task.result}`);
}

async function wait(ctx: CommandContext, t: TaskContext, id: string): Promise<number | undefined> {
  const raw = ctx.args.values.timeout;
  const seconds = raw === undefined ? 300 : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new OisError('OIS_ERR_USAGE', `--timeout ${String(raw)} is not a number of seconds`, {
      hint: 'e.g. --timeout 60',
    });
  }
  const deadline = Date.now() + seconds * 1000;
  const signal = ctx.io.signal;
  for (;;) {
    const task = await knownTask(t, id);
    if (TERMINAL.has(task.status)) {
      if (ctx.json) ctx.printJson({ ok: true, task });
      else printTask(ctx, task);
      return task.status === 'completed' ? undefined : 5;
    }
    if (Date.now() >= deadline) {
      throw new OisError('OIS_ERR_PEER_BUSY', `task ${id} is still ${task.status} after ${seconds} s`, {
        hint: `wait longer: ois task wait ${id} --timeout 600`,
        details: { status: task.status },
      });
    }
    try {
      await sleep(500, undefined, signal ? { signal } : {});
    } catch {
      throw new OisError('OIS_ERR_INTERRUPTED', `stopped waiting for ${id}`);
    }
  }
}
