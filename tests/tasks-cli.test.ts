import { afterEach, describe, expect, it } from 'vitest';
import type { OisError } from '../src/errors.js';
import { newMessageId, parseHeader } from '../src/federation/index.js';
import { postSigned, serve, stopDaemons } from './helpers/daemon.js';
import { makeTeam, ok, type TestAgent, type TestTeam } from './helpers/team.js';
import { until } from './helpers/until.js';

/**
 * Tasks and replies between real `ois` processes and daemons, each instance next to a gateway simulator
 * (specs/tasks.md, specs/federation.md "Typed envelopes").
 */

let team: TestTeam | undefined;
afterEach(async () => {
  stopDaemons();
  await team?.close();
  team = undefined;
});

const json = (r: { stdout: string }) => JSON.parse(r.stdout);
const texts = (a: TestAgent) => a.sim.transcript('agent:main:main').map((m) => m.content);

describe('tasks - a round trip through every state, over federation', () => {
  it('delegate, work, ask, answer, complete: both sides see each change, in the sessions and the chat log', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    await serve(alpha!);
    await serve(beta!);
    // No gateway tokens between them: everything goes daemon to daemon.
    await alpha!.ois(['secrets', 'rm', 'beta']);
    await beta!.ois(['secrets', 'rm', 'alpha']);

    const sent = json(
      await ok(alpha!, [
        'task',
        'send',
        'beta',
        'Summarise the report',
        '--priority',
        'high',
        '--due',
        '2h',
        '--json',
      ]),
    );
    const id = sent.task.id as string;
    expect(sent.task).toMatchObject({ from: 'alpha', to: 'beta', status: 'submitted', priority: 'high' });
    expect(sent.deliveries).toEqual([
      expect.objectContaining({ to: 'beta', outcome: 'delivered', via: 'federated' }),
    ]);
    // beta's assistant reads the template with the id and the exact commands.
    const request = await until('the task in beta’s session', () =>
      texts(beta!).find((t) => t.includes(`RequestID: ${id}`)),
    );
    expect(request).toContain('Task Request:');
    expect(request).toContain(`ois task update ${id} --status completed --result`);
    // beta's daemon recorded it.
    expect(json(await ok(beta!, ['task', 'ls', '--assigned', '--json'])).tasks).toEqual([
      expect.objectContaining({
        id,
        from: 'alpha',
        to: 'beta',
        status: 'submitted',
        text: 'Summarise the report',
      }),
    ]);

    await ok(beta!, ['task', 'update', id, '--status', 'working']);
    await ok(beta!, ['task', 'update', id, '--status', 'input_required', '--result', 'Which report?']);
    await until(
      'alpha sees input_required',
      async () => json(await alpha!.ois(['task', 'show', id, '--json'])).task.status === 'input_required',
    );
    expect(
      texts(alpha!).some((t) => t.includes('Status: input_required') && t.includes('Which report?')),
    ).toBe(true);
    await ok(alpha!, ['task', 'update', id, '--status', 'working', '--result', 'shared/q3.pdf']);
    await until(
      'beta sees working',
      async () => json(await beta!.ois(['task', 'show', id, '--json'])).task.status === 'working',
    );
    await ok(beta!, [
      'task',
      'update',
      id,
      '--status',
      'completed',
      '--result',
      'Summary in shared/summary.md',
    ]);
    const waited = await alpha!.ois(['task', 'wait', id, '--timeout', '10', '--json']);
    expect(waited.code).toBe(0);
    expect(json(waited).task).toMatchObject({ status: 'completed', result: 'Summary in shared/summary.md' });

    const show = json(await ok(alpha!, ['task', 'show', id, '--json']));
    expect(show.events.map((e: { status: string; by: string }) => `${e.by}:${e.status}`)).toEqual([
      'beta:working',
      'beta:input_required',
      'alpha:working',
      'beta:completed',
    ]);
    const chat = json(await ok(alpha!, ['chat', '--json'])).entries;
    const kinds = chat
      .filter((e: { task?: { id: string } }) => e.task?.id === id)
      .map((e: { kind: string; task: { status: string } }) => `${e.kind}:${e.task.status}`);
    expect(kinds).toEqual([
      'task:submitted',
      'task_update:working',
      'task_update:input_required',
      'task_update:working',
      'task_update:completed',
    ]);

    // After a terminal state nothing changes; and only the parties change a task.
    const late = await beta!.ois(['task', 'update', id, '--status', 'failed']);
    expect(late.code).toBe(2);
    expect(late.stderr).toContain('OIS_ERR_TASK_TERMINAL');
  }, 90_000);

  it('who may move a task where: the assignee works it, the delegator cancels it, nobody else touches it', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const { alpha, beta, gamma } = team.agents as Record<string, TestAgent>;
    await serve(alpha!);
    await serve(beta!);
    await serve(gamma!);
    const id = json(await ok(alpha!, ['task', 'send', 'beta', 'Reindex the wiki', '--json'])).task
      .id as string;
    await until(
      'beta has it',
      async () => json(await beta!.ois(['task', 'ls', '--json'])).tasks.length === 1,
    );
    const byGamma = await gamma!.ois(['task', 'update', id, '--status', 'completed']);
    expect(byGamma.code).toBe(2);
    expect(byGamma.stderr).toContain('OIS_ERR_TASK_FORBIDDEN');
    const delegatorCompletes = await alpha!.ois(['task', 'update', id, '--status', 'completed']);
    expect(delegatorCompletes.stderr).toContain('OIS_ERR_TASK_FORBIDDEN');
    const assigneeCancels = await beta!.ois(['task', 'cancel', id]);
    expect(assigneeCancels.stderr).toContain('OIS_ERR_TASK_FORBIDDEN');
    const backwards = await beta!.ois(['task', 'update', id, '--status', 'rejected']);
    expect(backwards.code).toBe(0);
    const after = await alpha!.ois(['task', 'wait', id, '--timeout', '10']);
    expect(after.code).toBe(5);
    expect(after.stdout).toContain('rejected');

    // A forged update straight to alpha's daemon, signed by gamma, is refused there and changes nothing.
    const id2 = json(await ok(alpha!, ['task', 'send', 'beta', 'Second one', '--json'])).task.id as string;
    const err = (await postSigned(gamma!.home, alpha!.home, {
      from: 'gamma',
      to: 'alpha',
      body: 'Task Complete:\n\nRequestID: x\nStatus: completed',
      type: 'task_update',
      replyTo: id2,
      conversation: id2,
      hops: 0,
      task: { id: id2, status: 'completed' },
    })) as OisError;
    expect(err.code).toBe('OIS_ERR_TASK_FORBIDDEN');
    expect(json(await ok(alpha!, ['task', 'show', id2, '--json'])).task.status).toBe('submitted');
    const cancel = await alpha!.ois(['task', 'cancel', id2]);
    expect(cancel.code).toBe(0);
  }, 90_000);

  it('a task survives kill -9 of either daemon: queued, then delivered once both are back', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    const a = await serve(alpha!);
    const b = await serve(beta!);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    await beta!.ois(['secrets', 'rm', 'alpha']);
    const id = json(await ok(alpha!, ['task', 'send', 'beta', 'Back up the NAS', '--json'])).task
      .id as string;
    await until(
      'beta has it',
      async () => json(await beta!.ois(['task', 'ls', '--json'])).tasks.length === 1,
    );
    b.child.kill('SIGKILL');
    a.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    // beta works the task while alpha's daemon is down: the update waits in beta's outbox.
    const upd = json(
      await ok(beta!, ['task', 'update', id, '--status', 'completed', '--result', 'backed up', '--json']),
    );
    expect(upd.deliveries[0].outcome).toBe('queued');
    await serve(alpha!, a.port, { keepToken: true });
    await serve(beta!, b.port, { keepToken: true });
    const done = await alpha!.ois(['task', 'wait', id, '--timeout', '20', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(json(done).task.status).toBe('completed');
    // Once: the update reached alpha's session one time.
    await until('alpha’s session has the completion', () =>
      texts(alpha!).some((t) => t.includes('Status: completed')),
    );
    expect(texts(alpha!).filter((t) => t.includes('Status: completed'))).toHaveLength(1);
  }, 90_000);

  it('without daemons: the task goes to the gateway, and the assignee learns it from the chat log', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    const id = json(await ok(alpha!, ['task', 'send', 'beta', 'Rotate the logs', '--json'])).task
      .id as string;
    expect(texts(beta!).some((t) => t.includes(`RequestID: ${id}`))).toBe(true);
    await ok(beta!, ['task', 'update', id, '--status', 'completed', '--result', 'rotated']);
    const done = await alpha!.ois(['task', 'wait', id, '--timeout', '10', '--json']);
    expect(json(done).task).toMatchObject({ status: 'completed', result: 'rotated' });
  }, 60_000);

  it('--to-capability picks an active agent with it, the least busy, and says why', async () => {
    team = await makeTeam(['alpha', 'beta', 'gamma']);
    const { alpha, beta, gamma } = team.agents as Record<string, TestAgent>;
    await ok(beta!, ['join', '--capabilities', 'research,web']);
    await ok(gamma!, ['join', '--capabilities', 'research']);
    await ok(alpha!, ['task', 'send', 'beta', 'first']);
    const picked = json(
      await ok(alpha!, ['task', 'send', '--to-capability', 'research', 'Find prior art', '--json']),
    );
    expect(picked.task.to).toBe('gamma');
    expect(picked.task.routedBy).toBe(
      'capability research: gamma (presence unknown, 0 open tasks) over beta (presence unknown, 1 open task)',
    );
    const none = await alpha!.ois(['task', 'send', '--to-capability', 'cooking', 'Dinner']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('OIS_ERR_NO_CAPABLE_AGENT');
  }, 60_000);
});

