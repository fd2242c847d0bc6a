/**
 * TLS termination for one service: the default certificate, more chosen by SNI, a version floor and a cipher
 * profile (Mozilla's "modern" and "intermediate"), ALPN, and session tickets whose keys every worker shares, so a
 * client resumes its session whichever worker its next connection lands on.
 *
 * The listening socket is plain TCP (net.Server): a service can gain or lose TLS on reload without re-binding its
 * port. Each accepted socket is handed to this module's tls.Server with `emit('connection')`, which is exactly what
 * tls.Server does for the sockets it accepts itself.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { CertPlan } from './plan.ts';
import { EngineError } from '../errors.ts';

/** OpenSSL names; TLS 1.3 suites are always on and chosen by OpenSSL. */
const CIPHER_PROFILES = {
  modern: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  intermediate:
    'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
    'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
    'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384',
} as const;

export interface TlsOptions {
  certificates: CertPlan[];
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  cipherProfile: 'modern' | 'intermediate';
  alpn: string[];
  /** 48 bytes, the same in every worker. */
  ticketKeys: Buffer;
}

/** DNS names a certificate answers for: its subjectAltName DNS entries, else its CN. Lower case. */
function certificateNames(pem: string): string[] {
  const x = new crypto.X509Certificate(pem);
  const names = (x.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  if (names.length > 0) return names;
  const cn = /CN=([^\n,]+)/.exec(x.subject);
  return cn ? [cn[1].trim().toLowerCase()] : [];
}

function nameMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (pattern.startsWith('*.')) {
    const dot = host.indexOf('.');
    return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
  }
  return false;
}

/** Refuses a certificate that does not parse or whose key does not match it (PROXY_CERT_INVALID). */
function checkCertificate(c: CertPlan): void {
  try {
    const x = new crypto.X509Certificate(c.certificatePem);
    const key = crypto.createPrivateKey(c.privateKeyPem);
    if (!x.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
  } catch (err) {
    throw new EngineError('PROXY_CERT_INVALID', { name: c.name, reason: (err as Error).message });
  }
}

export function createTlsServer(o: TlsOptions): tls.Server {
  const profile = CIPHER_PROFILES[o.cipherProfile];
  const common = {
    // Mozilla's "modern" profile is TLS 1.3 only; its cipher list has no TLS 1.2 suites to fall back to.
    minVersion: o.cipherProfile === 'modern' ? 'TLSv1.3' : o.minVersion,
    ciphers: profile,
    honorCipherOrder: true,
  } satisfies tls.SecureContextOptions;
  for (const c of o.certificates) checkCertificate(c);
  const contexts = o.certificates.map((c) => ({
    names: certificateNames(c.certificatePem),
    context: tls.createSecureContext({ ...common, cert: c.certificatePem, key: c.privateKeyPem }),
  }));
  const [first] = o.certificates;
  const server = tls.createServer({
    ...common,
    cert: first.certificatePem,
    key: first.privateKeyPem,
    ALPNProtocols: o.alpn,
    ticketKeys: o.ticketKeys,
    SNICallback: (servername, cb) => {
      const host = servername.toLowerCase();
      // The default certificate answers names it does not hold too: that is what a browser expects from a VIP.
      const hit = contexts.find((c) => c.names.some((n) => nameMatches(n, host)));
      cb(null, hit ? hit.context : contexts[0].context);
    },
  });
  return server;
}

/** 48 bytes of TLS ticket keys, created once and kept (0600) so every worker and every restart shares them. */
export function loadTicketKeys(dataDir: string): Buffer {
  const file = path.join(dataDir, 'l7-ticket-keys');
  try {
    const b = fs.readFileSync(file);
    if (b.length === 48) return b;
  } catch {
    // first start: create below
  }
  const keys = crypto.randomBytes(48);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, keys, { mode: 0o600 });
  return keys;
}
