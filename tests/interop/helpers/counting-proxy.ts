import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real gateway that counts the HTTP requests passing through, so a test
 * can prove how many requests `ois` made (one for a rejected token, none for a message refused before
 * sending) without touching the gateway.
 */
export interface CountingProxy {
  url: string;
  requests(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection(target);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      // Request lines start at the beginning of a chunk in practice for these small clients; count them
      // anywhere in the chunk to be safe.
      const text = chunk.toString('latin1');
      count += text.match(/(^|\r\n)(GET|POST|PUT|DELETE|HEAD|OPTIONS) \/\S* HTTP\/1\.[01]\r\n/g)?.length ?? 0;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    reset: () => {
      count = 0;
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
