// The plugin's entry as OpenClaw loads it (scripts/bundle-plugin.js bundles it into plugin/dist/index.js).
// The SDK is the host's: OpenClaw links it into the plugin's node_modules, so it stays out of the bundle.
import { buildJsonPluginConfigSchema, definePluginEntry } from 'openclaw/plugin-sdk/plugin-entry';
import { PLUGIN_CONFIG_SCHEMA, PLUGIN_DEFINITION } from './index.js';

export default definePluginEntry({
  ...PLUGIN_DEFINITION,
  configSchema: () => buildJsonPluginConfigSchema(PLUGIN_CONFIG_SCHEMA),
});
