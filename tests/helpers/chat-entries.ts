import type { ChatEntry } from '../../src/chatlog/index.js';
import { newMessageId } from '../../src/federation/index.js';

/**
 * A maker of chat entries for tests: alpha to beta on 21 November 2026, one second apart, each with its own
 * id and body (`message N`), overridable field by field.
 */
export function chatEntries(): (over?: Partial<ChatEntry>) => ChatEntry {
  let n = 0;
  return (over = {}) => {
    const at = over.at ?? new Date(Date.UTC(2026, 10, 21, 10, 0, n++)).toISOString();
    return {
      id: newMessageId(Date.parse(at)),
      at,
      from: 'alpha',
      to: ['beta'],
      kind: 'message',
      body: `message ${n}`,
      deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.01 }],
      ...over,
    };
  };
}
