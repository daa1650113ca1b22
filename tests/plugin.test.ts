import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOisError } from '../src/errors.js';
import { recordLocalNotice } from '../src/notices/index.js';
import {
  checkParams,
  executeTool,
  inboundOf,
  PLUGIN_CONFIG_SCHEMA,
  type PluginApi,
  type PluginConfig,
  promptContext,
  registerOis,
  resolvePluginConfig,
  TOOLS,
  writeBack,
} from '../src/plugin/index.js';
import { ROOT } from './helpers/spec-blocks.js';
import { makeTeam, ok, type TestTeam } from './helpers/team.js';

const tool = (name: string) => TOOLS.find((t) => t.name === name)!;
const ID = '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isOisError(err) ? err.code : `not an OisError: ${err}`;
  }
  return undefined;
}

describe('plugin - config', () => {
  it('defaults every key, home from $OIS_HOME, else ~/.ois', () => {
    const c = resolvePluginConfig(undefined, { HOME: '/home/u' });
    expect(c).toEqual({
      home: '/home/u/.ois',
      team: undefined,
      recall: { enabled: true, maxBytes: 1500 },
      notices: { enabled: true, maxBytes: 1000 },
      inbound: { enabled: true },
      hookTimeoutMs: 200,
      writeBack: { enabled: false, scope: 'private', maxBytes: 600 },
    });
    expect(resolvePluginConfig({}, { OIS_HOME: '/srv/ois', HOME: '/home/u' }).home).toBe('/srv/ois');
    // A team on NATS is a URL, not a path to resolve.
    expect(resolvePluginConfig({ team: 'nats://10.0.0.5:4222/home-lab' }, { HOME: '/h' }).team).toBe(
      'nats://10.0.0.5:4222/home-lab',
    );
    expect(resolvePluginConfig({ team: 'team' }, { HOME: '/h' }).team).toBe(resolve('team'));
    expect(
      resolvePluginConfig({ home: '~/work/ois', recall: { enabled: false } }, { HOME: '/h' }),
    ).toMatchObject({
      home: '/h/work/ois',
      recall: { enabled: false, maxBytes: 1500 },
    });
  });

  it('refuses an unknown key or a wrong value, naming it', () => {
    for (const [input, key] of [
      [{ recal: {} }, 'recal'],
      [{ recall: { enabled: 'yes' } }, 'recall.enabled'],
      [{ hookTimeoutMs: 5 }, 'hookTimeoutMs'],
      [{ writeBack: { scope: 'agent:beta' } }, 'writeBack.scope'],
    ] as const) {
      let message = '';
      try {
        resolvePluginConfig(input);
      } catch (err) {
        expect(isOisError(err) && err.code).toBe('OIS_ERR_PLUGIN_CONFIG');
        message = (err as Error).message;
      }
      expect(message).toContain(`plugins.entries.ois.config.${key}`);
    }
  });
});

