/**
 * The http mode over real loopback sockets, proxy in-process (workers: 0) so scheduler sequences are exact.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, exchangeUntilClose, fetchFrom, fetchOnce, freePort, httpService, RawClient, startBackend, waitFor, type Backend } from './test-helpers.ts';
import { decodeInsertCookie, serverCookieId } from './persistence.ts';
import { Scheduler } from './scheduler.ts';
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
  assert.deepEqual(
    res.map((r) => r.status),
    ['programmed', 'programmed', 'programmed', 'programmed'],
  );
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
  const r = await fetchOnce(port, 'GET', '/', {
    'X-Forwarded-For': '192.0.2.9',
    'X-Forwarded-Proto': 'https',
    Connection: 'keep-alive, X-Secret',
    'X-Secret': 's',
    'Keep-Alive': '5',
    'Proxy-Connection': 'x',
    TE: 'trailers',
  });
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
  const vs = httpService('cookie', port, [a, b], {
    persistence: { type: 'http-cookie', cookieName: 'LB', maxLifeSeconds: 3600, maxIdleSeconds: 600, secure: true },
  });
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
  assert.deepEqual(
    (await Promise.all([first, second, third])).map((r) => r.status),
    [200, 200, 200],
  );
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
    await serve([
      httpService('pp', port, [], {
        realServers: [{ name: 'raw', address: '127.0.0.1', port: (raw.address() as net.AddressInfo).port }],
        layer7: { proxyProtocol: version },
      }),
    ]);
    assert.equal((await fetchOnce(port, 'GET', '/')).body, 'ok');
    if (version === 'v1')
      assert.match(first!.toString('latin1'), new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${port}\\r\\nGET / HTTP/1\\.1\\r\\n`));
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
    {
      name: 'l4',
      layer: 4 as const,
      mode: 'nat' as const,
      address: '10.9.9.9',
      ports: [80],
      scheduler: 'wlc' as const,
      realServers: [{ name: 'x', address: '10.9.9.10' }],
    },
  ];
  for (let i = 0; i < 2; i++) {
    const res = await serve(vs);
    assert.deepEqual(
      res.filter((r) => r.status !== 'removed').map((r) => [r.name, r.status, r.code]),
      [
        ['busy', 'failed', 'PROXY_LISTEN_FAILED'],
        ['fine', 'programmed', undefined],
      ],
    );
    assert.match(res[0].message, /EADDRINUSE/);
  }
  assert.equal((await fetchOnce(ok, 'GET', '/')).body, 'a');
  taken.close();
  const removed = await serve([]);
  assert.deepEqual(
    removed.map((r) => r.status),
    ['removed', 'removed'],
  );
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

/**
 * Backends that hold "/hold" requests until released (so a server has a request in flight) and answer "/slow" after
 * 50 ms; anything else as startBackend does.
 */
async function startHolding(names: string[]): Promise<{ servers: Backend[]; held: { server: string; res: http.ServerResponse }[] }> {
  const held: { server: string; res: http.ServerResponse }[] = [];
  const servers = await Promise.all(
    names.map((name) =>
      startBackend(name, (req, res) => {
        if (req.url === '/hold') {
          held.push({ server: name, res });
          return true;
        }
        if (req.url === '/slow') {
          setTimeout(() => res.setHeader('x-server', name).end(name), 50);
          return true;
        }
        return false;
      }),
    ),
  );
  backends.push(...servers);
  return { servers, held };
}

/** Sends a request that the server holds, on its own connection; resolves once the server has it. */
async function holdOne(port: number, held: { server: string }[]): Promise<{ client: RawClient; server: string }> {
  const before = held.length;
  const client = await RawClient.connect(port);
  client.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => held.length > before, 'the held request to reach a server');
  return { client, server: held.at(-1)!.server };
}

