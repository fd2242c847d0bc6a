/**
 * TLS termination checked with the real tools: openssl s_client and curl, plus Node's TLS client for resumption.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { importPfx } from './pfx.ts';
import { config, exchangeUntilClose, freePort, httpService, RawClient, startBackend, type Backend } from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-tls-'));
let dp: L7DataPlane;
let a: Backend;
const certs: { name: string; certificatePem: string; privateKeyPem: string }[] = [];

function makeCert(name: string, cn: string, sans: string[]): void {
  const key = path.join(dir, `${name}.key`);
  const crt = path.join(dir, `${name}.crt`);
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
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  certs.push({ name, certificatePem: fs.readFileSync(crt, 'utf8'), privateKeyPem: fs.readFileSync(key, 'utf8') });
}

function run(cmd: string, args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
    p.stdin!.end(input);
  });
}

before(async () => {
  makeCert('www', 'www.example', ['www.example']);
  makeCert('api', 'api.example', ['api.example', '*.api.example']);
  dp = createL7DataPlane({ dataDir: dir, workers: 0, closeGraceMs: 200 });
  a = await startBackend('a');
});

after(async () => {
  await dp.close();
  await a.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(vs: VirtualServiceInput[]) {
  const res = await dp.apply({ config: config(vs, { certificates: certs }), decisions: new Map() });
  return res;
}

const tlsService = (port: number, tlsOpts: object = {}, more: Partial<VirtualServiceInput> = {}) =>
  httpService('secure', port, [a], {
    layer7: { tls: { certificate: 'www', sniCertificates: ['api'], ...tlsOpts }, hsts: { maxAgeSeconds: 31536000, includeSubDomains: true } },
    ...more,
  });

test('curl over HTTPS: SNI picks the certificate, HSTS and X-Forwarded-Proto: https', async () => {
  const port = await freePort();
  assert.equal((await serve([tlsService(port)]))[0].status, 'programmed');
  const www = await run('curl', ['-sk', '-D', '-', '--resolve', `www.example:${port}:127.0.0.1`, `https://www.example:${port}/`]);
  assert.match(www.out, /^HTTP\/(1\.1|2) 200/, 'curl takes h2 when it is offered (h2.test.ts)');
  assert.match(www.out, /strict-transport-security: max-age=31536000; includeSubDomains/i);
  assert.equal(a.seen.at(-1)!.headers['x-forwarded-proto'], 'https');
  const api = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'x.api.example', '-alpn', 'http/1.1'], 'Q\n');
  assert.match(api.out, /subject=CN ?= ?api\.example/);
  assert.match(api.out, /ALPN protocol: http\/1\.1/);
  const other = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'unknown.example'], 'Q\n');
  assert.match(other.out, /subject=CN ?= ?www\.example/, 'an unknown name gets the default certificate');
});

test('TLS version floor and cipher profile', async () => {
  const port = await freePort();
  await serve([tlsService(port, { minVersion: 'TLSv1.3' })]);
  const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2'], 'Q\n');
  assert.notEqual(old.code, 0, 'TLS 1.2 is refused when the floor is 1.3');
  const v13 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3'], 'Q\n');
  assert.match(v13.out, /TLSv1\.3/);
  await serve([tlsService(port, { minVersion: 'TLSv1.2', cipherProfile: 'intermediate' })]);
  const cbc = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'], 'Q\n');
  assert.notEqual(cbc.code, 0, 'CBC suites are not in the intermediate profile');
  const gcm = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], 'Q\n');
  assert.match(gcm.out, /Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
  await serve([tlsService(port, { minVersion: 'TLSv1.2', cipherProfile: 'modern' })]);
  const modern12 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2'], 'Q\n');
  assert.notEqual(modern12.code, 0, 'the modern profile is TLS 1.3 only');
});

test('sessions resume with tickets, and a reload keeps the listener and the ticket keys', async () => {
  const port = await freePort();
  await serve([tlsService(port)]);
  const connect = (session?: Buffer) =>
    new Promise<{ reused: boolean; session: Buffer }>((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'www.example', rejectUnauthorized: false, session, maxVersion: 'TLSv1.2' }, () => {
        const reused = s.isSessionReused();
        s.write('GET / HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n');
        s.on('data', () => undefined);
        s.on('end', () => resolve({ reused, session: s.getSession()! }));
      });
      s.on('error', reject);
    });
  const first = await connect();
  assert.equal(first.reused, false);
  assert.equal((await connect(first.session)).reused, true);
  await serve([tlsService(port, {}, { description: 'reloaded' })]);
  assert.equal((await connect(first.session)).reused, true, 'resumption survives a reload');
});

test('re-encryption to an HTTPS real server', async () => {
  const c = certs[0];
  const up = https.createServer({ cert: c.certificatePem, key: c.privateKeyPem }, (req, res) => res.end(`tls:${(req.socket as tls.TLSSocket).encrypted}`));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upPort = (up.address() as net.AddressInfo).port;
  const port = await freePort();
  await serve([
    httpService('reenc', port, [], {
      realServers: [{ name: 'tls', address: '127.0.0.1', port: upPort }],
      layer7: { reencrypt: { isEnabled: true, verify: false } },
    }),
  ]);
  const r = await run('curl', ['-s', `http://127.0.0.1:${port}/`]);
  assert.equal(r.out, 'tls:true');
  up.closeAllConnections();
  up.close();
});

test('a bad certificate fails its service with PROXY_CERT_INVALID', async () => {
  const port = await freePort();
  const bad = { name: 'bad', certificatePem: certs[0].certificatePem, privateKeyPem: certs[1].privateKeyPem };
  const res = await dp.apply({
    config: config([httpService('badcert', port, [a], { layer7: { tls: { certificate: 'bad' } } })], { certificates: [...certs, bad] }),
    decisions: new Map(),
  });
  assert.equal(res.find((r) => r.name === 'badcert')!.code, 'PROXY_CERT_INVALID');
});

test('PFX import gives the PEM chain and key', async () => {
  const pfxFile = path.join(dir, 'www.pfx');
  execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    path.join(dir, 'www.crt'),
    '-inkey',
    path.join(dir, 'www.key'),
    '-out',
    pfxFile,
    '-passout',
    'pass:s3cret',
  ]);
  const pem = await importPfx(fs.readFileSync(pfxFile), 's3cret');
  assert.match(pem.certificatePem, /^-----BEGIN CERTIFICATE-----/);
  assert.match(pem.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  await assert.rejects(importPfx(fs.readFileSync(pfxFile), 'wrong'), { code: 'PROXY_PFX_INVALID' });
});

test('over TLS: requests written together with the handshake, pipelined, and a body larger than one read all arrive', async () => {
  const port = await freePort();
  await serve([tlsService(port)]);
  const body = 'b'.repeat(300_000);
  const s = tls.connect({ port, host: '127.0.0.1', servername: 'www.example', rejectUnauthorized: false });
  let got = '';
  s.on('data', (d) => (got += d.toString('latin1')));
  // Written before the handshake ends: the proxy gets them with (or right after) the client's Finished.
  s.write('GET /one HTTP/1.1\r\nHost: www.example\r\n\r\nGET /two HTTP/1.1\r\nHost: www.example\r\n\r\n');
  s.write(`POST /three HTTP/1.1\r\nHost: www.example\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  s.write('GET /four HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n');
  await new Promise((r) => s.once('close', r));
  const statuses = got.match(/HTTP\/1\.1 \d+/g);
  assert.deepEqual(statuses, ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
  assert.match(got, /x-body-bytes: 300000/i);
  assert.deepEqual(
    a.seen.slice(-4).map((r) => r.url),
    ['/one', '/two', '/three', '/four'],
  );
});

/** One request over TLS with Connection: close; everything that came back, as text. */
const httpsExchange = (port: number, request: string) =>
  exchangeUntilClose(tls.connect({ port, host: '127.0.0.1', servername: 'www.example', rejectUnauthorized: false }), request);

