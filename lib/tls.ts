/**
 * The console's TLS material: a self-signed certificate made on first start in <data dir>/tls (key owner-only),
 * for localhost, 127.0.0.1, ::1 and this host's name. Replace the two files with a trusted certificate to stop the
 * browser warning; they are read at every start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export function ensureConsoleCertificate(dataDir: string): { cert: Buffer; key: Buffer; isNew: boolean; certPath: string } {
  const dir = path.join(dataDir, 'tls');
  const certPath = path.join(dir, 'console.crt');
  const keyPath = path.join(dir, 'console.key');
  let isNew = false;
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'fulcrum';
    const san = `subjectAltName=DNS:localhost,DNS:${host},IP:127.0.0.1,IP:::1`;
    try {
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
          '-days',
          '825',
          '-subj',
          `/CN=${host}/O=Fulcrum console (self-signed)`,
          '-addext',
          san,
          '-keyout',
          keyPath,
          '-out',
          certPath,
        ],
        { stdio: 'pipe' },
      );
    } catch (e) {
      throw new Error(
        `could not create the console's self-signed certificate with openssl (${(e as Error).message.split('\n')[0]}); install openssl or set FULCRUM_INSECURE_HTTP=1 for local development`,
      );
    }
    fs.chmodSync(keyPath, 0o600);
    isNew = true;
  }
  return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), isNew, certPath };
}
