// The baseline for `ois send`: a bare node process making the same POST to /tools/invoke with node:http
// (the leanest client Node has), reading the answer and exiting.
// Usage: node bare-post.js <url> <token> <json body file>
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const [url, token, bodyFile] = process.argv.slice(2);
const body = readFileSync(bodyFile);
const req = request(
  new URL('/tools/invoke', url),
  {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': body.length,
    },
  },
  (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      process.exitCode = res.statusCode === 200 && answer.ok ? 0 : 1;
    });
  },
);
req.end(body);
