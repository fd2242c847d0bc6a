/**
 * Timeouts, HTTP/1.0, interim responses and framing corner cases, over loopback, proxy in-process.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, fetchOnce, freePort, httpService, RawClient, startBackend, startBlackhole, waitFor, type Backend } from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';

let dp: L7DataPlane;
let a: Backend;
const closers: (() => unknown)[] = [];

before(async () => {
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-rob-${process.pid}`, workers: 0, closeGraceMs: 200 });
  a = await startBackend('a', (req, res) => {
    if (req.url === '/len') {
      res.setHeader('Content-Length', '1');
      res.end('a');
      return true;
    }
    if (req.url === '/chunked') {
      res.write('one,');
      res.write('two');
      res.end();
      return true;
    }
    return false;
  });
});

after(async () => {
  await dp.close();
  await a.close();
  for (const c of closers) await c();
});

const serve = (vs: VirtualServiceInput[]) => dp.apply({ config: config(vs), decisions: new Map() });

/** A raw server that answers each connection with `answer` and closes, for framing cases Node's server never makes. */
async function rawServer(answer: string): Promise<number> {
  const s = net.createServer((c) => c.once('data', () => c.end(answer)));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => s.close());
  return (s.address() as net.AddressInfo).port;
}

function closed(c: RawClient): Promise<void> {
  const sock = (c as unknown as { socket: net.Socket }).socket;
  return sock.destroyed ? Promise.resolve() : new Promise((r) => sock.once('close', () => r()));
}

test('slow-client protection: a head that does not arrive within httpRequestMs gets 408 and the connection closes', async () => {
  const port = await freePort();
  await serve([httpService('slow', port, [a], { layer7: { timeouts: { httpRequestMs: 100 } } })]);
  const c = await RawClient.connect(port);
  c.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const r = await c.read();
  assert.equal(r.status, 408);
  await closed(c);
});

test('an idle keep-alive client is closed after the client timeout', async () => {
  const port = await freePort();
  await serve([httpService('idle', port, [a], { layer7: { timeouts: { clientMs: 100 } } })]);
  const c = await RawClient.connect(port);
  assert.equal((await c.request('GET', '/')).status, 200);
  await closed(c);
});

test('HTTP/1.0: closed after the response unless it asked for keep-alive', async () => {
  const port = await freePort();
  await serve([httpService('h10', port, [a])]);
  const c = await RawClient.connect(port);
  c.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
  const r = await c.read();
  assert.equal(r.headers.connection, 'close');
  await closed(c);
  const k = await RawClient.connect(port);
  k.write('GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.equal((await k.read()).headers.connection, 'keep-alive');
  k.write('GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.equal((await k.read()).body, 'a');
  k.close();
});

test('chunked responses, HEAD, 100-continue and pipelined requests pass through', async () => {
  const port = await freePort();
  await serve([httpService('framing', port, [a])]);
  const c = await RawClient.connect(port);
  const chunked = await c.request('GET', '/chunked');
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');
  assert.equal(chunked.body, 'one,two');
  const head = await c.request('HEAD', '/');
  assert.equal(head.status, 200);
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  const sock = (c as unknown as { socket: net.Socket }).socket;
  const interim = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString('latin1'))));
  assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n/);
  c.write('body');
  // The interim bytes were taken off the socket above; the final response follows.
  const final = await c.read();
  assert.equal(final.headers['x-body-bytes'], '4');
  c.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal((await c.read()).body, 'a');
  assert.equal((await c.read()).body, 'a');
  assert.deepEqual(
    a.seen.slice(-2).map((s) => s.url),
    ['/1', '/2'],
  );
  c.close();
});

test('a response without length ends when the server closes; a garbage status line is a 502', async () => {
  const eof = await rawServer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close');
  const junk = await rawServer('SSH-2.0-OpenSSH\r\n\r\n');
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([
    httpService('eof', p1, [], { realServers: [{ name: 'eof', address: '127.0.0.1', port: eof }] }),
    httpService('junk', p2, [], { realServers: [{ name: 'junk', address: '127.0.0.1', port: junk }] }),
  ]);
  const r = await fetchOnce(p1, 'GET', '/');
  assert.equal(r.body, 'until close');
  assert.equal(r.headers.connection, 'close');
  assert.equal((await fetchOnce(p2, 'GET', '/')).status, 502);
});

test('queue timeout answers 503', async () => {
  const hold = await startBackend('hold', () => true);
  closers.push(() => hold.close());
  const port = await freePort();
  await serve([
    httpService('qt', port, [], {
      realServers: [{ name: 'hold', address: '127.0.0.1', port: hold.port, maxConnections: 1 }],
      layer7: { timeouts: { queueMs: 100 } },
    }),
  ]);
  const first = RawClient.connect(port).then((c) => {
    c.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
    return c;
  });
  while (hold.seen.length < 1) await new Promise((r) => setTimeout(r, 5));
  const r = await fetchOnce(port, 'GET', '/queued');
  assert.equal(r.status, 503);
  assert.match(r.body, /queue timeout/);
  (await first).close();
});

