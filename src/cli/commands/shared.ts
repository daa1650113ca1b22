import type { Registry } from '../../registry/index.js';
import type { CommandContext } from '../command.js';

/** Registry warnings go to stderr on every command that reads AGENTS.md, so a plaintext token never goes unnoticed. */
export function printRegistryWarnings(ctx: CommandContext, registry: Registry): void {
  for (const w of registry.warnings) ctx.warn(w.message, w.hint);
}