describe('replies - over federation, without tokens', () => {
  it('send --wait to a peer with a daemon returns its answer signed, with no token anywhere', async () => {
    team = await makeTeam(['alpha', 'beta'], { reply: (m) => `answer to: ${m.split('\n').at(-1)}` });
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    await serve(beta!);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const r = await alpha!.ois(['send', 'beta', '--wait', '10', '--json', 'How full is the disk?']);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r);
    expect(out.deliveries).toEqual([
      expect.objectContaining({
        to: 'beta',
        outcome: 'replied',
        via: 'federated',
        reply: 'answer to: How full is the disk?',
      }),
    ]);
    const chat = json(await ok(alpha!, ['chat', '--json'])).entries;
    expect(chat.find((e: { kind: string }) => e.kind === 'reply')).toMatchObject({
      from: 'beta',
      replyTo: out.id,
      body: 'answer to: How full is the disk?',
    });
  }, 60_000);

  it('an assistant that answers REPLY_SKIP gives no_reply, not a reply', async () => {
    team = await makeTeam(['alpha', 'beta'], { reply: () => 'REPLY_SKIP' });
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    await serve(beta!);
    await alpha!.ois(['secrets', 'rm', 'beta']);
    const out = json(await alpha!.ois(['send', 'beta', '--wait', '10', '--json', 'ping']));
    expect(out.deliveries[0].outcome).toBe('no_reply');
  }, 60_000);

  it('ois reply ID threads the answer to the message and puts it into its sender’s session', async () => {
    team = await makeTeam(['alpha', 'beta']);
    const { alpha, beta } = team.agents as Record<string, TestAgent>;
    await serve(alpha!);
    const sent = json(await ok(alpha!, ['send', 'beta', '--json', 'Can you review shared/plan.md?']));
    const header = parseHeader(texts(beta!).at(-1)!);
    expect(header?.id).toBe(sent.id);
    const r = json(await ok(beta!, ['reply', sent.id, '--json', 'Done: two nits.']));
    expect(r).toMatchObject({ ok: true, replyTo: sent.id, conversation: sent.id, hops: 1 });
    await until('the reply in alpha’s session', () =>
      texts(alpha!).some((t) => t.includes('Done: two nits.')),
    );
    const chat = json(await ok(alpha!, ['chat', '--json'])).entries;
    expect(chat.find((e: { kind: string }) => e.kind === 'reply')).toMatchObject({
      from: 'beta',
      to: ['alpha'],
      replyTo: sent.id,
    });
    const skip = json(await ok(beta!, ['reply', sent.id, 'REPLY_SKIP', '--json']));
    expect(skip).toEqual({ ok: true, skipped: true });
    const unknown = await beta!.ois(['reply', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'hello?']);
    expect(unknown.stderr).toContain('OIS_ERR_MESSAGE_UNKNOWN');
  }, 60_000);
});