test('the insert cookie is Secure by default on a TLS listener, and not when secure: false says so', async () => {
  const port = await freePort();
  const request = 'GET / HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n';
  const setCookie = (text: string) => /^set-cookie: (.*)$/im.exec(text)?.[1].trim();
  await serve([tlsService(port, {}, { persistence: { type: 'http-cookie', cookieName: 'LB' } })]);
  assert.deepEqual(
    setCookie(await httpsExchange(port, request))
      ?.split('; ')
      .slice(1),
    ['Path=/', 'HttpOnly', 'Secure'],
  );
  await serve([tlsService(port, {}, { persistence: { type: 'http-cookie', cookieName: 'LB', secure: false } })]);
  assert.deepEqual(
    setCookie(await httpsExchange(port, request))
      ?.split('; ')
      .slice(1),
    ['Path=/', 'HttpOnly'],
  );
});

test('re-encryption with verify: a self-signed real server is refused with 502, accepted with verify: false', async () => {
  const c = certs[0];
  const up = https.createServer({ cert: c.certificatePem, key: c.privateKeyPem }, (req, res) => res.end(`tls:${(req.socket as tls.TLSSocket).servername}`));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upPort = (up.address() as net.AddressInfo).port;
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  const real = [{ name: 'tls', address: '127.0.0.1', port: upPort }];
  await serve([
    httpService('verify-on', p1, [], { realServers: real, layer7: { reencrypt: { isEnabled: true, verify: true, serverName: 'www.example' } } }),
    httpService('verify-off', p2, [], { realServers: real, layer7: { reencrypt: { isEnabled: true, verify: false, serverName: 'www.example' } } }),
  ]);
  try {
    const refused = await RawClient.connect(p1).then((cl) => cl.request('GET', '/').finally(() => cl.close()));
    assert.equal(refused.status, 502);
    assert.match(refused.body, /SELF_SIGNED/, 'refused for the certificate, not for anything else');
    const accepted = await RawClient.connect(p2).then((cl) => cl.request('GET', '/').finally(() => cl.close()));
    assert.equal(accepted.status, 200);
    assert.equal(accepted.body, 'tls:www.example', 'the server name goes out as SNI');
  } finally {
    up.closeAllConnections();
    up.close();
  }
});

