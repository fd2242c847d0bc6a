/**
 * Private keys at rest: after an upload and an apply, no file in the data directory but the key file holds the
 * private key in clear (the database and its WAL, snapshots, the engine's record), while the engine still serves
 * TLS with it; a key stored before sealing existed is sealed at start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { type Client, setupAdmin, startHarness, type Harness } from './testing/harness.ts';
import { selfSignedPem } from './testing/self-signed.ts';

let h: Harness;
let admin: Client;
before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
});
after(async () => h.close());

/** The base64 body of a PEM private key: what a leak would contain. */
const keyBody = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (!fs.statSync(p).isFile() || name.startsWith('cert-')) continue;
    if (fs.readFileSync(p).toString('latin1').includes(needle)) out.push(name);
  }
  return out;
}

test('no file but the key file holds a private key in clear, and the engine serves TLS with it', async () => {
  const pair = selfSignedPem('symphony.trust.nhs.uk');
  assert.equal((await admin.req('POST', '/certificates', { name: 'symphony', ...pair })).status, 201);
  const port = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const created = await admin.req('POST', '/virtual-services', {
    name: 'tls',
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [port],
    healthCheck: { type: 'none' },
    layer7: { tls: { certificate: 'symphony' } },
    realServers: [{ name: 'a', address: '127.0.0.1', port: 1 }],
  });
  assert.equal(created.status, 201, created.text);
  const applied = await admin.req('POST', '/apply', {});
  assert.equal(applied.status, 200, applied.text);
  // The engine has the key open: a TLS handshake presents the uploaded certificate.
  const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'symphony.trust.nhs.uk' }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.match(String(peer.subject.CN), /symphony\.trust\.nhs\.uk/);
  const { db } = await import('./db.ts');
  await db().$executeRawUnsafe('PRAGMA wal_checkpoint(TRUNCATE)');
  assert.deepEqual(filesHolding(h.dataDir, keyBody(pair.privateKeyPem)), [], 'the key body is in no file');
  assert.ok(fs.existsSync(path.join(h.dataDir, 'secrets.key')));
  assert.equal(fs.statSync(path.join(h.dataDir, 'secrets.key')).mode & 0o777, 0o600);
});

test('a private key stored in clear before sealing existed is sealed at start', async () => {
  const { db } = await import('./db.ts');
  const { sealStoredSecrets } = await import('./secrets.ts');
  const pair = selfSignedPem('legacy.trust.nhs.uk');
  await db().certificate.create({
    data: {
      name: 'legacy',
      certificatePem: pair.certificatePem,
      privateKeyPem: pair.privateKeyPem,
      subject: 'CN=legacy',
      fingerprint: 'x',
      notAfter: new Date(Date.now() + 86_400_000),
    },
  });
  await db().configVersion.create({
    data: {
      hash: 'h',
      snapshot: JSON.stringify({ virtualServices: [], floatingIps: [], certificates: [{ name: 'legacy', ...pair }] }),
      authorName: 'old',
      status: 'failed',
    },
  });
  assert.equal(await sealStoredSecrets(), 2);
  assert.equal(await sealStoredSecrets(), 0, 'once');
  assert.deepEqual(filesHolding(h.dataDir, keyBody(pair.privateKeyPem)), []);
  const { renderCandidate } = await import('./config/render.ts');
  assert.equal((await renderCandidate()).certificates.find((c) => c.name === 'legacy')!.privateKeyPem, pair.privateKeyPem, 'and it opens for the engine');
});