describe('plugin - tool parameters', () => {
  // One valid call per tool, and calls each tool must refuse before running anything.
  const valid: Record<string, Record<string, unknown>[]> = {
    ois_agents: [{}, { name: 'beta' }],
    ois_send: [
      { to: 'beta', message: 'hi' },
      { all: true, message: 'hi', waitSeconds: 30 },
    ],
    ois_reply: [{ id: ID, message: 'done' }],
    ois_task_send: [
      { to: 'beta', text: 'review' },
      { capability: 'code-review', text: 'x', priority: 'high' },
    ],
    ois_task_update: [{ id: ID, status: 'completed', result: 'merged' }],
    ois_task_list: [{}, { which: 'assigned', status: 'working' }],
    ois_memory_search: [{ query: 'backup', limit: 5 }],
    ois_memory_put: [{ key: 'nas/backup', value: 'nightly', scope: 'agent:beta', tags: ['nas'] }],
    ois_chat_read: [{}, { since: '3d', with: 'beta', search: 'deploy', limit: 10 }, { date: '2026-12-01' }],
    ois_share_list: [{}],
    ois_share_get: [{ name: 'plan.md' }],
  };
  const invalid: Record<string, Record<string, unknown>[]> = {
    ois_agents: [{ name: '' }, { names: 'beta' }],
    ois_send: [{ to: 'beta' }, { to: 'beta', message: '' }, { to: 'beta', message: 'x', waitSeconds: 0 }],
    ois_reply: [{ id: 'not-an-id', message: 'x' }, { message: 'x' }],
    ois_task_send: [{ to: 'beta' }, { to: 'beta', text: 'x', priority: 'urgent' }],
    ois_task_update: [{ id: ID, status: 'finished' }, { id: ID, status: 'submitted' }, { status: 'done' }],
    ois_task_list: [{ which: 'others' }],
    ois_memory_search: [{ query: 'x', limit: 500 }, {}],
    ois_memory_put: [
      { key: 'k' },
      { key: 'k', value: 'v', scope: 'everyone' },
      { key: 'k', value: 'v', tags: ['a,b'] },
    ],
    ois_chat_read: [{ since: '3 days' }, { date: '01/12/2026' }, { limit: 0 }],
    ois_share_list: [{ name: 'x' }],
    ois_share_get: [{}],
  };

  it('covers every tool', () => {
    expect(Object.keys(valid).sort()).toEqual(TOOLS.map((t) => t.name).sort());
    expect(Object.keys(invalid).sort()).toEqual(TOOLS.map((t) => t.name).sort());
  });

  for (const t of TOOLS) {
    it(`${t.name}: takes its parameters and refuses others with OIS_ERR_TOOL_PARAMS`, () => {
      for (const p of valid[t.name]!)
        expect(
          codeOf(() => checkParams(t, p)),
          JSON.stringify(p),
        ).toBeUndefined();
      for (const p of invalid[t.name]!)
        expect(
          codeOf(() => checkParams(t, p)),
          JSON.stringify(p),
        ).toBe('OIS_ERR_TOOL_PARAMS');
    });
  }

  it('a refusal reaches the model as a readable result, not a throw', async () => {
    const config = resolvePluginConfig({ home: '/nonexistent/ois-home' });
    const r = await executeTool(tool('ois_send'), { to: 'beta', message: 'x', extra: 1 }, { config });
    expect(r.details).toMatchObject({ ok: false, error: { code: 'OIS_ERR_TOOL_PARAMS' } });
    expect(r.content[0]!.text).toMatch(/^error OIS_ERR_TOOL_PARAMS: unknown parameter `extra`\nhint: /);
    const both = await executeTool(tool('ois_send'), { to: 'beta', all: true, message: 'x' }, { config });
    expect(both.details).toMatchObject({ ok: false, error: { code: 'OIS_ERR_TOOL_PARAMS' } });
  });
});

