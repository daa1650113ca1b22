// The two functions of OpenClaw's plugin SDK the entry uses. The SDK is the gateway's own (a peer
// dependency, never installed here); these declarations are what we rely on of it, checked by the interop
// suite against the real gateway.
declare module 'openclaw/plugin-sdk/plugin-entry' {
  export function definePluginEntry<T extends { id: string; name: string; description: string }>(entry: T): T;
  export function buildJsonPluginConfigSchema(schema: unknown): unknown;
}
