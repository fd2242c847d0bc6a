/**
 * A self-signed certificate for a layer 7 run that has none yet: made with openssl (as the console's own, lib/tls.ts)
 * for the VIP as subject alternative name, to be replaced by the hospital CA's certificate on the Certificates page
 * (same name, so the services keep pointing at it). Made before the create transaction opens (never inside it).
 * Also the placeholder of a signing request made in the wizard, with the request's names, until the CA signs it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function makeSelfSigned(
  commonName: string,
  vip: string,
  opts: { altNames?: string[]; organization?: string } = {},
): { certificatePem: string; privateKeyPem: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-wizard-cert-'));
  try {
    const keyPath = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    // altNames are the request schema's "DNS:name" / "IP:address" (no commas), as openssl's -addext takes them.
    const names = [...new Set([...(opts.altNames ?? []), `IP:${vip}`])];
    const san = `subjectAltName=${names.join(',')}`;
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
        '397',
        '-subj',
        `/CN=${commonName.replace(/[/\\]/g, '')}/O=${opts.organization ?? 'Fulcrum wizard (self-signed)'}`,
        '-addext',
        san,
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'pipe' },
    );
    return { certificatePem: fs.readFileSync(certPath, 'utf8'), privateKeyPem: fs.readFileSync(keyPath, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
