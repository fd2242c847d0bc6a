/**
 * HTTP/2 to clients, differentially: each Layer 7 feature is asked the same question over HTTP/1.1 and over HTTP/2
 * (ALPN on one TLS listener, or h2c on a plain one) of the same service, and what the client and the real server
 * saw must be the same. Real sockets, node:https and node:http2 clients (nghttp2 on both ends), Node HTTP/1.1 real
 * servers. The protections are in h2-limits.test.ts.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, startBackend, within, type Backend } from './test-helpers.ts';
import { setProxyLog, type ProxyLogSink } from './proxy-log.ts';
import type { VirtualServiceInput } from '../config/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-h2-'));
let dp: L7DataPlane;
let a: Backend;
let b: Backend;
let previousLog: ProxyLogSink | null;
const logged: { msg: string; fields?: { code?: string } }[] = [];
/** Every request a real server got, in order: what it saw of the client's request. */
const seen: { server: string; method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
let cert: { name: string; certificatePem: string; privateKeyPem: string };

function recordingBackend(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ server: name, method: req.method!, url: req.url!, headers: req.headers, body });
      res.setHeader('x-server', name);
      res.setHeader('set-cookie', ['app=1', 'other=2']);
      if (req.url!.startsWith('/chunked')) {
        res.write(`${name}-`);
        res.end('chunked');
      } else res.end(`${name}${body ? `:${body}` : ''}`);
    });
    return true;
  });
}

before(async () => {
  previousLog = setProxyLog((_l, msg, fields) => logged.push({ msg, fields: fields as { code?: string } }), 1000);
  const key = path.join(dir, 'k.pem');
  const crt = path.join(dir, 'c.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '2',
      '-subj',
      '/CN=www.example',
      '-addext',
      'subjectAltName=DNS:www.example',
    ],
    { stdio: 'ignore' },
  );
  cert = { name: 'www', certificatePem: fs.readFileSync(crt, 'utf8'), privateKeyPem: fs.readFileSync(key, 'utf8') };
  dp = createL7DataPlane({ dataDir: dir, workers: 0, closeGraceMs: 200 });
  [a, b] = await Promise.all([recordingBackend('a'), recordingBackend('b')]);
});

after(async () => {
  setProxyLog(previousLog);
  await dp.close();
  await Promise.all([a.close(), b.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(vs: VirtualServiceInput[]): Promise<void> {
  const res = await dp.apply({ config: config(vs, { certificates: [cert] }), decisions: new Map() });
  assert.deepEqual(
    res.filter((r) => r.status !== 'removed').map((r) => [r.name, r.status]),
    vs.map((v) => [v.name, 'programmed']),
  );
}

/** A TLS http service offering the default ALPN (h2, http/1.1). */
function tlsService(name: string, port: number, backends: Backend[], layer7: object = {}, more: Partial<VirtualServiceInput> = {}): VirtualServiceInput {
  return httpService(name, port, backends, { layer7: { tls: { certificate: 'www' }, ...layer7 }, ...more });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over HTTP/1.1 (TLS, ALPN http/1.1, a connection of its own). */
function h1(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: string, isTls = true): Promise<Answer> {
  return within(
    new Promise<Answer>((resolve, reject) => {
      const o = { host: '127.0.0.1', port, method, path: p, headers: { host: `www.example:${port}`, ...headers }, agent: false as const };
      // node:https offers no ALPN at all, which a server answers with HTTP/1.1.
      const req = isTls ? https.request({ ...o, servername: 'www.example', rejectUnauthorized: false }) : http.request(o);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    }),
    'an HTTP/1.1 answer',
  );
}

function h2connect(port: number, isTls = true): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = isTls
      ? http2.connect(`https://www.example:${port}`, {
          host: '127.0.0.1',
          servername: 'www.example',
          rejectUnauthorized: false,
          lookup: (_h, _o, cb) => cb(null, '127.0.0.1', 4),
        } as http2.SecureClientSessionOptions)
      : http2.connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** One request on an HTTP/2 session; `headers` may repeat a name (arrays), as HTTP/2 clients split Cookie. */
function h2(session: http2.ClientHttp2Session, method: string, p: string, headers: http2.OutgoingHttpHeaders = {}, body?: string): Promise<Answer> {
  return within(
    new Promise<Answer>((resolve, reject) => {
      const req = session.request({ ':method': method, ':path': p, ...headers }, { endStream: body === undefined });
      let head: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => (head = h));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { ':status': status, ...rest } = head;
        resolve({ status: status!, headers: rest, body: Buffer.concat(chunks).toString() });
      });
      req.on('error', reject);
      if (body !== undefined) req.end(body);
    }),
    'an HTTP/2 answer',
  );
}

/** What a request left at the real server, less what must differ (the proxy's source port). */
function lastSeen(names: string[]): Record<string, unknown> {
  const s = seen.at(-1)!;
  const out: Record<string, unknown> = { server: s.server, method: s.method, url: s.url, body: s.body };
  for (const n of names) out[n] = s.headers[n];
  return out;
}

function pick(ans: Answer, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { status: ans.status, body: ans.body };
  for (const n of names) out[n] = ans.headers[n];
  return out;
}

test('ALPN: h2 is offered by default to an http service; alpn ["http/1.1"] turns it off; a tcp service may not offer it', async () => {
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([tlsService('alpn-default', p1, [a]), tlsService('alpn-h1', p2, [a], { tls: { certificate: 'www', alpn: ['http/1.1'] } })]);
  const offered = await run('openssl', ['s_client', '-connect', `127.0.0.1:${p1}`, '-alpn', 'h2,http/1.1'], 'Q\n');
  assert.match(offered, /ALPN protocol: h2/);
  const notOffered = await run('openssl', ['s_client', '-connect', `127.0.0.1:${p2}`, '-alpn', 'h2,http/1.1'], 'Q\n');
  assert.match(notOffered, /ALPN protocol: http\/1\.1/);
  // curl prefers h2 when offered: the real tool sees HTTP/2 and the same answer.
  const curl = await run('curl', ['-sk', '--http2', '-D', '-', '--resolve', `www.example:${p1}:127.0.0.1`, `https://www.example:${p1}/x`]);
  assert.match(curl, /^HTTP\/2 200/);
  assert.match(curl, /x-server: a/);
  assert.throws(
    () => config([httpService('tcp-h2', p1, [a], { mode: 'tcp', layer7: { tls: { certificate: 'www', alpn: ['h2'] } } })], { certificates: [cert] }),
    /layer7\.tls\.alpn|needs an http service/,
  );
});

function run(cmd: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 10_000 }, (_err, stdout, stderr) => resolve(stdout + stderr));
    p.stdin!.end(input);
  });
}

