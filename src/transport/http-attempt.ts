import type { Dispatcher } from 'undici';

/**
 * One HTTP request over an undici dispatcher, with the one fact a retry policy needs and plain `request()`
 * does not give: whether the request body had been handed to the socket when it failed.
 *
 * How "body sent" is known: we call `dispatcher.dispatch()` with our own handler. undici calls the handler's
 * `onRequestSent()` (the same hook that publishes the `undici:request:bodySent` diagnostics channel) right
 * after it has written the head and the whole body to the socket (client-h1 `writeBuffer`). The handler
 * object belongs to this one request, so there is nothing to correlate and no global subscription.
 * Before that call the peer cannot have seen a complete request, so a failure then is safe to retry;
 * after it the peer may have read and acted on the message even if the connection dies, so the caller must
 * treat the outcome as unknown. (Written to the socket is not the same as received by the peer: we err on
 * the side of "unknown", never on the side of a blind duplicate.)
 */

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The request failed without a complete response. */
export class AttemptFailure extends Error {
  constructor(
    readonly error: Error,
    /** True when the whole request had been written to the socket before the failure. */
    readonly bodySent: boolean,
  ) {
    super(error.message, { cause: error });
    this.name = 'AttemptFailure';
  }
}

export interface AttemptRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  headersTimeout: number;
  bodyTimeout: number;
  /** A response body larger than this is cut off and reported as a failure (after the body was sent). */
  maxResponseBytes: number;
}

/**
 * Sends one POST and collects the response. Rejects with `AttemptFailure` on any transport error; a
 * `signal` abort destroys the request and rejects with `AttemptFailure` whose cause is the abort reason.
 */
export function postOnce(
  dispatcher: Dispatcher,
  request: AttemptRequest,
  signal: AbortSignal | undefined,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    let bodySent = false;
    let settled = false;
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let headers: RawResponse['headers'] = {};
    const chunks: Buffer[] = [];
    let size = 0;

    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(new AttemptFailure(err, bodySent));
      else resolve({ statusCode, headers, body: Buffer.concat(chunks) });
    };
    const onAbort = () => {
      const reason = signal?.reason instanceof Error ? signal.reason : new Error('aborted');
      // Still queued or connecting: there is no controller yet, and nothing was sent.
      if (controller) controller.abort(reason);
      finish(reason);
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctrl) {
        controller = ctrl;
        if (settled) ctrl.abort(new Error('aborted'));
      },
      onRequestSent() {
        bodySent = true;
      },
      onResponseStart(_ctrl, code, responseHeaders) {
        statusCode = code;
        headers = responseHeaders;
      },
      onResponseData(ctrl, chunk) {
        size += chunk.length;
        if (size > request.maxResponseBytes) {
          ctrl.abort(new Error(`response body larger than ${request.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        finish(null);
      },
      onResponseError(_ctrl, err) {
        finish(err);
      },
    };

    try {
      dispatcher.dispatch(
        {
          origin: request.origin,
          path: request.path,
          method: 'POST',
          headers: request.headers,
          body: request.body,
          headersTimeout: request.headersTimeout,
          bodyTimeout: request.bodyTimeout,
        },
        handler,
      );
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