test('a backup server takes no traffic while a primary is up; it takes all of it while none is', async () => {
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  const vs = [
    httpService('bk', p1, [], { realServers: [rs(a), rs(b, { isBackup: true })] }),
    httpService('bk2', p2, [], { realServers: [rs(a), rs(b, { isBackup: true }), rs(c)] }),
  ];
  await serve(vs);
  // rr over every server would give "ababab" and "abcabc": the backup must not be among the candidates.
  assert.equal(await tags(p1, 6), 'aaaaaa');
  assert.equal(await tags(p2, 6), 'acacac');
  await serve(vs, { 'bk/a': decideServer('online', 'down', 100), 'bk2/a': decideServer('online', 'down', 100) });
  assert.equal(await tags(p1, 4), 'bbbb', 'the only primary is health-down: the backup serves');
  assert.equal(await tags(p2, 4), 'cccc', 'a primary is left: the backup still takes nothing');
  await serve(vs, { 'bk/a': decideServer('halt', 'up', 100) });
  assert.equal(await tags(p1, 4), 'bbbb');
  await serve(vs);
  assert.equal(await tags(p1, 4), 'aaaa', 'the primary is back: the backup takes nothing again');
});

test('content switching by client source (positive and negative) and by path regex', async () => {
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([
    httpService('src-lan', p1, [], {
      realServers: [rs(a), rs(b, { group: 'lan' })],
      layer7: { routes: [{ name: 'lan', match: { source: '127.0.0.0/8' }, group: 'lan' }] },
    }),
    httpService('src-one', p2, [], {
      realServers: [rs(a), rs(b, { group: 'two' }), rs(c, { group: 'rx' })],
      layer7: {
        routes: [
          { name: 'two', match: { source: '127.0.0.2/32' }, group: 'two' },
          { name: 'rx', match: { pathRegex: '^/v[0-9]+/items$' }, group: 'rx' },
        ],
      },
    }),
  ]);
  // Each group holds one server, so what answers is the route's doing, not the scheduler's.
  assert.equal(await tags(p1, 3), 'bbb', 'loopback is in 127.0.0.0/8');
  assert.equal((await fetchFrom('127.0.0.2', p2, 'GET', '/')).body, 'b', '127.0.0.2 is in 127.0.0.2/32');
  assert.equal((await fetchFrom('127.0.0.3', p2, 'GET', '/')).body, 'a', '127.0.0.3 is not');
  assert.equal((await fetchFrom('127.0.0.1', p2, 'GET', '/')).body, 'a', '127.0.0.1 is not');
  assert.equal((await fetchFrom('127.0.0.2', p2, 'GET', '/v2/items')).body, 'b', 'the first matching route wins');
  const byPath: [string, string][] = [
    ['/v2/items', 'c'],
    ['/v10/items?page=2', 'c'],
    ['/v2/items/7', 'a'],
    ['/vx/items', 'a'],
    ['/api/v2/items', 'a'],
  ];
  for (const [path, want] of byPath) assert.equal((await fetchFrom('127.0.0.3', p2, 'GET', path)).body, want, path);
});

test('lc over real sockets: while one server holds a request, every new one goes to the other', async () => {
  const { servers, held } = await startHolding(['lc1', 'lc2']);
  const port = await freePort();
  await serve([httpService('lc', port, servers, { scheduler: 'lc' })]);
  const busy = await holdOne(port, held);
  const idle = busy.server === 'lc1' ? 'lc2' : 'lc1';
  // rr (or lc that ignored in-flight requests) would send every other request to the busy server.
  assert.equal(await tags(port, 6), idle.repeat(6));
  const second = await holdOne(port, held);
  assert.equal(second.server, idle, 'a second held request goes to the idle server too');
  for (const h of held.splice(0)) h.res.end('released');
  assert.equal((await busy.client.read()).body, 'released');
  assert.equal((await second.client.read()).body, 'released');
  busy.client.close();
  second.client.close();
  // Both idle again: equals are taken in turn.
  const both = await tags(port, 4);
  assert.ok(both.includes('lc1') && both.includes('lc2'), both);
});

