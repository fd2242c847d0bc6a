/**
 * Secrets at rest (private keys of certificates): sealed with AES-256-GCM under a key kept apart from what it seals,
 * in `<data dir>/secrets.key` (32 random bytes, owner-only, made at first use). The console seals private keys in
 * its database rows and configuration snapshots; the engine seals them in its record of what it runs
 * (engine-running.json and engine-running.journal). A copy of the database or of the record alone reveals no key; backups (issue 14) must
 * leave `secrets.key` out, as they leave the audit key out.
 *
 *   sealed text = "fulcrum-sealed:v1:" base64(iv 12 bytes ‖ tag 16 bytes ‖ ciphertext)
 *
 * The associated data binds a sealed value to what it is (e.g. "certificate:symphony"), so a sealed key copied into
 * another certificate's row does not open there. Text without the prefix is returned as it is (rows written before
 * sealing existed), and sealed again on the next write.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const PREFIX = 'fulcrum-sealed:v1:';
const cache = new Map<string, Buffer>();

export function secretKeyPath(dataDir: string): string {
  return path.join(dataDir, 'secrets.key');
}

/** The data directory's sealing key, made on first use (0600). */
export function secretKey(dataDir: string): Buffer {
  const file = secretKeyPath(dataDir);
  const known = cache.get(file);
  if (known) return known;
  let key: Buffer;
  try {
    key = fs.readFileSync(file);
    if (key.length !== 32) throw new Error(`${file} is not a 32-byte key; restore it from where it was kept, or remove it and upload the certificates again`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    key = crypto.randomBytes(32);
    try {
      fs.writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process (console or engine) made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      key = fs.readFileSync(file);
    }
  }
  cache.set(file, key);
  return key;
}

export const isSealed = (text: string): boolean => text.startsWith(PREFIX);

export function seal(key: Buffer, text: string, context: string): string {
  if (isSealed(text)) return text;
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(context));
  const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
  return PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

/** Opens a sealed value; throws when it was tampered with, sealed under another key or for another context. */
export function open(key: Buffer, text: string, context: string): string {
  if (!isSealed(text)) return text;
  const raw = Buffer.from(text.slice(PREFIX.length), 'base64');
  const d = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAAD(Buffer.from(context));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
}

/** A configuration's certificates with their private keys sealed (or opened), the rest untouched. */
export function mapPrivateKeys<T extends { certificates?: { name: string; privateKeyPem: string }[] }>(
  config: T,
  f: (pem: string, context: string) => string,
): T {
  if (!config.certificates?.length) return config;
  return { ...config, certificates: config.certificates.map((c) => ({ ...c, privateKeyPem: f(c.privateKeyPem, `certificate:${c.name}`) })) };
}
