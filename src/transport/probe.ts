import { Agent, type Dispatcher } from 'undici';

export interface Probe {
  status: number;
  body: string;
  /** The server's clock from the Date header, if any. */
  date: Date | null;
  ms: number;
}

/** A GET without credentials (health probes); throws the network error as is. */
export async function probeGet(url: string, timeoutMs: number): Promise<Probe> {
  const dispatcher = new Agent({ connect: { timeout: timeoutMs } });
  const started = performance.now();
  try {
    const res = await requestVia(dispatcher, url, {
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    // A health answer is a few bytes; anything past 64 KiB is not one.
    const body = (await readBounded(res.body, 64 * 1024)).toString('utf8');
    const ms = performance.now() - started;
    const dateHeader = res.headers.date;
    const date = typeof dateHeader === 'string' ? new Date(dateHeader) : null;
    return { status: res.statusCode, body, date: date && !Number.isNaN(date.getTime()) ? date : null, ms };
  } finally {
    await dispatcher.destroy().catch(() => {});
  }
}

/**
 * A short description of a network error (never includes headers, so never a token). `overZerotier` adds
 * the likely ZeroTier cause to timeouts and missing routes, for peers reached over the network; it is off
 * for the ZeroTier service itself on loopback.
 */
export function networkProblem(err: unknown, overZerotier = true): string {
  const e = err as { code?: string; cause?: { code?: string }; message?: string } | undefined;
  switch (e?.code ?? e?.cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused: nothing listens on that port';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `no answer to the connection attempt${overZerotier ? ' (host down, or ZeroTier not connected)' : ''}`;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'connected, but no answer in time';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to the host${overZerotier ? ' (ZeroTier not connected?)' : ''}`;
    default:
      return e?.message ?? String(err);
  }
}

/**
 * Reads a response body, at most `maxBytes` of it: a peer (or something posing as one) cannot make us
 * buffer an unbounded answer. Throws when the body is larger; the caller reports it as that peer's error.
 */
export async function readBounded(
  body: AsyncIterable<unknown> & { destroy?: () => void },
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) {
      body.destroy?.();
      throw new Error(`response body larger than ${maxBytes} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * undici's `request(url, {dispatcher})`, through the dispatcher's own method: the top-level function lives in
 * undici's index, which the CLI bundle loads only on first use (scripts/bundle.js), and one POST or probe must
 * not load fetch, WebSocket and the caches.
 */
export function requestVia(
  dispatcher: Dispatcher,
  url: string,
  options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  return dispatcher.request({ ...options, origin: u.origin, path: `${u.pathname}${u.search}` });
}
