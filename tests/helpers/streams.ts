import { PassThrough } from 'node:stream';

/** A writable stream that keeps what is written to it, for running commands in-process. */
export function captured(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  return { stream, text: () => text };
}