test('re-encryption with verify trusts a private CA given to the workers (NODE_EXTRA_CA_CERTS) and checks the server name', async () => {
  // Without reencrypt.ca (the next test), verification uses the process's trust store, which an operator may extend
  // for a private CA with NODE_EXTRA_CA_CERTS in the daemon's environment (workers inherit it). That still works.
  const caKey = path.join(dir, 'ca.key');
  const caCrt = path.join(dir, 'ca.crt');
  const leafKey = path.join(dir, 'leaf.key');
  const leafCsr = path.join(dir, 'leaf.csr');
  const leafCrt = path.join(dir, 'leaf.crt');
  const ext = path.join(dir, 'leaf.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      caKey,
      '-out',
      caCrt,
      '-days',
      '2',
      '-subj',
      '/CN=Fulcrum Test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
    { stdio: 'ignore' },
  );
  execFileSync('openssl', ['req', ...ec, '-keyout', leafKey, '-out', leafCsr, '-subj', '/CN=backend.internal'], { stdio: 'ignore' });
  fs.writeFileSync(ext, 'subjectAltName=DNS:backend.internal\nbasicConstraints=CA:FALSE\n');
  execFileSync('openssl', ['x509', '-req', '-in', leafCsr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-out', leafCrt, '-days', '2', '-extfile', ext], {
    stdio: 'ignore',
  });

  const up = https.createServer({ cert: fs.readFileSync(leafCrt), key: fs.readFileSync(leafKey) }, (req, res) =>
    res.end(`tls:${(req.socket as tls.TLSSocket).servername}`),
  );
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const real = [{ name: 'ca-signed', address: '127.0.0.1', port: (up.address() as net.AddressInfo).port }];
  const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const reenc = (name: string, port: number, serverName?: string) =>
    httpService(name, port, [], { realServers: real, layer7: { reencrypt: { isEnabled: true, verify: true, serverName } } });
  const get = (port: number) => RawClient.connect(port).then((cl) => cl.request('GET', '/').finally(() => cl.close()));

  const previous = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = caCrt;
  const withCa = createL7DataPlane({ dataDir: path.join(dir, 'with-ca'), workers: 1, closeGraceMs: 200 });
  try {
    const res = await withCa.apply({
      config: config([reenc('ca-right', p1, 'backend.internal'), reenc('ca-wrong', p2, 'other.internal'), reenc('ca-noname', p3)]),
      decisions: new Map(),
    });
    assert.deepEqual(
      res.map((r) => r.status),
      ['programmed', 'programmed', 'programmed'],
    );
    const ok = await get(p1);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'tls:backend.internal');
    const wrong = await get(p2);
    assert.equal(wrong.status, 502, 'a name the certificate does not hold is refused');
    assert.match(wrong.body, /ALTNAME/);
    const noName = await get(p3);
    assert.equal(noName.status, 502, 'without a server name the address is checked, and the certificate does not hold it');
    // The control: the in-process data plane was started without the CA, so the same server is not trusted there.
    await serve([reenc('ca-untrusted', p4, 'backend.internal')]);
    const untrusted = await get(p4);
    assert.equal(untrusted.status, 502);
    assert.match(untrusted.body, /UNABLE_TO_VERIFY|unable to verify/i);
  } finally {
    if (previous === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previous;
    await withCa.close();
    up.closeAllConnections();
    up.close();
  }
});