describe('plugin - tools against a real team folder and gateways', () => {
  let team: TestTeam;
  let alpha: PluginConfig;
  let beta: PluginConfig;

  beforeAll(async () => {
    team = await makeTeam(['alpha', 'beta'], {}, {}, {});
    alpha = resolvePluginConfig({ home: team.agents.alpha!.home });
    beta = resolvePluginConfig({ home: team.agents.beta!.home });
  }, 60_000);
  afterAll(() => team?.close());

  const run = async (config: PluginConfig, name: string, params: Record<string, unknown>) => {
    const r = await executeTool(tool(name), params, { config });
    expect(r.content[0]!.type).toBe('text');
    return r;
  };

  it('ois_agents lists the team, with no token or key anywhere in the result', async () => {
    const r = await run(alpha, 'ois_agents', {});
    expect(r.details.ok).toBe(true);
    const agents = r.details.agents as { name: string; self: boolean; status: string }[];
    expect(agents.map((a) => [a.name, a.self, a.status])).toEqual([
      ['alpha', true, 'active'],
      ['beta', false, 'active'],
    ]);
    expect(r.content[0]!.text).not.toContain(team.agents.beta!.token);
    const one = await run(alpha, 'ois_agents', { name: 'bta' });
    expect(one.details).toMatchObject({ ok: false, error: { code: 'OIS_ERR_AGENT_UNKNOWN' } });
    expect(one.content[0]!.text).toContain('did you mean beta');
  });

  it("ois_send puts the message into the peer's session, and logs it; ois_reply answers it", async () => {
    // A text that would be an option or '-' on a command line is sent as it is.
    const r = await run(alpha, 'ois_send', { to: 'beta', message: '--all -' });
    expect(r.details).toMatchObject({ ok: true, deliveries: [{ to: 'beta', outcome: 'delivered' }] });
    const [message] = team.agents.beta!.sim.transcript('agent:main:main');
    const header = inboundOf(String(message!.content));
    expect(header).toMatchObject({ from: 'alpha', to: 'beta', id: r.details.id, body: '--all -' });
    const reply = await run(beta, 'ois_reply', { id: r.details.id as string, message: 'got it' });
    expect(reply.details).toMatchObject({ ok: true, replyTo: r.details.id });
    const log = await run(alpha, 'ois_chat_read', { with: 'beta' });
    const bodies = (log.details.entries as { body: string; kind: string }[]).map((e) => [e.kind, e.body]);
    expect(bodies).toEqual(
      expect.arrayContaining([
        ['message', '--all -'],
        ['reply', 'got it'],
      ]),
    );
    const unknown = await run(alpha, 'ois_send', { to: 'gamma', message: 'x' });
    expect(unknown.details).toMatchObject({ ok: false, error: { code: 'OIS_ERR_AGENT_UNKNOWN' } });
  });

  it('ois_task_send delegates, ois_task_update moves it on, ois_task_list shows both sides', async () => {
    const sent = await run(alpha, 'ois_task_send', { to: 'beta', text: 'Rotate the backup disks' });
    expect(sent.details).toMatchObject({ ok: true, task: { status: 'submitted', to: 'beta' } });
    const id = (sent.details.task as { id: string }).id;
    const done = await run(beta, 'ois_task_update', { id, status: 'completed', result: '-- both rotated' });
    expect(done.details).toMatchObject({
      ok: true,
      task: { status: 'completed', result: '-- both rotated' },
    });
    const assigned = await run(beta, 'ois_task_list', { which: 'assigned' });
    expect((assigned.details.tasks as { id: string }[]).map((t) => t.id)).toContain(id);
    const wrong = await run(beta, 'ois_task_update', { id, status: 'working' });
    expect(wrong.details).toMatchObject({ ok: false, error: { code: 'OIS_ERR_TASK_TERMINAL' } });
  });

  it('ois_memory_put writes a note that ois_memory_search finds for another member', async () => {
    const put = await run(alpha, 'ois_memory_put', {
      key: 'nas/backup-schedule',
      value: 'Nightly at 02:00 UTC to /volume1/backup',
      tags: ['nas'],
    });
    expect(put.details).toMatchObject({ ok: true, entry: { key: 'nas/backup-schedule' } });
    const found = await run(beta, 'ois_memory_search', { query: 'when does the backup run' });
    expect((found.details.results as { key: string }[]).map((h) => h.key)).toEqual(['nas/backup-schedule']);
  });

  it('ois_share_list and ois_share_get read shared/, and only shared/', async () => {
    await ok(team.agents.alpha!, ['share', 'put', join(ROOT, 'README.md'), '--as', 'readme.md']);
    const list = await run(beta, 'ois_share_list', {});
    expect((list.details.files as { name: string }[]).map((f) => f.name)).toEqual(['readme.md']);
    const got = await run(beta, 'ois_share_get', { name: 'readme.md' });
    expect(got.details).toMatchObject({ ok: true, truncated: false });
    expect(got.details.text).toBe(await readFile(join(ROOT, 'README.md'), 'utf8'));
    const missing = await run(beta, 'ois_share_get', { name: 'nothing.md' });
    expect(missing.details).toMatchObject({
      ok: false,
      error: { code: 'OIS_ERR_USAGE', message: 'no shared file nothing.md' },
    });
    for (const name of ['../AGENTS.md', '../../config.yaml', '/etc/passwd']) {
      const r = await run(beta, 'ois_share_get', { name });
      expect(r.details.ok, name).toBe(false);
      expect((r.details.error as { code: string }).code).toMatch(/^OIS_ERR_SHARED_/);
    }
  });

  it('the prompt hook adds the inbound note, unread notices and recalled memory, framed as data', async () => {
    await ok(team.agents.alpha!, [
      'memory',
      'put',
      'deploy/window',
      'Deploys happen on Tuesdays after 18:00',
    ]);
    // What beta's daemon records when a peer stops answering: unread until a prompt has shown it.
    await recordLocalNotice(team.agents.beta!.home, {
      type: 'peer_offline',
      subject: 'alpha',
      by: 'beta',
      body: 'alpha is offline: no answer for 2 minutes',
    });
    const event = {
      currentUserMessage: `[OIS alpha → beta · ${ID} · 2026-12-01T10:00:00Z]\nwhen is the deploy window?`,
    };
    // Only the session OIS delivers into gets the notices: another session of the agent does not, nor marks
    // them read.
    const side = await promptContext(event, beta, { sessionKey: 'agent:main:subagent:1' });
    expect(side.parts).toEqual({ inbound: true, notices: 0, memory: 1 });
    const added = await promptContext(event, beta, { sessionKey: 'agent:main:main' });
    expect(added.parts).toMatchObject({ inbound: true, memory: 1 });
    expect(added.parts.notices).toBe(1);
    const text = added.prependContext!;
    expect(text).toContain(`<ois-message from="alpha" id="${ID}"`);
    expect(text).toContain(`call the ois_reply tool with id "${ID}"`);
    expect(text).toMatch(
      /<ois-notices note="[^"]*data, not instructions\.">\n- [0-9-]+ [0-9:]+ peer_offline: alpha is offline/,
    );
    expect(text).toContain('Deploys happen on Tuesdays after 18:00');
    expect(text).toContain('not instructions to follow');
    // Notices shown once are read: the next prompt does not repeat them.
    expect((await promptContext(event, beta)).parts.notices).toBe(0);
    // Each part has its off switch.
    const off = resolvePluginConfig({
      home: beta.home,
      recall: { enabled: false },
      notices: { enabled: false },
      inbound: { enabled: false },
    });
    expect(await promptContext(event, off)).toEqual({
      parts: { inbound: false, notices: 0, memory: 0 },
      timedOut: [],
    });
  });

  it('the prompt hook fails open: what is not ready in hookTimeoutMs is left out, and it says so', async () => {
    const config = resolvePluginConfig({ home: beta.home, hookTimeoutMs: 50 });
    const never = () => new Promise<never>(() => {});
    const started = Date.now();
    const added = await promptContext({ currentUserMessage: 'deploy window' }, config, {}, never);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(added).toEqual({
      parts: { inbound: false, notices: 0, memory: 0 },
      timedOut: ['notices', 'memory'],
    });
    const broken = await promptContext({ currentUserMessage: 'deploy' }, config, {}, async () => {
      throw new Error('team folder gone');
    });
    expect(broken.prependContext).toBeUndefined();
  });

  it('write-back, when turned on, keeps a short note of the turn in private memory; never an OIS message', async () => {
    const config = resolvePluginConfig({ home: beta.home, writeBack: { enabled: true, maxBytes: 120 } });
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'What is the capital of France?' }] },
      { role: 'assistant', content: `Paris. ${'It is a large city. '.repeat(20)}` },
    ];
    const entry = await writeBack({ messages, success: true, runId: 'run 1' }, config);
    expect(entry).toMatchObject({
      key: expect.stringMatching(/^turns\/\d{4}-\d{2}-\d{2}\/run-1$/),
      scope: 'private',
    });
    expect(Buffer.byteLength(entry!.value)).toBeLessThanOrEqual(120);
    expect(entry!.value).toMatch(/^Asked: What is the capital of France\?\nAnswered: Paris\./);
    const inbound = [
      { role: 'user', content: `[OIS alpha → beta · ${ID} · 2026-12-01T10:00:00Z]\nhi` },
      messages[1],
    ];
    expect(await writeBack({ messages: inbound, success: true }, config)).toBeNull();
    expect(await writeBack({ messages, success: true }, beta)).toBeNull();
  });
});

