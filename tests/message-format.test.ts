import { describe, expect, it } from 'vitest';
import {
  checkBody,
  deliveredText,
  formatHeader,
  MESSAGE_ID_PATTERN,
  messageIdTime,
  newMessageId,
  parseHeader,
} from '../src/federation/index.js';
import { specBlocks } from './helpers/spec-blocks.js';

const examples = specBlocks('message-format.md', 'message-example');

describe('message - header line', () => {
  it('message - the documented example parses and is what formatHeader writes', () => {
    const text = examples.get('delivered')!.replace(/\n$/, '');
    const h = parseHeader(text);
    expect(h).toEqual({
      from: 'alpha',
      to: 'beta',
      id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
      at: new Date('2026-11-21T10:32:05Z'),
      body: 'Can you review shared/plan.md before noon?',
    });
    expect(deliveredText(h!, h!.body)).toBe(text);
  });

  it('message - OIS message types pass through as the body unchanged', () => {
    for (const name of ['task-request', 'task-complete']) {
      const body = examples.get(name)!;
      const h = { from: 'a', to: 'b', id: newMessageId(), at: new Date() };
      expect(parseHeader(deliveredText(h, body))?.body).toBe(body);
    }
  });

  it('message - ids are 26-character ULIDs that sort by time', () => {
    const a = newMessageId(1_700_000_000_000);
    const b = newMessageId(1_700_000_000_001);
    expect(a).toMatch(MESSAGE_ID_PATTERN);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newMessageId(5))).size).toBe(1000);
  });

  it('message - a header without the reply hint is accepted; other text is not a header', () => {
    expect(parseHeader('[OIS a → b · 01KAJ7Z3XH2M8Q4V6N0R5T9W1Y · 2026-11-21T10:32:05Z]\nhi')?.body).toBe(
      'hi',
    );
    expect(parseHeader('[OIS a → b · not-an-id · 2026-11-21T10:32:05Z]\nhi')).toBeNull();
    expect(parseHeader('hello')).toBeNull();
    expect(
      formatHeader({
        from: 'a',
        to: 'b',
        id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
        at: new Date('2026-11-21T10:32:05.999Z'),
      }),
    ).toBe('[OIS a → b · 01KAJ7Z3XH2M8Q4V6N0R5T9W1Y · 2026-11-21T10:32:05Z · reply: ois send a "…"]');
  });

  it('message - empty, NUL and lone surrogates are refused', () => {
    expect(() => checkBody(' \n\t')).toThrow(expect.objectContaining({ code: 'OIS_ERR_MESSAGE_EMPTY' }));
    expect(() => checkBody('a\u0000b')).toThrow(
      expect.objectContaining({ code: 'OIS_ERR_MESSAGE_INVALID_UTF8' }),
    );
    expect(() => checkBody('a\ud800b')).toThrow(
      expect.objectContaining({ code: 'OIS_ERR_MESSAGE_INVALID_UTF8' }),
    );
    expect(checkBody('你好 ⚠️')).toBe('你好 ⚠️');
  });

  it('message - a message id gives back the time it was made; anything else gives null', () => {
    for (const t of [0, 1_700_000_000_000, 1_780_123_456_789]) expect(messageIdTime(newMessageId(t))).toBe(t);
    expect(messageIdTime('not-an-id')).toBeNull();
  });
});