test('p2c over real sockets: never the server with a request in flight while another is idle', async () => {
  const { servers, held } = await startHolding(['p1', 'p2', 'p3']);
  const port = await freePort();
  await serve([httpService('p2c', port, servers, { scheduler: 'p2c' })]);
  const busy = await holdOne(port, held);
  const client = await RawClient.connect(port);
  const seen: Record<string, number> = {};
  for (let i = 0; i < 60; i++) {
    const tag = (await client.request('GET', '/')).headers['x-server'];
    seen[tag] = (seen[tag] ?? 0) + 1;
  }
  client.close();
  assert.equal(seen[busy.server], undefined, `the busy server ${busy.server} took none: ${JSON.stringify(seen)}`);
  // Each idle server wins half the draws; all 60 to one of them would happen about once in 2^59 runs.
  assert.equal(Object.keys(seen).length, 2, JSON.stringify(seen));
  for (const h of held.splice(0)) h.res.end('released');
  await busy.client.read();
  busy.client.close();
});

test('sh over real sockets: each client address sticks to one server, and the addresses spread', async () => {
  const port = await freePort();
  await serve([httpService('sh', port, [a, b, c], { scheduler: 'sh' })]);
  const expected = new Scheduler('sh');
  const candidates = [a, b, c].map((x) => ({ name: x.name, weight: 100, active: 0 }));
  const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.6'];
  const landed = new Set<string>();
  // One source after another, four fresh connections each (new source ports): rr would give each source 3 servers.
  for (const ip of sources) {
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await fetchFrom(ip, port, 'GET', '/')).body);
    const want = expected.pick(candidates, ip)!.name;
    assert.deepEqual(got, [want, want, want, want], `client ${ip}`);
    landed.add(want);
  }
  assert.ok(landed.size >= 2, `the sources spread over ${[...landed].join(', ')}`);
});

test('uri over real sockets: two paths that hash apart each stay on their server, interleaved on one connection', async () => {
  const port = await freePort();
  await serve([httpService('uri2', port, [a, b, c], { scheduler: 'uri' })]);
  const expected = new Scheduler('uri');
  const candidates = [a, b, c].map((x) => ({ name: x.name, weight: 100, active: 0 }));
  const one = '/p/0';
  const home = expected.pick(candidates, one)!.name;
  const two = Array.from({ length: 100 }, (_, i) => `/p/${i}`).find((p) => expected.pick(candidates, p)!.name !== home)!;
  const away = expected.pick(candidates, two)!.name;
  const client = await RawClient.connect(port);
  let got = '';
  for (let i = 0; i < 6; i++) got += (await client.request('GET', i % 2 === 0 ? one : `${two}?i=${i}`)).body;
  client.close();
  assert.equal(got, (home + away).repeat(3));
});

test('cookie max idle and max life are judged apart; a stale cookie is refreshed keeping its first-seen time', async () => {
  const port = await freePort();
  await serve([httpService('cookie-t', port, [a, b], { persistence: { type: 'http-cookie', cookieName: 'LB', maxIdleSeconds: 600, maxLifeSeconds: 3600 } })]);
  const id = serverCookieId('cookie-t', 'a');
  const now = Math.floor(Date.now() / 1000);
  const cookie = (firstAgo: number, lastAgo: number) => `LB=${id}.${(now - firstAgo).toString(36)}.${(now - lastAgo).toString(36)}`;
  /** Two requests in a row with the cookie, each on a fresh connection. */
  const twice = async (c: string) => [await fetchOnce(port, 'GET', '/', { Cookie: c }), await fetchOnce(port, 'GET', '/', { Cookie: c })];

  // Within both limits: honoured (rr alone would alternate a and b), and not set again (idle refresh is at 150 s).
  const fresh = await twice(cookie(1000, 100));
  assert.deepEqual(
    fresh.map((r) => [r.body, r.setCookies.length]),
    [
      ['a', 0],
      ['a', 0],
    ],
  );

  // First seen 1000 s ago (within the 3600 s life), last seen 700 s ago (past the 600 s idle): expired by idle.
  // Life-expired: first seen 4000 s ago (past the life), last seen 10 s ago (well within idle).
  for (const [what, c] of [
    ['idle', cookie(1000, 700)],
    ['life', cookie(4000, 10)],
  ] as const) {
    const rs2 = await twice(c);
    assert.deepEqual(rs2.map((r) => r.body).sort(), ['a', 'b'], `${what}: not honoured, so the scheduler places the client`);
    for (const r of rs2) {
      assert.equal(r.setCookies.length, 1, what);
      const v = decodeInsertCookie(r.setCookies[0].split(';')[0].slice('LB='.length))!;
      assert.ok(v.firstSeen! >= (now - 60) * 1000, `${what}: a new cookie starts a new life (first seen ${v.firstSeen})`);
    }
  }

  // Last seen 300 s ago: honoured, and refreshed (past a quarter of the idle limit) with its first-seen time kept.
  const stale = await twice(cookie(1000, 300));
  assert.deepEqual(
    stale.map((r) => r.body),
    ['a', 'a'],
  );
  const refreshed = decodeInsertCookie(stale[0].setCookies[0].split(';')[0].slice('LB='.length))!;
  assert.equal(refreshed.serverId, id);
  assert.equal(refreshed.firstSeen, (now - 1000) * 1000);
  assert.ok(refreshed.lastSeen! >= (now - 60) * 1000);
});

