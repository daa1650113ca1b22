import type { FastifyInstance } from 'fastify';
import { parseDuration, validateDate } from '../../../chatlog/index.js';
import { OisError } from '../../../errors.js';
import { DayCache, involves, searchChat } from '../chat.js';
import type { ViewerOptions } from '../options.js';
import { textParams } from '../schema.js';

const DEFAULT_PAGE = 200;
const MAX_PAGE = 1000;
const MAX_SEARCH = 500;

// What each parameter means (a date, a cursor, a page size, a time) is checked by the handler, whose
// errors name the value; the schemas check that each arrived once, as text.
const DAY_SCHEMA = {
  params: textParams(['date'], ['date']),
  querystring: textParams(['cursor', 'limit', 'with']),
};
const SEARCH_SCHEMA = { querystring: textParams(['q', 'with', 'since', 'limit']) };

/** The chat log: the days that have one, a page of one day, a search over all days. */
export async function chatRoutes(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  const days = new DayCache(opts.store);

  app.get('/api/chat/days', async () => ({ days: (await days.days()).reverse() }));

  app.get<{ Params: { date: string }; Querystring: { cursor?: string; limit?: string; with?: string } }>(
    '/api/chat/day/:date',
    { schema: DAY_SCHEMA },
    async (request) => {
      const { date } = request.params;
      const q = request.query;
      validateDate(date);
      const limit = pageSize(q.limit);
      const start = q.cursor === undefined || q.cursor === '' ? 0 : Number(q.cursor);
      if (!Number.isInteger(start) || start < 0) {
        throw new OisError('OIS_ERR_USAGE', `not a cursor: ${JSON.stringify(q.cursor)}`);
      }
      const who = q.with || undefined;
      const all = await days.day(date);
      const entries = who ? all.filter((e) => involves(e, who)) : all;
      const page = entries.slice(start, start + limit);
      const end = start + page.length;
      return { date, total: entries.length, entries: page, next: end < entries.length ? String(end) : null };
    },
  );

  app.get<{ Querystring: { q?: string; with?: string; since?: string; limit?: string } }>(
    '/api/chat/search',
    { schema: SEARCH_SCHEMA },
    async (request) => {
      const q = request.query;
      const limit = Math.min(pageSize(q.limit), MAX_SEARCH);
      // The same search as `ois chat --grep` (one function, one meaning): the body, case-insensitive.
      return searchChat(opts.store, {
        grep: q.q || undefined,
        with: q.with || undefined,
        since: parseSince(q.since || undefined),
        limit,
      });
    },
  );
}

function pageSize(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PAGE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OisError('OIS_ERR_USAGE', `not a page size: ${value}`);
  return Math.min(n, MAX_PAGE);
}

/** `3d`, `12h` (a duration back from now), or a date or instant (`2026-11-21`, ISO). */
function parseSince(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  if (/^\d+[mhdw]$/.test(text)) return new Date(Date.now() - parseDuration(text));
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) {
    throw new OisError('OIS_ERR_USAGE', `not a time: ${JSON.stringify(text)}`, {
      hint: 'give a duration such as 3d, or a date such as 2026-11-21',
    });
  }
  return at;
}
