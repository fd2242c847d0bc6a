/**
 * The backup file: the whole configuration as versioned JSON, with a content hash, and the private keys either left
 * out or encrypted under a passphrase. Pure functions (no database); lib/backup/restore.ts does the storing.
 *
 *   {
 *     "format": "fulcrum-backup", "formatVersion": 1, "schemaVersion": <CONFIG_SCHEMA_VERSION>,
 *     "createdAt": "…", "createdBy": "…",
 *     "config": { …the Config, every certificate's privateKeyPem replaced by "[omitted]" or "[encrypted]"… },
 *     "secrets": { "mode": "omitted" }
 *              | { "mode": "encrypted", "kdf": "scrypt", "N", "r", "p", "salt", "iv", "tag", "ciphertext" },
 *     "contentHash": "sha256:<hex>"   — of the canonical JSON of everything above
 *   }
 *
 * Encryption: the key is scrypt(passphrase, salt, N=2^15, r=8, p=1) → 32 bytes; the keys are AES-256-GCM encrypted
 * as JSON { "<certificate name>": "<PEM>" }, with the canonical JSON of the rest of the file (config included) as
 * additional authenticated data, so a file whose configuration was edited does not decrypt. The content hash catches
 * a file damaged or edited without the passphrase being involved; a file without secrets has only the hash, which
 * anyone can recompute — say so when it matters (restore shows the difference before anything changes).
 *
 * Never in a backup: the audit key, the audit seal key, the secrets key of the data directory, users and sessions.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { CONFIG_SCHEMA_VERSION, ConfigSchema, type Config } from '../../engine/config/index.ts';
import { canonicalJson, sha256Hex } from '../../engine/canonical.ts';

export const BACKUP_FORMAT = 'fulcrum-backup';
export const BACKUP_FORMAT_VERSION = 1;
const OMITTED = '[omitted]';
const ENCRYPTED = '[encrypted]';
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;

export const PassphraseSchema = z
  .string()
  .min(12, 'Use a passphrase of at least 12 characters: it is all that protects the private keys in the file.')
  .max(1024);

const Secrets = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('omitted') }),
  z.strictObject({
    mode: z.literal('encrypted'),
    kdf: z.literal('scrypt'),
    N: z.number().int(),
    r: z.number().int(),
    p: z.number().int(),
    salt: z.base64(),
    iv: z.base64(),
    tag: z.base64(),
    ciphertext: z.base64(),
  }),
]);

/** The envelope, read before anything else so a wrong version is refused with its own reason. */
export const BackupEnvelope = z.object({
  format: z.literal(BACKUP_FORMAT, { error: 'This is not a Fulcrum backup file (its "format" is not "fulcrum-backup").' }),
  formatVersion: z.number().int(),
  schemaVersion: z.number().int(),
});

const BackupFile = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.literal(BACKUP_FORMAT_VERSION),
  schemaVersion: z.number().int(),
  createdAt: z.string(),
  createdBy: z.string(),
  config: z.record(z.string(), z.unknown()),
  secrets: Secrets,
  contentHash: z.string(),
});
export type BackupFile = z.infer<typeof BackupFile>;

/** Why a file is refused: a code the route maps to its sentence, the sentence, and the field it is about. */
export class BackupRefusal extends Error {
  constructor(
    readonly reason: 'not-a-backup' | 'wrong-version' | 'tampered' | 'passphrase' | 'invalid-config' | 'missing-key',
    message: string,
    readonly path = 'file',
    readonly fields?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

const hashOf = (doc: Omit<BackupFile, 'contentHash'>) => `sha256:${sha256Hex(canonicalJson(doc))}`;

function deriveKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { ...params, maxmem: 128 * params.N * params.r * 2 });
}

export function exportBackup(config: Config, opts: { createdBy: string; passphrase?: string; now?: Date }): BackupFile {
  const isEncrypted = opts.passphrase !== undefined;
  const publicConfig = { ...config, certificates: config.certificates.map((c) => ({ ...c, privateKeyPem: isEncrypted ? ENCRYPTED : OMITTED })) };
  const base = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    schemaVersion: CONFIG_SCHEMA_VERSION,
    createdAt: (opts.now ?? new Date()).toISOString(),
    createdBy: opts.createdBy,
    config: publicConfig,
  } as const;
  let secrets: BackupFile['secrets'] = { mode: 'omitted' };
  if (isEncrypted) {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', deriveKey(opts.passphrase!, salt, SCRYPT), iv);
    cipher.setAAD(Buffer.from(canonicalJson(base)));
    const plain = Buffer.from(JSON.stringify(Object.fromEntries(config.certificates.map((c) => [c.name, c.privateKeyPem]))));
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    secrets = {
      mode: 'encrypted',
      kdf: 'scrypt',
      ...SCRYPT,
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }
  const doc = { ...base, secrets } as Omit<BackupFile, 'contentHash'>;
  return { ...doc, contentHash: hashOf(doc) };
}