/** A private CA (`<name>-ca.crt/.key` in the test directory) and a leaf it signs for `dns`; their PEM. */
function privateCa(name: string, dns: string): { caPem: string; cert: string; key: string } {
  const f = (x: string) => path.join(dir, `${name}-${x}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      '-days',
      '2',
      '-subj',
      `/CN=${name} CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
    { stdio: 'ignore' },
  );
  execFileSync('openssl', ['req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', `/CN=${dns}`], { stdio: 'ignore' });
  fs.writeFileSync(f('leaf.ext'), `subjectAltName=DNS:${dns}\nbasicConstraints=CA:FALSE\n`);
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      f('leaf.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('leaf.crt'),
      '-days',
      '2',
      '-extfile',
      f('leaf.ext'),
    ],
    { stdio: 'ignore' },
  );
  return { caPem: fs.readFileSync(f('ca.crt'), 'utf8'), cert: fs.readFileSync(f('leaf.crt'), 'utf8'), key: fs.readFileSync(f('leaf.key'), 'utf8') };
}

test('re-encryption trusts the CA bundle in reencrypt.ca, in the workers: accepted with it, refused without it or with another CA', async () => {
  const pki = privateCa('field', 'backend.internal');
  const other = privateCa('other', 'backend.internal');
  const up = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => res.end(`tls:${(req.socket as tls.TLSSocket).servername}`));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const real = [{ name: 'private', address: '127.0.0.1', port: (up.address() as net.AddressInfo).port }];
  const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const reenc = (name: string, port: number, ca?: string) =>
    httpService(name, port, [], { realServers: real, layer7: { reencrypt: { isEnabled: true, verify: true, serverName: 'backend.internal', ca } } });
  const get = (port: number) => RawClient.connect(port).then((cl) => cl.request('GET', '/').finally(() => cl.close()));
  // The bundle as operators paste one: a comment, the CA, and a second (unrelated) CA after it.
  const bundle = `# Fulcrum test PKI\n${pki.caPem}\n# another CA\n${other.caPem}`;
  const inWorkers = createL7DataPlane({ dataDir: path.join(dir, 'ca-field'), workers: 1, closeGraceMs: 200 });
  try {
    const res = await inWorkers.apply({
      config: config([reenc('ca-field', p1, bundle), reenc('ca-none', p2), reenc('ca-other', p3, other.caPem)]),
      decisions: new Map(),
    });
    assert.deepEqual(
      res.map((r) => r.status),
      ['programmed', 'programmed', 'programmed'],
    );
    const ok = await get(p1);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, 'tls:backend.internal');
    const none = await get(p2);
    assert.equal(none.status, 502, 'without the field the private CA is not trusted');
    assert.match(none.body, /UNABLE_TO_VERIFY|unable to verify/i);
    const wrong = await get(p3);
    assert.equal(wrong.status, 502, 'the bundle replaces the trust store: another CA does not vouch for this server');
    assert.match(wrong.body, /UNABLE_TO_VERIFY|unable to verify|signature/i);
    // A new bundle applies to pooled connections too: the one verified under the old bundle is not reused.
    const [again] = await inWorkers.apply({ config: config([reenc('ca-field', p1, other.caPem)]), decisions: new Map() });
    assert.equal(again.status, 'programmed');
    const afterChange = await get(p1);
    assert.equal(afterChange.status, 502, 'the keep-alive connection made under the old CA was retired');
    // PEM-shaped but not a certificate: the schema cannot read DER, the service build does, and says which block.
    const broken = `${pki.caPem}-----BEGIN CERTIFICATE-----\n${'QUJD'.repeat(20)}\n-----END CERTIFICATE-----\n`;
    const [bad] = await inWorkers.apply({ config: config([reenc('ca-broken', p4, broken)]), decisions: new Map() });
    assert.equal(bad.status, 'failed');
    assert.equal(bad.code, 'PROXY_CONFIG_INVALID');
    assert.match(bad.message, /Layer 7 service "ca-broken" cannot be built: certificate 2 of its re-encryption CA bundle cannot be read/);
  } finally {
    await inWorkers.close();
    up.closeAllConnections();
    up.close();
  }
});