test('a kept-alive connection the server drops without answering is retried on a new one (idempotent requests)', async () => {
  // Answers the first request of each connection and drops the connection on the second: the keep-alive race.
  const s = net.createServer((c) => {
    let n = 0;
    c.on('data', () => {
      if (++n === 1) c.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh');
      else c.destroy();
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => s.close());
  const port = await freePort();
  await serve([httpService('race', port, [], { realServers: [{ name: 'race', address: '127.0.0.1', port: (s.address() as net.AddressInfo).port }] })]);
  const c = await RawClient.connect(port);
  for (let i = 0; i < 4; i++) assert.equal((await c.request('GET', '/')).body, 'fresh');
  const post = await c.request('POST', '/', {}, 'x');
  assert.equal(post.status, 502, 'a POST that may have reached the server is not sent twice');
  c.close();
});

test('a request with no header lines at all gets a Host naming the VIP; an answer with none passes through', async () => {
  const port = await freePort();
  const bare = net.createServer((s) => {
    s.once('data', (d) => {
      s.end(`HTTP/1.1 200 OK\r\n\r\n${JSON.stringify(d.toString('latin1'))}`);
    });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  closers.push(() => bare.close());
  await serve([httpService('bare', port, [], { realServers: [{ name: 'bare', address: '127.0.0.1', port: (bare.address() as net.AddressInfo).port }] })]);
  const c = await RawClient.connect(port);
  c.write('GET /p HTTP/1.1\r\n\r\n');
  const r = await c.read();
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body), `GET /p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n\r\n`);
});

test('connect timeout: a real server that never answers the SYN gets 504 after connectMs, not the 5 s default; another server is tried', async () => {
  const hole = await startBlackhole();
  closers.push(() => hole.close());
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  const connectMs = 200;
  await serve([
    httpService('hole', p1, [], { realServers: [{ name: 'hole', address: '127.0.0.1', port: hole.port }], layer7: { timeouts: { connectMs } } }),
    httpService('hole-then-a', p2, [], {
      realServers: [
        { name: 'hole', address: '127.0.0.1', port: hole.port },
        { name: 'a', address: '127.0.0.1', port: a.port },
      ],
      layer7: { timeouts: { connectMs } },
    }),
  ]);
  const r = await fetchOnce(p1, 'GET', '/');
  assert.equal(r.status, 504);
  // The answer names the limit that fired: the service's connectMs, not the 5 s default. No clock needed.
  assert.match(r.body, new RegExp(`did not accept the connection within ${connectMs} ms`));
  assert.equal(r.headers.connection, 'close');
  // rr takes the blackhole first: its connect times out and the request is retried on a, which answers (the
  // access log's retries field shows the retry itself: access.test.ts).
  const client = await RawClient.connect(p2);
  const first = await client.request('GET', '/');
  const rest = [await client.request('GET', '/'), await client.request('GET', '/')];
  client.close();
  assert.deepEqual(
    [first, ...rest].map((x) => [x.status, x.body]),
    [
      [200, 'a'],
      [200, 'a'],
      [200, 'a'],
    ],
  );
});

test('slow request body: a client that stops sending mid-body for clientMs is cut, and the real server sees the request aborted', async () => {
  // The real server records, per request, whether its body ended or the request was aborted.
  const outcome = new Map<string, 'complete' | 'aborted'>();
  const slow = await startBackend('slowbody', (req, res) => {
    const id = req.headers['x-id'] as string;
    req.on('data', () => undefined);
    req.on('end', () => {
      outcome.set(id, 'complete');
      res.end(`got ${id}`);
    });
    req.on('close', () => {
      if (!req.complete) outcome.set(id, 'aborted');
    });
    return true;
  });
  closers.push(() => slow.close());
  const port = await freePort();
  const clientMs = 300;
  await serve([httpService('slowbody', port, [slow], { layer7: { timeouts: { clientMs } } })]);

  // Trickle: the head and one byte at once, then one byte per 2 × clientMs (slower than the timeout allows).
  const c = await RawClient.connect(port);
  c.write('POST / HTTP/1.1\r\nHost: x\r\nX-Id: trickle\r\nContent-Length: 10\r\n\r\nx');
  let sent = 1;
  const trickle = setInterval(() => {
    if (!c.isClosed && sent < 10) {
      c.write('x');
      sent++;
    }
  }, 2 * clientMs);
  try {
    await assert.rejects(c.read(), /connection closed/, 'no answer, the connection is closed');
  } finally {
    clearInterval(trickle);
  }
  assert.ok(sent < 10, `the body was cut before it was complete (${sent} of 10 bytes sent)`);
  await waitFor(() => outcome.has('trickle'), 'the real server to see the request end');
  assert.equal(outcome.get('trickle'), 'aborted');

  // The timeout is one of inactivity (as nginx's client_body_timeout), not a deadline for the whole body: a body that
  // keeps coming, one byte per clientMs / 6, arrives whole even though it takes longer than clientMs in all.
  const steady = await RawClient.connect(port);
  steady.write('POST / HTTP/1.1\r\nHost: x\r\nX-Id: steady\r\nContent-Length: 10\r\n\r\n');
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, clientMs / 6));
    steady.write('y');
  }
  const ok = await steady.read();
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'got steady');
  assert.equal(outcome.get('steady'), 'complete');
  steady.close();
});
