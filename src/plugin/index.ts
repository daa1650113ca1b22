import { type PluginConfig, resolvePluginConfig } from './config.js';
import { freshMemory, promptContext, writeBack } from './prompt.js';
import { closeStores, openInstance } from './run.js';
import { executeTool, TOOLS, type ToolResult } from './tools.js';

export { PLUGIN_CONFIG_SCHEMA, type PluginConfig, resolvePluginConfig } from './config.js';
export { inboundOf, promptContext, writeBack } from './prompt.js';
export { checkParams, executeTool, type OisTool, TOOLS, type ToolResult } from './tools.js';

/** The plugin's id: the manifest's, and the key of its entry in openclaw.json (`plugins.entries.ois`). */
export const PLUGIN_ID = 'ois';
/** The OpenClaw release the plugin is built and tested against (the interop suite's). */
export const VERIFIED_OPENCLAW = '2026.9.6';

/** The part of OpenClaw's plugin API the plugin uses (openclaw/plugin-sdk/plugin-entry, OpenClawPluginApi). */
export interface PluginApi {
  pluginConfig?: Record<string, unknown>;
  logger?: { warn(message: string): void; info?(message: string): void };
  registerTool(tool: {
    name: string;
    label?: string;
    description: string;
    parameters: Record<string, unknown>;
    execute(toolCallId: string, params: unknown, signal?: AbortSignal): Promise<ToolResult>;
  }): void;
  on(hook: string, handler: (event: never, ctx: unknown) => unknown, options?: { timeoutMs?: number }): void;
}

/**
 * Registers the OIS tools and hooks. The config is read once, here: OpenClaw re-runs registration when
 * `plugins.entries.ois.config` changes. A broken config registers nothing and says why in the gateway log.
 */
export function registerOis(api: PluginApi): void {
  let config: PluginConfig;
  try {
    config = resolvePluginConfig(api.pluginConfig ?? {});
  } catch (err) {
    api.logger?.warn(`ois: ${(err as Error).message}; the OIS tools and hooks are off until it is fixed`);
    return;
  }
  for (const tool of TOOLS) {
    api.registerTool({
      name: tool.name,
      label: tool.label,
      description: tool.description,
      parameters: tool.parameters,
      execute: (_id, params, signal) => executeTool(tool, params, { config, ...(signal ? { signal } : {}) }),
    });
  }
  if (config.inbound.enabled || config.notices.enabled || config.recall.enabled) {
    api.on(
      'before_prompt_build',
      async (event: { prompt?: string; currentUserMessage?: string }, ctx: unknown) => {
        try {
          const { sessionKey } = (ctx ?? {}) as { sessionKey?: unknown };
          const added = await promptContext(
            event,
            config,
            typeof sessionKey === 'string' ? { sessionKey } : {},
          );
          if (added.timedOut.length > 0)
            api.logger?.warn(
              `ois: left ${added.timedOut.join(' and ')} out of the prompt (over ${config.hookTimeoutMs} ms)`,
            );
          return added.prependContext ? { prependContext: added.prependContext } : undefined;
        } catch (err) {
          api.logger?.warn(`ois: nothing added to the prompt: ${(err as Error).message}`);
          return undefined;
        }
      },
      // OpenClaw's own budget is a backstop; the hook keeps to hookTimeoutMs itself.
      { timeoutMs: config.hookTimeoutMs + 1000 },
    );
  }
  if (config.recall.enabled) {
    // The first prompt after a start would otherwise build or catch up the memory index (seconds on a big
    // team) and go out without recall: do it when the gateway starts.
    api.on('gateway_start', async () => {
      try {
        const { instance, store } = openInstance(config);
        await freshMemory(instance.name, instance.home, store);
      } catch (err) {
        api.logger?.warn(`ois: team memory not indexed at start: ${(err as Error).message}`);
      }
    });
  }
  // A team on NATS: the one connection the plugin opened goes when the gateway stops.
  api.on('gateway_stop', async () => {
    await closeStores();
  });
  if (config.writeBack.enabled) {
    api.on('agent_end', async (event: { messages?: unknown[]; success?: boolean; runId?: string }) => {
      try {
        await writeBack(event, config);
      } catch (err) {
        api.logger?.warn(`ois: the turn was not written to memory: ${(err as Error).message}`);
      }
    });
  }
}

/** What definePluginEntry takes (src/plugin/entry.ts passes it on). */
export const PLUGIN_DEFINITION = {
  id: PLUGIN_ID,
  name: 'OIS',
  description:
    'Your OIS team inside the assistant: message, reply to and delegate to peer agents, search team memory, with notices and recall in the prompt.',
  register: registerOis,
};
