import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { contentText } from './session.js';

/**
 * A tiny OpenAI-compatible model server for the interop suite: the real gateways use it as their model
 * provider, so waited sends get real replies without any outside service. It answers
 * `POST /v1/chat/completions` as plain JSON or as `stream: true` server-sent `chat.completion.chunk`
 * frames, with text chosen by `respond` from the conversation, or a tool call (`finish_reason: tool_calls`)
 * that the gateway runs and answers with a `tool` message in its next request.
 */
export interface ModelServer {
  url: string;
  /** Every request body received, with the names of the tools it offered the model. */
  requests: { messages: ModelMessage[]; stream: boolean; tools: string[] }[];
  close(): Promise<void>;
}

export interface ModelMessage {
  role: string;
  content: unknown;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** A scripted answer: text, or a call of one of the tools the request offered. */
export type Answer = string | { tool: string; arguments: Record<string, unknown> };

export type Responder = (lastUserText: string, all: ModelMessage[]) => Answer;

export async function startModelServer(respond: Responder): Promise<ModelServer> {
  const requests: ModelServer['requests'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: [{ id: 'mock-1', object: 'model', owned_by: 'ois-tests' }],
          }),
        );
        return;
      }
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } }),
        );
        return;
      }
      let body: {
        messages?: ModelMessage[];
        stream?: boolean;
        model?: string;
        tools?: { function?: { name?: string } }[];
      };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error' } }));
        return;
      }
      const messages = body.messages ?? [];
      const tools = (body.tools ?? []).map((t) => t.function?.name ?? '').filter(Boolean);
      requests.push({ messages, stream: body.stream === true, tools });
      const lastUser = [...messages].reverse().find((m) => m.role === 'user');
      const answer = respond(contentText(lastUser?.content), messages);
      const call =
        typeof answer === 'string'
          ? null
          : {
              id: `call_${requests.length}`,
              type: 'function',
              function: { name: answer.tool, arguments: JSON.stringify(answer.arguments) },
            };
      const id = `chatcmpl-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const model = body.model ?? 'mock-1';
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      if (body.stream) {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        const frame = (
          delta: Record<string, unknown>,
          finish: string | null,
          extra: Record<string, unknown> = {},
        ) =>
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
        res.write(frame({ role: 'assistant', content: '' }, null));
        if (call) {
          res.write(frame({ tool_calls: [{ index: 0, ...call }] }, null));
          res.write(frame({}, 'tool_calls', { usage }));
        } else {
          res.write(frame({ content: answer }, null));
          res.write(frame({}, 'stop', { usage }));
        }
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            call
              ? {
                  index: 0,
                  message: { role: 'assistant', content: null, tool_calls: [call] },
                  finish_reason: 'tool_calls',
                }
              : { index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' },
          ],
          usage,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
