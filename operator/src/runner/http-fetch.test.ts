import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, test } from 'node:test';
import { createHttpFetch } from './http-fetch.ts';
import { ConnectionError } from './model-errors.ts';

/** A loopback server whose handler the test sets; it records request headers. */
async function serve(
  handler: (res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; headers: IncomingHttpHeaders[]; bodies: string[] }> {
  const headers: IncomingHttpHeaders[] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    headers.push(req.headers);
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      bodies.push(body);
      handler(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    headers,
    bodies,
  };
}

test('sends the Bearer token (replacing any the caller set), the body and its length', async () => {
  const server = await serve((res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
  );
  const http = createHttpFetch({ token: 'a.b.c' });
  after(() => http.close());
  const response = await http.fetch(`${server.url}/api/chat`, {
    method: 'POST',
    headers: { Authorization: 'Bearer forged', 'Content-Type': 'application/json' },
    body: '{"model":"m"}',
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { ok: true });
  assert.equal(server.headers[0]?.authorization, 'Bearer a.b.c');
  assert.equal(server.headers[0]?.['content-length'], '13');
  assert.equal(server.bodies[0], '{"model":"m"}');
});

test('streams the body as it arrives', async () => {
  let release = () => {};
  const server = await serve((res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"n":1}\n');
    release = () => res.end('{"n":2}\n');
  });
  const http = createHttpFetch();
  after(() => http.close());
  const response = await http.fetch(`${server.url}/x`);
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(Buffer.from(first.value!).toString(), '{"n":1}\n');
  release();
  const rest: string[] = [];
  for (let part = await reader.read(); !part.done; part = await reader.read())
    rest.push(Buffer.from(part.value).toString());
  assert.equal(rest.join(''), '{"n":2}\n');
});

test('error statuses come back as responses; 204 has no body', async () => {
  let status = 404;
  const server = await serve((res) =>
    status === 204 ? res.writeHead(204).end() : res.writeHead(status).end('{"error":"nope"}'),
  );
  const http = createHttpFetch();
  after(() => http.close());
  const notFound = await http.fetch(`${server.url}/a`);
  assert.deepEqual([notFound.status, notFound.ok, await notFound.text()], [404, false, '{"error":"nope"}']);
  status = 204;
  const empty = await http.fetch(`${server.url}/b`);
  assert.deepEqual([empty.status, empty.body], [204, null]);
});

test('the run signal aborts a request waiting for headers, with its reason', async () => {
  const server = await serve(() => {});
  const controller = new AbortController();
  const http = createHttpFetch({ signal: controller.signal });
  after(() => http.close());
  const pending = http.fetch(`${server.url}/slow`);
  while (server.headers.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const reason = new Error('budget spent');
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await assert.rejects(http.fetch(`${server.url}/after`), (error) => error === reason);
});

test('a connection that breaks mid-body errors the stream with a ConnectionError', async () => {
  const server = await serve((res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"n":1}\n', () => res.socket?.destroy());
  });
  const http = createHttpFetch();
  after(() => http.close());
  const response = await http.fetch(`${server.url}/x`);
  await assert.rejects(response.text(), (error) => error instanceof ConnectionError);
});

test('nothing listening is a ConnectionError; other URL schemes are refused', async () => {
  const http = createHttpFetch();
  after(() => http.close());
  await assert.rejects(
    http.fetch('http://127.0.0.1:9/'),
    (error) => error instanceof ConnectionError && error.code === 'ECONNREFUSED',
  );
  await assert.rejects(http.fetch('file:///etc/passwd'), /unsupported URL scheme file:/);
});
