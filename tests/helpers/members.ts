import type { KeyObject } from 'node:crypto';
import {
  type Envelope,
  formatPublicKey,
  newMessageId,
  signEnvelope,
  type UnsignedEnvelope,
} from '../../src/federation/index.js';

/**
 * One member's section of an AGENTS.md, canonical form; with a key, its federation block (the URL is
 * never dialled by the tests that use it).
 */
export function memberBlock(name: string, status: string, key?: KeyObject): string {
  const federation = key
    ? `federation: {url: 'http://127.0.0.1:1', publicKey: '${formatPublicKey(key)}'}\n`
    : '';
  return `## ${name} (member)\n\n\`\`\`yaml ois-agent\nname: ${name}\nrole: member\nstatus: ${status}\n${federation}\`\`\`\n`;
}

/** An envelope from alpha to beta, written now and signed with `key` (alpha's unless said). */
export function signedEnvelope(over: Partial<UnsignedEnvelope>, key: KeyObject): Envelope {
  const now = Date.now();
  return signEnvelope(
    {
      v: 1,
      id: newMessageId(now),
      from: 'alpha',
      to: 'beta',
      createdAt: new Date(now).toISOString(),
      body: 'hello beta',
      ...over,
    },
    key,
  );
}