describe('the loop guard', () => {
  it('two assistants scripted to answer every message stop at the hop limit, and say so', async () => {
    // Each simulator answers every message it receives with `ois reply`, as a careless assistant would.
    const agents: Record<string, TestAgent> = {};
    const refusals: string[] = [];
    const onMessage = (m: { message: string }) => {
      const h = parseHeader(m.message);
      const me = h ? agents[h.to] : undefined;
      if (!h || !me) return;
      void me.ois(['reply', h.id, `auto-answer from ${h.to}`]).then((r) => {
        if (r.code !== 0) refusals.push(r.stderr);
      });
    };
    team = await makeTeam(['alpha', 'beta'], { onMessage }, { OIS_MAX_HOPS: '4' });
    Object.assign(agents, team.agents);
    await serve(agents.alpha!, 0, { env: { OIS_MAX_HOPS: '4' } });
    await serve(agents.beta!, 0, { env: { OIS_MAX_HOPS: '4' } });
    await ok(agents.alpha!, ['send', 'beta', 'hello, let us talk']);
    await until('the loop to stop', () => refusals.length > 0, 30_000);
    expect(refusals[0]).toContain('OIS_ERR_HOP_LIMIT');
    await new Promise((r) => setTimeout(r, 1500));
    const chat = json(await ok(agents.alpha!, ['chat', '--json'])).entries;
    expect(chat.filter((e: { kind: string }) => e.kind === 'reply')).toHaveLength(4);
    // And a daemon refuses an envelope past the limit even when a sender skips the check.
    const err = (await postSigned(agents.beta!.home, agents.alpha!.home, {
      from: 'beta',
      to: 'alpha',
      body: 'again',
      type: 'reply',
      replyTo: newMessageId(),
      hops: 9,
    })) as OisError;
    expect(err.code).toBe('OIS_ERR_HOP_LIMIT');
  }, 90_000);
});
