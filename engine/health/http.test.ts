/**
 * http and https checks over real sockets on loopback: status lists, body text and patterns, framing (length,
 * chunked, close), interim answers, what goes on the wire, and every failure with its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { HealthCheckSchema, type HealthCheckInput } from '../config/index.ts';
import { dechunk, httpCheck, httpsCheck, parseStatusList, statusOf } from './http.ts';
import type { CheckTarget } from './types.ts';

/** A raw server: answers each connection with `answer(requestHead)` (or nothing), and records the requests. */
async function rawServer(answer: (head: string) => string | string[] | null, secure?: tls.SecureContextOptions & { onSni?: (name: string) => void }) {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const onSocket = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      heads.push(head);
      const a = answer(head);
      if (a === null) return;
      const parts = Array.isArray(a) ? a : [a];
      let i = 0;
      const next = () => {
        if (i < parts.length) s.write(parts[i++], 'latin1', () => setImmediate(next));
        else s.end();
      };
      next();
    });
  };
  const srv = secure
    ? tls.createServer(
        {
          ...secure,
          SNICallback: (name, cb) => {
            secure.onSni?.(name);
            cb(null, tls.createSecureContext(secure));
          },
        },
        onSocket,
      )
    : net.createServer(onSocket);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    heads,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

const target = (port: number, check: Partial<HealthCheckInput>): CheckTarget => ({
  address: '127.0.0.1',
  port,
  vip: '127.0.0.1',
  vipPort: 80,
  check: HealthCheckSchema.parse({ type: 'http', timeoutMs: 300, intervalMs: 1000, ...check }),
});
const ok = (body = 'OK', extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

test('status lists and ranges', () => {
  assert.deepEqual(parseStatusList('200-399,404'), [
    [200, 399],
    [404, 404],
  ]);
});

test('http: 200 passes; the request carries method, path, Host and Connection: close', async (t) => {
  const s = await rawServer(() => ok());
  t.after(() => s.close());
  const r = await httpCheck(target(s.port, { http: { path: '/health?deep=1', host: 'symphony.example.nhs.uk' } }));
  assert.equal(r.code, 'L7OK');
  assert.equal(r.message, `HTTP 200 from /health?deep=1 on 127.0.0.1:${s.port}`);
  assert.match(s.heads[0], /^GET \/health\?deep=1 HTTP\/1\.1\r\nHost: symphony\.example\.nhs\.uk\r\n/);
  assert.match(s.heads[0], /\r\nConnection: close/);
});

test('http: the Host header defaults to the target address and port', async (t) => {
  const s = await rawServer(() => ok());
  t.after(() => s.close());
  await httpCheck(target(s.port, {}));
  assert.match(s.heads[0], new RegExp(`\\r\\nHost: 127\\.0\\.0\\.1:${s.port}\\r\\n`));
});

test('http: a status outside the list is L7STS naming status, path, target and what was expected', async (t) => {
  const s = await rawServer(() => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
  t.after(() => s.close());
  const r = await httpCheck(target(s.port, { http: { path: '/health' } }));
  assert.equal(r.code, 'L7STS');
  assert.equal(r.message, `HTTP 503 from /health on 127.0.0.1:${s.port} (expected 200-399)`);
  const listed = await httpCheck(target(s.port, { http: { expectStatus: '200,503' } }));
  assert.equal(listed.code, 'L7OK', '503 is accepted when listed');
});

test('http: a 100 Continue before the final answer is skipped', async (t) => {
  const s = await rawServer(() => ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n']);
  t.after(() => s.close());
  const r = await httpCheck(target(s.port, {}));
  assert.equal(r.code, 'L7STS');
  assert.match(r.message, /^HTTP 500 /);
});

test('http: body text must be present, by Content-Length, chunked (split across chunks) or until close', async (t) => {
  const bodies: Record<string, string | string[]> = {
    '/length': ok('status: RUNNING'),
    '/chunked': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '8\r\nstatus: \r\n', '3;ext=1\r\nRUN\r\n', '4\r\nNING\r\n0\r\n\r\n'],
    '/close': ['HTTP/1.0 200 OK\r\n\r\nstatus: ', 'RUNNING'],
    '/stopped': ok('status: STOPPED'),
  };
  const s = await rawServer((head) => bodies[head.split(' ')[1]]);
  t.after(() => s.close());
  for (const p of ['/length', '/chunked', '/close']) {
    const r = await httpCheck(target(s.port, { http: { path: p, expectBody: 'RUNNING' } }));
    assert.equal(r.code, 'L7OK', `${p}: ${r.message}`);
    assert.match(r.message, /with the text "RUNNING"/);
  }
  const bad = await httpCheck(target(s.port, { http: { path: '/stopped', expectBody: 'RUNNING' } }));
  assert.equal(bad.code, 'L7RSP');
  assert.equal(bad.message, `HTTP 200 from /stopped on 127.0.0.1:${s.port}, but the body does not contain the text "RUNNING"`);
  const re = await httpCheck(target(s.port, { http: { path: '/length', expectBodyRegex: 'status: (RUNNING|DEGRADED)' } }));
  assert.equal(re.code, 'L7OK');
});

test('statusOf reads HTTP/1.0 and HTTP/1.1 status lines from the bytes, 0 for anything else', () => {
  const cases: [string, number][] = [
    ['HTTP/1.1 200 OK\r\n', 200],
    ['HTTP/1.0 503 Service Unavailable', 503],
    ['HTTP/1.1 100 Continue', 100],
    ['HTTP/1.1 2000', 200],
    ['HTTP/1.1 20', 0],
    ['HTTP/1.2 200 OK', 0],
    ['HTTP/2.0 200 OK', 0],
    ['http/1.1 200 OK', 0],
    ['HTTP/1.1 2x0 OK', 0],
    ['HTTP/1.1  200 OK', 0],
    ['SSH-2.0-OpenSSH_9.2', 0],
  ];
  for (const [text, status] of cases) assert.equal(statusOf(Buffer.from(text, 'latin1')), status, JSON.stringify(text));
});

test('http: one check answered 200, 204, 200 names the status each time (its kept sentence follows the status)', async (t) => {
  const statuses = ['200 OK', '204 No Content', '200 OK'];
  let n = 0;
  const s = await rawServer(() => `HTTP/1.1 ${statuses[n++]}\r\nContent-Length: 0\r\n\r\n`);
  t.after(() => s.close());
  const tg = target(s.port, { http: { path: '/health', expectStatus: '200-299' } });
  const messages: string[] = [];
  for (let i = 0; i < 3; i++) messages.push((await httpCheck(tg)).message);
  assert.deepEqual(
    messages,
    [200, 204, 200].map((c) => `HTTP ${c} from /health on 127.0.0.1:${s.port}`),
  );
});

test('http: an answer split across reads keeps its own bytes while another check reads in between', async (t) => {
  // Plain HTTP reads into one buffer shared by every check: what a check keeps between reads must be its own copy.
  let sendRest: () => void = () => undefined;
  const slowServer = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.once('data', () => {
      sock.write('HTTP/1.1 200 OK\r\nX-Served-By: the-slow-one\r\nContent-Length: 5\r\n');
      sendRest = () => sock.end('\r\nalpha');
    });
  });
  await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r));
  const fast = await rawServer(() => ok('bravo'));
  t.after(() => {
    slowServer.close();
    fast.close();
  });
  const wrote = new Promise<void>((r) => slowServer.once('connection', (sock) => sock.once('data', () => setImmediate(r))));
  const pending = httpCheck(target((slowServer.address() as net.AddressInfo).port, { http: { expectBody: 'alpha' } }));
  await wrote;
  const b = await httpCheck(target(fast.port, { http: { expectBody: 'bravo' } }));
  sendRest();
  const a = await pending;
  assert.equal(b.code, 'L7OK', b.message);
  assert.equal(a.code, 'L7OK', a.message);
});