test('counters: active connections while a request is held, and the latency of a slow server', async () => {
  const { servers, held } = await startHolding(['st1', 'st2']);
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([httpService('st-active', p1, servers), httpService('st-lat', p2, [servers[0]])]);

  // One client connection with a request held at a server, one with a finished request.
  const busy = await holdOne(p1, held);
  const other = busy.server === 'st1' ? 'st2' : 'st1';
  const quiet = await RawClient.connect(p1);
  assert.equal((await quiet.request('GET', '/')).headers['x-server'], other);
  let s = (await dp.counters()).get('st-active')!;
  assert.equal(s.service.activeConnections, 2, 'two client connections are open');
  assert.equal(s.servers.get(busy.server)!.activeConnections, 1, 'one request in flight there');
  assert.equal(s.servers.get(other)!.activeConnections, 0, 'its request finished');
  for (const h of held.splice(0)) h.res.end('released');
  await busy.client.read();
  busy.client.close();
  quiet.close();
  await waitFor(async () => {
    s = (await dp.counters()).get('st-active')!;
    return s.service.activeConnections === 0 && s.servers.get('st1')!.activeConnections === 0 && s.servers.get('st2')!.activeConnections === 0;
  }, 'the counts to fall to 0 once both clients closed');

  // Latency: the server answers after 50 ms. (Reading counters restarts the latency window; nothing ran since.)
  for (let i = 0; i < 3; i++) assert.equal((await fetchOnce(p2, 'GET', '/slow')).status, 200);
  const lat = (await dp.counters()).get('st-lat')!;
  for (const [what, ms] of [
    ['service', lat.service.latencyMs],
    ['server', lat.servers.get(servers[0].name)!.latencyMs],
  ] as const) {
    assert.ok(Number.isFinite(ms) && ms! >= 45, `${what} latency ${ms} ms`);
  }
});

test('byte counters equal the bytes on the wire, per service and per server', async () => {
  const chunked = (n: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url !== '/chunked') return false;
    res.setHeader('x-server', n);
    res.write('one,');
    setTimeout(() => res.end('two'), 5);
    return true;
  };
  const [s1, s2] = await Promise.all(['by1', 'by2'].map((n) => startBackend(n, chunked(n))));
  backends.push(s1, s2);
  const upstream = new Map<string, net.Socket[]>([
    ['by1', []],
    ['by2', []],
  ]);
  for (const x of [s1, s2]) x.server.on('connection', (sock: net.Socket) => upstream.get(x.name)!.push(sock));
  const port = await freePort();
  await serve([httpService('bytes', port, [s1, s2])]);

  const sockets: net.Socket[] = [];
  const open = async () => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => sock.once('connect', r));
    sockets.push(sock);
    return RawClient.connect(port, '127.0.0.1', sock);
  };
  // Keep-alive: bodies both ways, chunked and sized, spread over both servers by rr.
  const k = await open();
  assert.equal((await k.request('GET', '/')).status, 200);
  assert.equal((await k.request('POST', '/upload', {}, 'x'.repeat(1000))).headers['x-body-bytes'], '1000');
  assert.equal((await k.request('GET', '/chunked')).body, 'one,two');
  k.write('POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  assert.equal((await k.read()).headers['x-body-bytes'], '5');
  k.close();
  // A request the proxy answers itself (400) counts on the service only.
  const bad = await open();
  bad.write('GET / HTTP/1.1\r\nBad Header: 1\r\n\r\n');
  assert.equal((await bad.read()).status, 400);
  await waitFor(() => bad.isClosed, 'the proxy to close after its 400');

  const sum = (list: net.Socket[], f: (s: net.Socket) => number) => list.reduce((n, x) => n + f(x), 0);
  const c = (await dp.counters()).get('bytes')!;
  assert.equal(
    c.service.bytesIn,
    sum(sockets, (x) => x.bytesWritten),
    'service: bytes the clients sent',
  );
  assert.equal(
    c.service.bytesOut,
    sum(sockets, (x) => x.bytesRead),
    'service: bytes the clients received',
  );
  for (const name of ['by1', 'by2']) {
    const list = upstream.get(name)!;
    assert.ok(list.length > 0, `${name} was used`);
    assert.equal(
      c.servers.get(name)!.bytesIn,
      sum(list, (x) => x.bytesRead),
      `${name}: bytes it received`,
    );
    assert.equal(
      c.servers.get(name)!.bytesOut,
      sum(list, (x) => x.bytesWritten),
      `${name}: bytes it sent`,
    );
  }
});