test('header rules, rewrites, X-Forwarded-For/Proto, Forwarded, HSTS, Cookie and :authority are the same over h2', async () => {
  const port = await freePort();
  await serve([
    tlsService('rules', port, [a], {
      forwarded: true,
      hsts: { maxAgeSeconds: 600, includeSubDomains: true },
      requestHeaders: [
        { action: 'set', name: 'X-Req', value: 'set' },
        { action: 'delete', name: 'X-Drop' },
      ],
      responseHeaders: [
        { action: 'set', name: 'X-Res', value: 'r' },
        { action: 'delete', name: 'X-Powered-By' },
      ],
      urlRewrites: [{ pattern: '^/old/(.*)$', replacement: '/new/$1' }],
    }),
  ]);
  const reqNames = ['host', 'x-req', 'x-drop', 'x-keep', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded', 'cookie', 'content-length', 'transfer-encoding'];
  const resNames = ['x-res', 'x-server', 'strict-transport-security', 'set-cookie', 'content-type'];
  const one = await h1(port, 'GET', '/old/x?q=1', { 'x-drop': '1', 'x-keep': 'k', 'x-forwarded-for': '10.0.0.1', cookie: 'c1=1; c2=2' });
  const viaH1 = { seen: lastSeen(reqNames), answer: pick(one, resNames) };
  const s = await h2connect(port);
  try {
    const two = await h2(s, 'GET', '/old/x?q=1', { 'x-drop': '1', 'x-keep': 'k', 'x-forwarded-for': '10.0.0.1', cookie: ['c1=1', 'c2=2'] });
    assert.deepEqual({ seen: lastSeen(reqNames), answer: pick(two, resNames) }, viaH1);
    assert.equal(viaH1.seen.url, '/new/x?q=1');
    assert.equal(viaH1.seen.forwarded, `for=127.0.0.1;proto=https;host="www.example:${port}"`);
    assert.equal(viaH1.seen.cookie, 'c1=1; c2=2', 'RFC 9113 §8.2.3: split Cookie fields are joined with "; "');
    assert.deepEqual(viaH1.answer['set-cookie'], ['app=1', 'other=2'], 'two Set-Cookie fields stay two');
    // A body: with Content-Length, and without (the real server gets it chunked), answered chunked (DATA for h2).
    const postH1 = pick(await h1(port, 'POST', '/chunked', { 'content-type': 'text/plain' }, 'hello'), ['x-server']);
    const seenH1 = lastSeen(['content-length', 'transfer-encoding']);
    const postH2 = pick(await h2(s, 'POST', '/chunked', { 'content-type': 'text/plain', 'content-length': '5' }, 'hello'), ['x-server']);
    assert.deepEqual([postH2, lastSeen(['content-length', 'transfer-encoding'])], [postH1, seenH1]);
    const streamed = await h2(s, 'POST', '/old/y', {}, 'streamed body');
    assert.equal(streamed.body, 'a:streamed body');
    assert.equal(seen.at(-1)!.headers['transfer-encoding'], 'chunked');
    // :authority and a Host field that names another host: a request for two hosts, refused as in HTTP/1.1.
    const twoHosts = await h2(s, 'GET', '/', { ':authority': 'www.example', host: 'other.example' });
    assert.equal(twoHosts.status, 400);
    assert.equal(
      (await h1(port, 'GET', '/', { host: 'www.example', Host: 'other.example' } as Record<string, string>)).status,
      200,
      'node:http joins them: nothing to compare',
    );
  } finally {
    s.close();
  }
});

test('redirects, HTTPS redirect and content switching answer the same over h2 (and h2c)', async () => {
  const [port, plain] = await Promise.all([freePort(), freePort()]);
  const layer7 = {
    redirects: [{ match: { pathPrefix: '/go' }, location: 'https://elsewhere.example{path}', status: 308 }],
    routes: [{ name: 'api', match: { pathPrefix: '/api' }, group: 'api' }],
  };
  const servers = {
    realServers: [
      { name: 'a', address: '127.0.0.1', port: a.port },
      { name: 'b', address: '127.0.0.1', port: b.port, group: 'api' },
    ],
  };
  await serve([
    tlsService('switch', port, [], layer7, servers),
    httpService('plain', plain, [a], { layer7: { httpsRedirect: { status: 301 }, http2: { cleartext: true } } }),
  ]);
  const s = await h2connect(port);
  const c = await h2connect(plain, false);
  try {
    for (const p of ['/go/there?x=1', '/api/v1', '/other']) {
      assert.deepEqual(pick(await h2(s, 'GET', p), ['location', 'x-server']), pick(await h1(port, 'GET', p), ['location', 'x-server']), p);
    }
    assert.equal((await h2(s, 'GET', '/api/v1')).headers['x-server'], 'b');
    const viaH2c = await h2(c, 'GET', '/p?q', { ':authority': 'www.example' });
    const viaH1 = await h1(plain, 'GET', '/p?q', { host: 'www.example' }, undefined, false);
    assert.deepEqual(pick(viaH2c, ['location']), pick(viaH1, ['location']));
    assert.equal(viaH2c.status, 301);
  } finally {
    s.close();
    c.close();
  }
});

test('cookie and source-IP persistence: the same server over h2 and HTTP/1.1, and each learns for the other', async () => {
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  await serve([
    tlsService('cookie', p1, [a, b], {}, { persistence: { type: 'http-cookie', cookieName: 'FLB', httpOnly: true } }),
    tlsService('source', p2, [a, b], {}, { persistence: { type: 'source-ip' } }),
  ]);
  const s1 = await h2connect(p1);
  const s2 = await h2connect(p2);
  try {
    const first = await h2(s1, 'GET', '/');
    const setCookie = [first.headers['set-cookie']].flat().find((c) => c!.startsWith('FLB='))!;
    assert.match(setCookie, /^FLB=[^;]+; Path=\/; HttpOnly; Secure$/, 'the insert cookie as HTTP/1.1 writes it');
    const cookie = setCookie.split(';')[0];
    const pinned = first.headers['x-server'];
    for (let i = 0; i < 3; i++) {
      assert.equal((await h2(s1, 'GET', '/', { cookie })).headers['x-server'], pinned);
      assert.equal((await h1(p1, 'GET', '/', { cookie })).headers['x-server'], pinned);
    }
    const learnt = (await h1(p2, 'GET', '/')).headers['x-server'];
    for (let i = 0; i < 3; i++) assert.equal((await h2(s2, 'GET', '/')).headers['x-server'], learnt, 'source IP learnt over HTTP/1.1 holds for h2');
  } finally {
    s1.close();
    s2.close();
  }
});

test('maintenance page, retry of idempotent requests on another server, 502 when none answers: the same over h2', async () => {
  const dead = await freePort();
  const [p1, p2, p3] = await Promise.all([freePort(), freePort(), freePort()]);
  await serve([
    tlsService(
      'maint',
      p1,
      [],
      {},
      { realServers: [{ name: 'a', address: '127.0.0.1', port: a.port, state: 'halt' }], fallback: { type: 'maintenance-page' } },
    ),
    tlsService(
      'retry',
      p2,
      [],
      {},
      {
        realServers: [
          { name: 'dead', address: '127.0.0.1', port: dead },
          { name: 'a', address: '127.0.0.1', port: a.port },
        ],
      },
    ),
    tlsService('bad', p3, [], {}, { realServers: [{ name: 'dead', address: '127.0.0.1', port: dead }] }),
  ]);
  const sessions = await Promise.all([h2connect(p1), h2connect(p2), h2connect(p3)]);
  try {
    assert.deepEqual(
      pick(await h2(sessions[0], 'GET', '/'), ['content-type', 'cache-control']),
      pick(await h1(p1, 'GET', '/'), ['content-type', 'cache-control']),
    );
    assert.equal((await h2(sessions[0], 'GET', '/')).status, 503);
    for (let i = 0; i < 4; i++) assert.deepEqual(pick(await h2(sessions[1], 'GET', '/'), ['x-server']), pick(await h1(p2, 'GET', '/'), ['x-server']));
    assert.equal((await h2(sessions[1], 'POST', '/', {}, 'body')).body, 'a:body', 'a POST is retried when nothing was sent (connect failed)');
    const bad = [await h1(p3, 'GET', '/'), await h2(sessions[2], 'GET', '/')];
    assert.deepEqual(
      bad.map((x) => [x.status, /ECONNREFUSED/.test(x.body)]),
      [
        [502, true],
        [502, true],
      ],
    );
  } finally {
    for (const s of sessions) s.close();
  }
});

test('counters: requests, response classes and server requests move alike for h2 and HTTP/1.1', async () => {
  const port = await freePort();
  await serve([tlsService('stats', port, [a, b], { limits: { maxBodyBytes: 10 } })]);
  const snap = async () => {
    const c = (await dp.counters()).get('stats')!;
    return {
      requests: c.service.requests ?? 0,
      ok: c.service.responses!['2xx'],
      bad: c.service.responses!['4xx'],
      a: c.servers.get('a')!.requests ?? 0,
      b: c.servers.get('b')!.requests ?? 0,
    };
  };
  const diff = (x: Record<string, number>, y: Record<string, number>) => Object.fromEntries(Object.keys(x).map((k) => [k, y[k] - x[k]]));
  const t0 = await snap();
  for (let i = 0; i < 4; i++) await h1(port, 'GET', '/');
  assert.equal((await h1(port, 'POST', '/', {}, 'more than ten bytes')).status, 413);
  const t1 = await snap();
  const s = await h2connect(port);
  try {
    for (let i = 0; i < 4; i++) await h2(s, 'GET', '/');
    assert.equal((await h2(s, 'POST', '/', { 'content-length': '19' }, 'more than ten bytes')).status, 413);
  } finally {
    s.close();
  }
  const t2 = await snap();
  assert.deepEqual(diff(t1, t2), diff(t0, t1));
  // A refused request counts as a request (its 413 is a response), in both.
  assert.deepEqual(diff(t0, t1), { requests: 5, ok: 4, bad: 1, a: 2, b: 2 });
  const c = (await dp.counters()).get('stats')!;
  assert.ok(c.service.bytesIn > 0 && c.service.bytesOut > 0);
});

test('slow-client protection: a body below the minimum rate gets 408 over h2 as over HTTP/1.1', async () => {
  const port = await freePort();
  await serve([tlsService('slow', port, [a], { limits: { minBodyBytesPerSecond: 1000 }, timeouts: { bodyRateWindowMs: 200 } })]);
  const viaH1 = await within(
    new Promise<number>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: { 'content-length': '10000' },
        rejectUnauthorized: false,
        agent: false,
      });
      req.on('response', (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.write('x');
    }),
    'a 408 over HTTP/1.1',
  );
  const s = await h2connect(port);
  try {
    const viaH2 = await within(
      new Promise<number>((resolve, reject) => {
        const req = s.request({ ':method': 'POST', ':path': '/', 'content-length': '10000' }, { endStream: false });
        req.on('response', (h) => resolve(h[':status']!));
        req.on('error', reject);
        req.write('x');
      }),
      'a 408 over HTTP/2',
    );
    assert.deepEqual([viaH2, viaH1], [408, 408]);
    assert.equal((await h2(s, 'GET', '/')).status, 200, 'the connection serves on: only the stream was refused');
  } finally {
    s.close();
  }
});

test('h2c is off unless asked for: the preface on a plain listener is refused as before', async () => {
  const port = await freePort();
  await serve([httpService('noh2c', port, [a])]);
  const answer = await within(
    new Promise<string>((resolve) => {
      const sock = net.connect({ port, host: '127.0.0.1' }, () => sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      let got = '';
      sock.on('data', (d) => (got += d.toString('latin1')));
      sock.on('close', () => resolve(got));
    }),
    'the refusal',
  );
  assert.match(answer, /^HTTP\/1\.1 505/);
});