test('http: an aborted check settles at once', async (t) => {
  const s = await rawServer(() => null);
  t.after(() => s.close());
  const ac = new AbortController();
  const pending = httpCheck({ ...target(s.port, { timeoutMs: 5000, intervalMs: 10_000 }), signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  const r = await pending;
  assert.equal(r.code, 'L4CON');
  assert.match(r.message, /stopped/);
});

test('dechunk: stops at what has arrived, skips extensions', () => {
  assert.deepEqual(dechunk(Buffer.from('3;a=b\r\nabc\r\n0\r\n\r\n')), { body: Buffer.from('abc'), isComplete: true });
  assert.deepEqual(dechunk(Buffer.from('5\r\nab')), { body: Buffer.from('ab'), isComplete: false });
});

test('http: an answer that is not HTTP is L7RSP; silence after connecting is L7TOUT; a closed port L4CON', async (t) => {
  const junk = await rawServer(() => 'SSH-2.0-OpenSSH_9.2\r\n');
  const silent = await rawServer(() => null);
  t.after(() => {
    junk.close();
    silent.close();
  });
  const a = await httpCheck(target(junk.port, {}));
  assert.equal(a.code, 'L7RSP');
  assert.match(a.message, /not HTTP \("SSH-2\.0/);
  const b = await httpCheck(target(silent.port, { timeoutMs: 200 }));
  assert.equal(b.code, 'L7TOUT');
  assert.match(b.message, /no answer within 200 ms/);
  const port = silent.port;
  silent.close();
  const c = await httpCheck(target(port, {}));
  assert.equal(c.code, 'L4CON');
});

test('https: verify off accepts a self-signed server and sends SNI; verify on refuses it in words (L6RSP)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-hc-'));
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
      `${dir}/k.pem`,
      '-out',
      `${dir}/c.pem`,
      '-days',
      '2',
      '-subj',
      '/CN=sym-app-1.example',
      '-addext',
      'subjectAltName=DNS:sym-app-1.example',
    ],
    { stdio: 'ignore' },
  );
  const names: string[] = [];
  const s = await rawServer(() => ok(), { key: fs.readFileSync(`${dir}/k.pem`), cert: fs.readFileSync(`${dir}/c.pem`), onSni: (n) => names.push(n) });
  t.after(() => s.close());
  const off = await httpsCheck(target(s.port, { type: 'https', http: { serverName: 'sym-app-1.example' } }));
  assert.equal(off.code, 'L7OK', off.message);
  assert.deepEqual(names, ['sym-app-1.example']);
  const on = await httpsCheck(target(s.port, { type: 'https', http: { serverName: 'sym-app-1.example', verifyTls: true } }));
  assert.equal(on.code, 'L6RSP');
  assert.match(on.message, /self-signed and TLS verification is on/);
});

test('https: a plain HTTP server is L6RSP; a silent one L6TOUT', async (t) => {
  const plain = await rawServer(() => 'HTTP/1.1 400 Bad Request\r\n\r\n');
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    plain.close();
    silent.close();
  });
  // A plain server sees no head end in a ClientHello: it never answers, then the check times out in the handshake.
  const a = await httpsCheck(target(plain.port, { type: 'https', timeoutMs: 200 }));
  assert.equal(a.code, 'L6TOUT');
  const echo = net.createServer((sock) => sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const b = await httpsCheck(target((echo.address() as net.AddressInfo).port, { type: 'https' }));
  assert.equal(b.code, 'L6RSP', b.message);
  const c = await httpsCheck(target((silent.address() as net.AddressInfo).port, { type: 'https', timeoutMs: 200 }));
  assert.equal(c.code, 'L6TOUT');
  assert.match(c.message, /TLS handshake with 127\.0\.0\.1:\d+ did not finish within 200 ms/);
});