/** Writes `request` on a fresh connection and returns everything that comes back until the proxy closes. */
const rawExchange = (port: number, request: string) => exchangeUntilClose(net.connect({ port, host: '127.0.0.1' }), request);

test('header rules: add gives a second line next to an existing header, set replaces it; both ways', async () => {
  let raw: string[] = [];
  const h = await startBackend('hadd', (req, res) => {
    raw = req.rawHeaders;
    res.setHeader('X-Resp', 'server');
    res.setHeader('X-Resp-Set', 'server');
    res.end('hadd');
    return true;
  });
  backends.push(h);
  const port = await freePort();
  await serve([
    httpService('hadd', port, [h], {
      layer7: {
        requestHeaders: [
          { action: 'add', name: 'X-Tag', value: 'proxy' },
          { action: 'set', name: 'X-Set', value: 'proxy' },
        ],
        responseHeaders: [
          { action: 'add', name: 'X-Resp', value: 'proxy' },
          { action: 'set', name: 'X-Resp-Set', value: 'proxy' },
        ],
      },
    }),
  ]);
  const text = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nx-tag: client\r\nx-set: client\r\nConnection: close\r\n\r\n');
  const values = (list: string[], name: string) => list.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [list[i + 1]] : []));
  assert.deepEqual(values(raw, 'x-tag'), ['client', 'proxy'], "add: the client's line and ours");
  assert.deepEqual(values(raw, 'x-set'), ['proxy'], 'set: ours only');
  const head = text
    .slice(0, text.indexOf('\r\n\r\n'))
    .split('\r\n')
    .slice(1)
    .flatMap((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  assert.deepEqual(values(head, 'x-resp'), ['server', 'proxy'], 'response add: two lines');
  assert.deepEqual(values(head, 'x-resp-set'), ['proxy'], 'response set: one line');
});

test('a local answer whose text is not ASCII (a redirect naming a non-ASCII location) is framed by its bytes', async () => {
  const port = await freePort();
  await serve([
    httpService('utf8', port, [a], {
      layer7: { redirects: [{ match: { pathPrefix: '/go' }, location: 'https://new.example/caf\u00e9${path}', status: 302 }] },
    }),
  ]);
  const client = await RawClient.connect(port);
  try {
    // The location carries é from the configuration (a raw non-ASCII byte in the request target is refused, as by
    // HAProxy: smuggling-cases.ts, target-8bit); then a second request on the same connection, whose answer can be
    // read only if the first one's Content-Length matched its body.
    client.write('GET /go HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answers within 5 s')), 5000).unref());
    const [redirect, next] = await Promise.race([Promise.all([client.read(), client.read()]), deadline]);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, 'https://new.example/caf\u00e9/go', 'the Location goes out as latin1 bytes');
    assert.equal(redirect.body, 'Redirecting to https://new.example/café/go\n');
    assert.equal(next.status, 200);
    assert.equal(next.body, 'a');
  } finally {
    client.close();
  }
});
