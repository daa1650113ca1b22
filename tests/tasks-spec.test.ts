import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOisError } from '../src/errors.js';
import { TASK_STATES, type TaskState } from '../src/federation/index.js';
import { checkUpdate, TASK_TRANSITIONS, TaskStore, TERMINAL } from '../src/tasks/index.js';
import { ROOT } from './helpers/spec-blocks.js';

const SPEC = readFileSync(join(ROOT, 'specs', 'tasks.md'), 'utf8');

function table(): Map<string, { from: string[]; by: string }> {
  const rows = SPEC.slice(SPEC.indexOf('<!-- task-transitions -->')).split('\n').slice(3);
  const out = new Map<string, { from: string[]; by: string }>();
  for (const row of rows) {
    if (!row.startsWith('|')) break;
    const [to, from, by] = row
      .split('|')
      .slice(1, 4)
      .map((c) => c.trim());
    out.set(to!, { from: from!.split(',').map((x) => x.trim()), by: by! });
  }
  return out;
}

describe('specs/tasks.md', () => {
  it('the table in the spec is the table in the code', () => {
    const t = table();
    expect([...t.keys()].sort()).toEqual(Object.keys(TASK_TRANSITIONS).sort());
    for (const [to, row] of t) {
      const rule = TASK_TRANSITIONS[to as keyof typeof TASK_TRANSITIONS];
      expect(row.by, to).toBe(rule.by);
      expect([...row.from].sort(), to).toEqual([...rule.from].sort());
    }
  });

  // Every (from, to, actor): allowed exactly when the table says so, else the code it names.
  const t = table();
  for (const from of TASK_STATES) {
    for (const to of TASK_STATES) {
      for (const actor of ['alpha', 'beta', 'gamma'] as const) {
        const row = t.get(to);
        const role = actor === 'beta' ? 'assignee' : actor === 'alpha' ? 'delegator' : null;
        const expected =
          role === null
            ? 'OIS_ERR_TASK_FORBIDDEN'
            : TERMINAL.has(from)
              ? 'OIS_ERR_TASK_TERMINAL'
              : !row
                ? 'OIS_ERR_TASK_TRANSITION'
                : row.by !== 'either' && row.by !== role
                  ? 'OIS_ERR_TASK_FORBIDDEN'
                  : !row.from.includes(from)
                    ? 'OIS_ERR_TASK_TRANSITION'
                    : null;
        it(`${from} → ${to} by ${role ?? 'a third agent'}: ${expected ?? 'allowed'}`, () => {
          const task = { id: 'T', from: 'alpha', to: 'beta', status: from as TaskState };
          let code: string | null = null;
          try {
            checkUpdate(task, actor, to as TaskState);
          } catch (err) {
            expect(isOisError(err)).toBe(true);
            code = (err as { code: string }).code;
          }
          expect(code).toBe(expected);
        });
      }
    }
  }
});

describe('tasks - names are compared as agent ids', () => {
  it('the store counts and filters by agent id, and the rules know a party by it', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const home = await mkdtemp(join(tmpdir(), 'ois-tasks-'));
    const tasks = TaskStore.open(home);
    try {
      const at = new Date().toISOString();
      const base = {
        conversation: 'c',
        text: 't',
        priority: 'normal' as const,
        due: null,
        result: null,
        createdAt: at,
        updatedAt: at,
        routedBy: null,
      };
      tasks.add({ ...base, id: 'T1', from: 'alpha', to: 'build_box', status: 'submitted' });
      tasks.add({ ...base, id: 'T2', from: 'alpha', to: 'Build_Box', status: 'working' });
      // ois agents and the capability routing key agents by id: build_box is build-box.
      expect(tasks.openCounts().get('build-box')).toBe(2);
      expect(tasks.list({ self: 'BUILD-BOX', assigned: true }).map((t) => t.id)).toEqual(['T1', 'T2']);
      expect(() =>
        checkUpdate(
          { id: 'T1', from: 'alpha', to: 'build_box', status: 'submitted' },
          'Build-Box',
          'working',
        ),
      ).not.toThrow();
    } finally {
      tasks.close();
    }
  });
});