export interface ReadBackup {
  file: BackupFile;
  /** Parsed by the one config schema. Certificates whose key the file does not carry keep "[omitted]". */
  config: Config;
  /** Names of certificates whose private key is not in the file. */
  keysMissing: string[];
}

/**
 * Checks a file in this order, each with its own reason: is it a Fulcrum backup, of a version this appliance reads,
 * unchanged since it was written (content hash), decryptable with the passphrase, and a configuration the schema
 * accepts. `existingKey` gives the private key this appliance already has for a certificate (same name and same
 * certificate), used when the file left keys out.
 */
export function readBackup(
  raw: unknown,
  opts: { passphrase?: string; existingKey?: (name: string, certificatePem: string) => string | undefined } = {},
): ReadBackup {
  const env = BackupEnvelope.safeParse(raw);
  if (!env.success) throw new BackupRefusal('not-a-backup', env.error.issues[0].message);
  if (env.data.formatVersion !== BACKUP_FORMAT_VERSION)
    throw new BackupRefusal(
      'wrong-version',
      `This backup is format version ${env.data.formatVersion}; this appliance reads version ${BACKUP_FORMAT_VERSION}. Restore it on an appliance of the version that wrote it.`,
    );
  if (env.data.schemaVersion !== CONFIG_SCHEMA_VERSION)
    throw new BackupRefusal(
      'wrong-version',
      `This backup holds configuration schema version ${env.data.schemaVersion}; this appliance uses version ${CONFIG_SCHEMA_VERSION}.`,
    );
  const parsed = BackupFile.safeParse(raw);
  if (!parsed.success)
    throw new BackupRefusal(
      'tampered',
      `The file is not laid out as a backup of version ${BACKUP_FORMAT_VERSION} (${parsed.error.issues[0].path.join('.') || 'top'}: ${parsed.error.issues[0].message}); it was damaged or edited.`,
    );
  const file = parsed.data;
  const { contentHash, ...rest } = file;
  if (hashOf(rest) !== contentHash)
    throw new BackupRefusal(
      'tampered',
      "The file's content does not match its content hash: it was changed after it was written (or damaged in transit). Use an untouched copy.",
    );
  const keys = decryptKeys(file, opts.passphrase);
  const certs = (file.config.certificates as { name: string; certificatePem: string; privateKeyPem: string }[] | undefined) ?? [];
  const keysMissing: string[] = [];
  const config = {
    ...file.config,
    certificates: certs.map((c) => {
      const key = keys?.[c.name] ?? opts.existingKey?.(c.name, c.certificatePem);
      if (!key) keysMissing.push(c.name);
      return { ...c, privateKeyPem: key ?? '-----BEGIN PRIVATE KEY----- [omitted] -----END PRIVATE KEY-----' };
    }),
  };
  const r = ConfigSchema.safeParse(config);
  if (!r.success) {
    const fields = r.error.issues.map((i) => ({ path: `config.${i.path.join('.')}`, message: i.message }));
    throw new BackupRefusal(
      'invalid-config',
      `The configuration in the file is not one this appliance accepts: ${fields[0].path}: ${fields[0].message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}.`,
      fields[0].path,
      fields,
    );
  }
  return { file, config: r.data, keysMissing };
}

function decryptKeys(file: BackupFile, passphrase: string | undefined): Record<string, string> | undefined {
  const s = file.secrets;
  if (s.mode === 'omitted') return undefined;
  if (!passphrase) throw new BackupRefusal('passphrase', "This backup's private keys are encrypted: give the passphrase it was exported with.", 'passphrase');
  const { contentHash: _h, secrets: _s, ...base } = file;
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(passphrase, Buffer.from(s.salt, 'base64'), s), Buffer.from(s.iv, 'base64'));
    decipher.setAAD(Buffer.from(canonicalJson(base)));
    decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(s.ciphertext, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, string>;
  } catch {
    throw new BackupRefusal(
      'passphrase',
      'The private keys cannot be decrypted: the passphrase is not the one the backup was made with, or the file was changed.',
      'passphrase',
    );
  }
}
