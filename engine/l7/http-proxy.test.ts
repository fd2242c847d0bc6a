/**
 * The http mode over real loopback sockets, proxy in-process (workers: 0) so scheduler sequences are exact.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, fetchOnce, freePort, httpService, RawClient, startBackend, type Backend } from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import type { ServerKey } from '../dataplane.ts';

let dp: L7DataPlane;
const backends: Backend[] = [];
let a: Backend, b: Backend, c: Backend;

before(async () => {
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-test-${process.pid}`, workers: 0, closeGraceMs: 200 });
  [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  backends.push(a, b, c);
});

after(async () => {
  await dp.close();
  await Promise.all(backends.map((x) => x.close()));
});

function serve(vs: VirtualServiceInput[], decisions: Record<string, ServerDecision> = {}) {
  return dp.apply({ config: config(vs), decisions: new Map(Object.entries(decisions) as [ServerKey, ServerDecision][]) });
}

async function tags(port: number, n: number, path = '/', headers: Record<string, string> = {}): Promise<string> {
  const client = await RawClient.connect(port);
  let out = '';
  for (let i = 0; i < n; i++) out += (await client.request('GET', path, headers)).headers['x-server'] ?? '-';
  client.close();
  return out;
}

const rs = (x: Backend, more: object = {}) => ({ name: x.name, address: '127.0.0.1', port: x.port, ...more });

test('schedulers distribute exactly, per request on one keep-alive connection', async () => {
  const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const res = await serve([
    httpService('rr', p1, [a, b, c]),
    httpService('wrr', p2, [], { scheduler: 'wrr', realServers: [rs(a, { weight: 3 }), rs(b, { weight: 1 })] }),
    httpService('fo', p3, [], { scheduler: 'fo', realServers: [rs(a, { weight: 1 }), rs(b, { weight: 2 })] }),
    httpService('uri', p4, [a, b, c], { scheduler: 'uri' }),
  ]);
  assert.deepEqual(res.map((r) => r.status), ['programmed', 'programmed', 'programmed', 'programmed']);
  assert.equal(await tags(p1, 6), 'abcabc');
  assert.equal(await tags(p2, 8), 'aabaaaba');
  assert.equal(await tags(p3, 3), 'bbb');
  const one = await tags(p4, 1, '/img/x.png?v=1');
  assert.equal(await tags(p4, 4, '/img/x.png?v=2'), one.repeat(4), 'uri hash ignores the query');
});

test('X-Forwarded-For is appended, X-Forwarded-Proto set, hop-by-hop headers stripped both ways', async () => {
  const port = await freePort();
  const hop = await startBackend('hop', (req, res) => {
    res.setHeader('Keep-Alive', 'timeout=5');
    res.setHeader('X-Private', 'p');
    res.setHeader('Connection', 'X-Private');
    res.end('hop');
    return true;
  });
  backends.push(hop);
  await serve([httpService('hdr', port, [hop])]);
  const r = await fetchOnce(port, 'GET', '/', { 'X-Forwarded-For': '192.0.2.9', 'X-Forwarded-Proto': 'https', Connection: 'keep-alive, X-Secret', 'X-Secret': 's', 'Keep-Alive': '5', 'Proxy-Connection': 'x', TE: 'trailers' });
  const seen = hop.seen.at(-1)!.headers;
  assert.equal(seen['x-forwarded-for'], '192.0.2.9, 127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  for (const h of ['x-secret', 'keep-alive', 'proxy-connection', 'te']) assert.equal(seen[h], undefined, h);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-private'], undefined);
  assert.equal(r.headers['keep-alive'], undefined);
});

test('header rules, URL rewrite, redirects and content switching', async () => {
  const port = await freePort();
  await serve([
    httpService('rules', port, [], {
      realServers: [rs(a), rs(b, { group: 'api' }), rs(c, { group: 'static' })],
      layer7: {
        requestHeaders: [
          { action: 'add', name: 'X-Added', value: '1' },
          { action: 'set', name: 'User-Agent', value: 'fulcrum-test' },
          { action: 'delete', name: 'X-Remove' },
        ],
        responseHeaders: [
          { action: 'set', name: 'X-Server', value: 'hidden' },
          { action: 'add', name: 'X-Frame-Options', value: 'DENY' },
          { action: 'delete', name: 'Date' },
        ],
        urlRewrites: [{ pattern: '^/old/(.*)$', replacement: '/new/$1' }],
        redirects: [
          { match: { pathPrefix: '/moved' }, location: 'https://elsewhere.example${path}${query}', status: 308 },
          { match: { host: 'legacy.example' }, location: 'https://www.example/', status: 301 },
        ],
        routes: [
          { name: 'api', match: { pathPrefix: '/api/' }, group: 'api' },
          { name: 'img', match: { pathSuffix: '.png' }, group: 'static' },
          { name: 'beta', match: { header: { name: 'X-Beta', value: 'yes' } }, group: 'api' },
          { name: 'host', match: { host: '*.cdn.example' }, group: 'static' },
          { name: 'lan', match: { source: '10.0.0.0/8' }, group: 'static' },
        ],
      },
    }),
  ]);
  const r = await fetchOnce(port, 'GET', '/old/page?q=1', { 'User-Agent': 'curl', 'X-Remove': 'x' });
  const seen = a.seen.at(-1)!;
  assert.equal(seen.url, '/new/page?q=1');
  assert.equal(seen.headers['x-added'], '1');
  assert.equal(seen.headers['user-agent'], 'fulcrum-test');
  assert.equal(seen.headers['x-remove'], undefined);
  assert.equal(r.headers['x-server'], 'hidden');
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['date'], undefined);
  assert.equal(r.body, 'a');

  const moved = await fetchOnce(port, 'GET', '/moved/x?y=1');
  assert.equal(moved.status, 308);
  assert.equal(moved.headers.location, 'https://elsewhere.example/moved/x?y=1');
  const legacy = await fetchOnce(port, 'GET', '/', { Host: 'legacy.example:80' });
  assert.equal(legacy.status, 301);
  assert.equal(legacy.headers.location, 'https://www.example/');

  assert.equal((await fetchOnce(port, 'GET', '/api/v1')).body, 'b');
  assert.equal((await fetchOnce(port, 'GET', '/logo.png')).body, 'c');
  assert.equal((await fetchOnce(port, 'GET', '/x', { 'X-Beta': 'yes' })).body, 'b');
  assert.equal((await fetchOnce(port, 'GET', '/x', { 'X-Beta': 'no' })).body, 'a');
  assert.equal((await fetchOnce(port, 'GET', '/x', { Host: 'img.cdn.example' })).body, 'c');
  assert.equal((await fetchOnce(port, 'GET', '/x')).body, 'a', 'loopback is not in 10.0.0.0/8');
});

test('HTTP to HTTPS redirect with each status', async () => {
  for (const status of [301, 302, 303, 307, 308] as const) {
    const port = await freePort();
    await serve([httpService('to-https', port, [a], { layer7: { httpsRedirect: { status } } })]);
    const r = await fetchOnce(port, 'GET', '/p?q=1', { Host: 'www.example:8080' });
    assert.equal(r.status, status);
    assert.equal(r.headers.location, 'https://www.example/p?q=1');
  }
});

test('cookie insert persistence: HttpOnly, Secure, Max-Age; drained servers keep their clients, halted ones do not', async () => {
  const port = await freePort();
  // Plain HTTP: by default no Secure flag, or the browser would never send the cookie back over this listener.
  await serve([httpService('cookie', port, [a, b], { persistence: { type: 'http-cookie', cookieName: 'LB' } })]);
  assert.deepEqual((await fetchOnce(port, 'GET', '/')).setCookies[0].split('; ').slice(1), ['Path=/', 'HttpOnly']);
  const vs = httpService('cookie', port, [a, b], { persistence: { type: 'http-cookie', cookieName: 'LB', maxLifeSeconds: 3600, maxIdleSeconds: 600, secure: true } });
  await serve([vs]);
  const first = await fetchOnce(port, 'GET', '/');
  assert.equal(first.setCookies.length, 1);
  const [pair, ...attrs] = first.setCookies[0].split('; ');
  assert.match(pair, /^LB=[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/);
  assert.deepEqual(attrs, ['Path=/', 'Max-Age=3600', 'HttpOnly', 'Secure']);
  const server = first.body;
  const other = server === 'a' ? 'b' : 'a';
  const client = await RawClient.connect(port);
  for (let i = 0; i < 4; i++) {
    const r = await client.request('GET', '/', { Cookie: `x=1; ${pair}` });
    assert.equal(r.body, server);
    assert.equal(r.setCookies.length, 0, 'a fresh cookie is not set again');
  }
  // Drain the sticky server: its cookie clients stay, new clients go to the other one.
  await serve([vs], { [`cookie/${server}`]: decideServer('drain', 'up', 100) });
  assert.equal((await client.request('GET', '/', { Cookie: pair })).body, server);
  assert.equal((await fetchOnce(port, 'GET', '/')).body, other);
  // Health-down: persistent clients fail over.
  await serve([vs], { [`cookie/${server}`]: decideServer('online', 'down', 100) });
  const failover = await client.request('GET', '/', { Cookie: pair });
  assert.equal(failover.body, other);
  assert.equal(failover.setCookies.length, 1, 'the client is given a cookie for its new server');
  // Halt: out of service now, for everyone.
  await serve([vs], { [`cookie/${server}`]: decideServer('halt', 'up', 100) });
  assert.equal((await client.request('GET', '/', { Cookie: pair })).body, other);
  client.close();
  // A cookie past its max life is not honoured.
  const old = `LB=${pair.split('=')[1].split('.')[0]}.${(1000).toString(36)}.${(1000).toString(36)}`;
  await serve([vs]);
  const r = await fetchOnce(port, 'GET', '/', { Cookie: old });
  assert.equal(r.setCookies.length, 1);
});

test('application cookie learning and source-IP persistence', async () => {
  const jsession = await startBackend('j', (req, res) => {
    if (req.url === '/login') res.setHeader('Set-Cookie', `JSESSIONID=${crypto.randomUUID()}; Path=/`);
    return false;
  });
  const jsession2 = await startBackend('k', (req, res) => {
    if (req.url === '/login') res.setHeader('Set-Cookie', `JSESSIONID=${crypto.randomUUID()}; Path=/`);
    return false;
  });
  backends.push(jsession, jsession2);
  const p1 = await freePort();
  const p2 = await freePort();
  await serve([
    httpService('app', p1, [jsession, jsession2], { persistence: { type: 'app-cookie', cookieName: 'JSESSIONID' } }),
    httpService('src', p2, [a, b, c], { persistence: { type: 'source-ip', timeoutSeconds: 60 } }),
  ]);
  for (let i = 0; i < 3; i++) {
    const login = await fetchOnce(p1, 'GET', '/login');
    const sid = login.setCookies[0].split(';')[0];
    for (let k = 0; k < 3; k++) assert.equal((await fetchOnce(p1, 'GET', '/page', { Cookie: sid })).body, login.body);
  }
  const first = (await fetchOnce(p2, 'GET', '/')).body;
  assert.equal(await tags(p2, 5), first.repeat(5));
});

test('backup servers, fallback server, maintenance page and a plain 503', async () => {
  const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const halt = decideServer('halt', 'up', 100);
  await serve(
    [
      httpService('backup', p1, [], { realServers: [rs(a), rs(b, { isBackup: true })] }),
      httpService('fallback', p2, [a], { fallback: { type: 'server', address: '127.0.0.1', port: c.port } }),
      httpService('maint', p3, [a], { fallback: { type: 'maintenance-page' } }),
      httpService('none', p4, [a]),
    ],
    { 'backup/a': halt, 'fallback/a': halt, 'maint/a': halt, 'none/a': halt },
  );
  assert.equal(await tags(p1, 3), 'bbb');
  assert.equal(await tags(p2, 2), 'cc');
  const m = await fetchOnce(p3, 'GET', '/');
  assert.equal(m.status, 503);
  assert.match(m.headers['content-type'], /text\/html/);
  assert.match(m.body, /maintenance/);
  const n = await fetchOnce(p4, 'GET', '/');
  assert.equal(n.status, 503);
  assert.match(n.body, /No real server is available/);
});

test('connection failures are retried on another server; 502 when none answers; 504 on server timeout', async () => {
  const dead = await freePort();
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const [p1, p2, p3] = await Promise.all([freePort(), freePort(), freePort()]);
  await serve([
    httpService('retry', p1, [], { realServers: [{ name: 'dead', address: '127.0.0.1', port: dead }, rs(a)] }),
    httpService('bad', p2, [], { realServers: [{ name: 'dead', address: '127.0.0.1', port: dead }] }),
    httpService('slow', p3, [], {
      realServers: [{ name: 'silent', address: '127.0.0.1', port: (silent.address() as net.AddressInfo).port }],
      layer7: { timeouts: { serverMs: 300 } },
    }),
  ]);
  assert.equal(await tags(p1, 4), 'aaaa');
  const post = await fetchOnce(p1, 'POST', '/', {}, 'body');
  assert.equal(post.body, 'a', 'a POST is retried too when nothing was sent');
  const bad = await fetchOnce(p2, 'GET', '/');
  assert.equal(bad.status, 502);
  assert.match(bad.body, /ECONNREFUSED/);
  const slow = await fetchOnce(p3, 'GET', '/');
  assert.equal(slow.status, 504);
  silent.close();
  const counters = await dp.counters();
  assert.ok(counters.get('bad')!.service.responses!['5xx'] >= 1);
});

test('per-server maximum connections queue requests; a full queue answers 503', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const slow = await startBackend('slow', (req, res) => {
    void gate.then(() => res.end('slow'));
    return true;
  });
  backends.push(slow);
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([
    httpService('queue', p1, [], { realServers: [rs(slow, { maxConnections: 1 })] }),
    httpService('noqueue', p2, [], { realServers: [rs(slow, { maxConnections: 1 })], layer7: { limits: { maxQueue: 0 } } }),
  ]);
  const first = fetchOnce(p1, 'GET', '/1');
  const second = fetchOnce(p1, 'GET', '/2');
  const third = fetchOnce(p2, 'GET', '/3');
  while (slow.seen.length < 2) await new Promise((r) => setTimeout(r, 10));
  const rejected = await fetchOnce(p2, 'GET', '/4');
  assert.equal(rejected.status, 503);
  assert.equal(slow.seen.length, 2, 'the queued request has not reached the server');
  release();
  assert.deepEqual((await Promise.all([first, second, third])).map((r) => r.status), [200, 200, 200]);
  assert.deepEqual(slow.seen.map((s) => s.url).sort(), ['/1', '/2', '/3']);
});

test('request bodies (length and chunked) pass through; limits answer 413 and 431', async () => {
  const port = await freePort();
  await serve([httpService('body', port, [a], { layer7: { limits: { maxBodyBytes: 1000, maxHeaderBytes: 2048 } } })]);
  const r1 = await fetchOnce(port, 'POST', '/', {}, 'x'.repeat(500));
  assert.equal(r1.headers['x-body-bytes'], '500');
  const client = await RawClient.connect(port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
  client.write('3\r\nabc\r\n0\r\n\r\n');
  const r2 = await client.read();
  assert.equal(r2.headers['x-body-bytes'], '8');
  assert.equal((await client.request('GET', '/')).body, 'a', 'the connection is reused after a chunked request');
  client.close();
  assert.equal((await fetchOnce(port, 'POST', '/', {}, 'x'.repeat(1001))).status, 413);
  assert.equal((await fetchOnce(port, 'GET', '/', { 'X-Big': 'y'.repeat(3000) })).status, 431);
  assert.equal((await fetchOnce(port, 'GET', '/', { 'Bad Header': 'y' })).status, 400);
});

test('WebSocket upgrade passes through as a tunnel', async () => {
  const ws = await startBackend('ws');
  ws.server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  backends.push(ws);
  const port = await freePort();
  await serve([httpService('ws', port, [ws])]);
  const client = await RawClient.connect(port);
  const r = await client.request('GET', '/chat', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'x', 'Sec-WebSocket-Version': '13' });
  assert.equal(r.status, 101);
  assert.equal(r.headers.upgrade, 'websocket');
  const sock = (client as unknown as { socket: net.Socket }).socket;
  const got = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString())));
  client.write('ping');
  assert.equal(await got, 'echo:ping');
  client.close();
});

test('port translation: a real server without a port gets the port the client used', async () => {
  const port = await freePort();
  const same = await startBackend('same');
  await same.close();
  const s2 = await new Promise<Backend>((resolve) => {
    const b2 = { ...same, seen: [] } as Backend;
    b2.server.listen(port, '127.0.0.2', () => resolve(b2));
  });
  backends.push(s2);
  await serve([httpService('pt', port, [], { realServers: [{ name: 'same', address: '127.0.0.2' }] })]);
  assert.equal((await fetchOnce(port, 'GET', '/')).body, 'same');
});

test('PROXY protocol v1 and v2 go to the real server before the request', async () => {
  for (const version of ['v1', 'v2'] as const) {
    let first: Buffer | undefined;
    const raw = net.createServer((s) => {
      s.once('data', (d) => {
        first = d;
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const port = await freePort();
    await serve([httpService('pp', port, [], { realServers: [{ name: 'raw', address: '127.0.0.1', port: (raw.address() as net.AddressInfo).port }], layer7: { proxyProtocol: version } })]);
    assert.equal((await fetchOnce(port, 'GET', '/')).body, 'ok');
    if (version === 'v1') assert.match(first!.toString('latin1'), new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${port}\\r\\nGET / HTTP/1\\.1\\r\\n`));
    else {
      assert.equal(first!.subarray(0, 16).toString('hex'), '0d0a0d0a000d0a515549540a2111000c');
      assert.equal(first!.readUInt16BE(26), port);
      assert.match(first!.subarray(28).toString('latin1'), /^GET \/ HTTP\/1\.1\r\n/);
    }
    raw.close();
  }
});

test('a taken port fails that service only, with PROXY_LISTEN_FAILED; layer 4 services are ignored; apply is idempotent', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const takenPort = (taken.address() as net.AddressInfo).port;
  const ok = await freePort();
  const vs = [
    httpService('busy', takenPort, [a]),
    httpService('fine', ok, [a]),
    { name: 'l4', layer: 4 as const, mode: 'nat' as const, address: '10.9.9.9', ports: [80], scheduler: 'wlc' as const, realServers: [{ name: 'x', address: '10.9.9.10' }] },
  ];
  for (let i = 0; i < 2; i++) {
    const res = await serve(vs);
    assert.deepEqual(res.filter((r) => r.status !== 'removed').map((r) => [r.name, r.status, r.code]), [['busy', 'failed', 'PROXY_LISTEN_FAILED'], ['fine', 'programmed', undefined]]);
    assert.match(res[0].message, /EADDRINUSE/);
  }
  assert.equal((await fetchOnce(ok, 'GET', '/')).body, 'a');
  taken.close();
  const removed = await serve([]);
  assert.deepEqual(removed.map((r) => r.status), ['removed', 'removed']);
});

test('counters per service and server: requests, classes, bytes, latency', async () => {
  const port = await freePort();
  await serve([httpService('stats', port, [a, b])]);
  await tags(port, 4);
  await fetchOnce(port, 'GET', '/x', { 'Bad Header': '1' });
  const s = (await dp.counters()).get('stats')!;
  assert.equal(s.service.requests, 4);
  assert.equal(s.service.responses!['2xx'], 4);
  assert.equal(s.service.responses!['4xx'], 1);
  assert.equal(s.servers.get('a')!.requests, 2);
  assert.equal(s.servers.get('b')!.requests, 2);
  assert.ok(s.service.bytesIn > 0 && s.service.bytesOut > 0);
  assert.ok(typeof s.servers.get('a')!.latencyMs === 'number');
});