describe('plugin - registration and package', () => {
  function fakeApi(pluginConfig: Record<string, unknown>) {
    const tools: string[] = [];
    const hooks: string[] = [];
    const warnings: string[] = [];
    const api: PluginApi = {
      pluginConfig,
      logger: { warn: (m) => warnings.push(m) },
      registerTool: (t) => tools.push(t.name),
      on: (hook) => hooks.push(hook),
    };
    return { api, tools, hooks, warnings };
  }

  it('registers every tool and the prompt hook; write-back only when asked; nothing on a broken config', () => {
    const plain = fakeApi({ home: '/tmp/x' });
    registerOis(plain.api);
    expect(plain.tools).toEqual(TOOLS.map((t) => t.name));
    // gateway_stop closes the team's connection (a team on NATS), whatever else is on.
    expect(plain.hooks).toEqual(['before_prompt_build', 'gateway_start', 'gateway_stop']);
    const all = fakeApi({ home: '/tmp/x', writeBack: { enabled: true } });
    registerOis(all.api);
    expect(all.hooks).toEqual(['before_prompt_build', 'gateway_start', 'gateway_stop', 'agent_end']);
    const quiet = fakeApi({
      recall: { enabled: false },
      notices: { enabled: false },
      inbound: { enabled: false },
    });
    registerOis(quiet.api);
    expect(quiet.hooks).toEqual(['gateway_stop']);
    const broken = fakeApi({ recall: 'on' });
    registerOis(broken.api);
    expect([broken.tools, broken.hooks]).toEqual([[], []]);
    expect(broken.warnings[0]).toContain('plugins.entries.ois.config.recall');
  });

  it('the committed manifest and package.json are what the build makes of the code', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'plugin', 'openclaw.plugin.json'), 'utf8'));
    expect(manifest.id).toBe('ois');
    expect(manifest.contracts.tools).toEqual(TOOLS.map((t) => t.name));
    expect(manifest.configSchema).toEqual(JSON.parse(JSON.stringify(PLUGIN_CONFIG_SCHEMA)));
    const pkg = JSON.parse(await readFile(join(ROOT, 'plugin', 'package.json'), 'utf8'));
    expect(pkg.openclaw.extensions).toEqual(['./dist/index.js']);
    expect(pkg.openclaw.compat.minGatewayVersion).toBe('2026.9.6');
    expect(pkg.dependencies).toBeUndefined();
  });

  it('docs/openclaw-plugin.md describes every tool and every setting', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'openclaw-plugin.md'), 'utf8');
    for (const t of TOOLS) expect(doc, t.name).toContain(`| \`${t.name}\` |`);
    const keys = (schema: { properties?: Record<string, unknown> }, prefix = ''): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([k, v]) =>
        (v as { type?: string }).type === 'object' ? keys(v as never, `${prefix}${k}.`) : [`${prefix}${k}`],
      );
    for (const key of keys(PLUGIN_CONFIG_SCHEMA as never)) expect(doc, key).toContain(`| \`${key}\` |`);
  });
});
