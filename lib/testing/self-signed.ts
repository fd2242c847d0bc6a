/**
 * A self-signed EC certificate and its key as PEM, made by openssl in a directory removed at once: for tests that
 * upload or apply a certificate. One place for what several tests wrote out again.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function selfSignedPem(cn: string, days = 30): { certificatePem: string; privateKeyPem: string } {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-test-cert-'));
  try {
    const subject = `/CN=${cn}`;
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days)];
    execFileSync('openssl', [...args, '-subj', subject, '-keyout', `${d}/k.pem`, '-out', `${d}/c.pem`], { stdio: 'ignore' });
    return { certificatePem: fs.readFileSync(`${d}/c.pem`, 'utf8'), privateKeyPem: fs.readFileSync(`${d}/k.pem`, 'utf8') };
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
}
