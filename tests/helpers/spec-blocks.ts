import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Fenced blocks of a spec whose info string is `<lang> <kind> <name>`, keyed by name. Specs are the contract;
 * tests read their examples from them rather than keeping copies.
 */
export function specBlocks(spec: string, kind: string): Map<string, string> {
  const text = readFileSync(join(ROOT, 'specs', spec), 'utf8');
  const out = new Map<string, string>();
  const re = /^(~{3,}|`{3,})(\S+) (\S+) (\S+)\n([\s\S]*?)\n\1$/gm;
  for (const m of text.matchAll(re)) {
    if (m[3] === kind) out.set(m[4]!, `${m[5]}\n`);
  }
  return out;
}
