/**
 * PFX (PKCS#12) import: Windows and many CAs hand certificates out as .pfx files, while the config carries PEM.
 * Node can use a PFX but cannot take one apart, so this asks the openssl command line (the same OpenSSL 3 as
 * Node's). Old PFX files encrypted with RC2/3DES need OpenSSL's legacy provider; that is tried second.
 * The password goes through the environment, never the command line (which other users can read in ps).
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../errors.ts';

function run(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { env: { ...process.env, ...env }, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.split('\n').find((l) => l.trim()) ?? err.message));
      else resolve(stdout);
    });
  });
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/** The certificate chain (leaf first) and the unencrypted private key of a PFX file. */
export async function importPfx(pfx: Buffer, password: string): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-pfx-'));
  const file = path.join(dir, 'in.pfx');
  fs.writeFileSync(file, pfx, { mode: 0o600 });
  const env = { FULCRUM_PFX_PASSWORD: password };
  try {
    const extract = async (extra: string[]) => {
      const base = ['pkcs12', '-in', file, '-passin', 'env:FULCRUM_PFX_PASSWORD', ...extra];
      const leaf = await run([...base, '-clcerts', '-nokeys'], env);
      const chain = await run([...base, '-cacerts', '-nokeys'], env);
      const key = await run([...base, '-nocerts', '-nodes'], env);
      return { leaf, chain, key };
    };
    let out: Awaited<ReturnType<typeof extract>>;
    try {
      out = await extract([]);
    } catch {
      out = await extract(['-legacy']);
    }
    const certs = [...out.leaf.matchAll(PEM_BLOCK), ...out.chain.matchAll(PEM_BLOCK)].filter((m) => m[1] === 'CERTIFICATE').map((m) => m[0]);
    const keyBlock = [...out.key.matchAll(PEM_BLOCK)].find((m) => m[1].endsWith('PRIVATE KEY'));
    if (certs.length === 0 || !keyBlock) throw new Error('the file holds no certificate with its private key');
    // Normalise the key to PKCS#8 ("BEGIN PRIVATE KEY"), the form the config schema and Node both accept.
    const privateKeyPem = crypto.createPrivateKey(keyBlock[0]).export({ type: 'pkcs8', format: 'pem' }).toString();
    return { certificatePem: certs.join('\n') + '\n', privateKeyPem };
  } catch (err) {
    throw new EngineError('PROXY_PFX_INVALID', { reason: (err as Error).message });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
