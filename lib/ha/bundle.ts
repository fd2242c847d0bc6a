/**
 * A sync bundle: what the primary sends its secondary after an apply, and what a secondary asks for when it finds
 * itself behind. It is the primary's running ConfigVersion as it is (same hash), with its certificates' private
 * keys sealed under the pair's key (never in clear, even inside the TLS link), plus the users and their API keys
 * (password and key hashes only: they are never held in clear anywhere).
 *
 * The secondary checks the hash against the configuration it opened, stores candidate, certificates and users in one
 * transaction with its audit row, and only then applies the version to its engine (no transaction across the call).
 */
import { z } from 'zod';
import { canonicalJson, configHash, sha256Hex } from '../../engine/canonical.ts';
import { ConfigSchema, type Config } from '../../engine/config/index.ts';
import { mapPrivateKeys, open, seal } from '../../engine/secrets.ts';
import { db, type Tx } from '../db.ts';
import { readSnapshot, sealPrivateKey } from '../secrets.ts';
import { inspectCertificate } from '../certificates.ts';

const ApiKeyRecord = z.strictObject({
  name: z.string(),
  prefix: z.string(),
  keyHash: z.string(),
  role: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
});
const UserRecord = z.strictObject({
  username: z.string(),
  passwordHash: z.string(),
  role: z.string(),
  isDisabled: z.boolean(),
  apiKeys: z.array(ApiKeyRecord),
});
export type UserRecord = z.infer<typeof UserRecord>;

const StateRecord = z.strictObject({ virtualService: z.string(), realServer: z.string(), state: z.enum(['online', 'drain', 'halt']) });
export type StateRecord = z.infer<typeof StateRecord>;

export const BundleSchema = z.strictObject({
  from: z.string(),
  version: z.strictObject({ id: z.number().int(), hash: z.string(), author: z.string(), comment: z.string().nullable(), createdAt: z.string() }).nullable(),
  /** The running configuration, private keys sealed under the pair key; null when the primary has applied nothing yet. */
  config: z.unknown(),
  users: z.array(UserRecord),
  usersHash: z.string(),
  /** Operator states (online/drain/halt) as they are now: operational, so they move without an apply. */
  states: z.array(StateRecord),
  statesHash: z.string(),
});
export type Bundle = z.infer<typeof BundleSchema>;

const keyContext = (ctx: string) => `ha-bundle:${ctx}`;

export async function userRecords(reader: Pick<Tx, 'user'> = db()): Promise<UserRecord[]> {
  const users = await reader.user.findMany({ include: { apiKeys: true }, orderBy: { username: 'asc' } });
  return users.map((u) => ({
    username: u.username,
    passwordHash: u.passwordHash,
    role: u.role,
    isDisabled: u.isDisabled,
    apiKeys: u.apiKeys
      .sort((a, b) => a.prefix.localeCompare(b.prefix))
      .map((k) => ({
        name: k.name,
        prefix: k.prefix,
        keyHash: k.keyHash,
        role: k.role,
        createdAt: k.createdAt.toISOString(),
        revokedAt: k.revokedAt?.toISOString() ?? null,
        expiresAt: k.expiresAt?.toISOString() ?? null,
      })),
  }));
}

/** The same on both nodes when they hold the same users and keys (last-use fields are each node's own). */
export const hashUsers = (users: UserRecord[]) => sha256Hex(canonicalJson(users));
export const usersHash = async () => hashUsers(await userRecords());

/**
 * The operator state of every real server of the running version, as stored now (a drain or halt takes effect at
 * once and is not a new version, but the peer must honour it too when it takes over). Servers staged but not yet
 * applied are left out, so two nodes running the same version compare equal.
 */
export async function operatorStates(): Promise<StateRecord[]> {
  const running = await db().configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' }, select: { snapshot: true } });
  if (!running) return [];
  const cfg = JSON.parse(running.snapshot) as { virtualServices: { name: string; realServers: { name: string }[] }[] };
  const inRunning = new Set(cfg.virtualServices.flatMap((vs) => vs.realServers.map((rs) => `${vs.name}/${rs.name}`)));
  const rows = await db().realServer.findMany({ select: { name: true, state: true, virtualService: { select: { name: true } } } });
  return rows
    .filter((r) => inRunning.has(`${r.virtualService.name}/${r.name}`))
    .map((r) => ({ virtualService: r.virtualService.name, realServer: r.name, state: r.state as StateRecord['state'] }))
    .sort((a, b) => `${a.virtualService}/${a.realServer}`.localeCompare(`${b.virtualService}/${b.realServer}`));
}
export const statesHash = async () => sha256Hex(canonicalJson(await operatorStates()));

/** The primary's bundle: its running version, or only its users when it has applied nothing. */
export async function buildBundle(from: string, pairKey: Buffer): Promise<Bundle> {
  const running = await db().configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' } });
  const users = await userRecords();
  const states = await operatorStates();
  const config = running ? mapPrivateKeys(readSnapshot(running.snapshot), (pem, ctx) => seal(pairKey, pem, keyContext(ctx))) : null;
  return {
    from,
    version: running
      ? { id: running.id, hash: running.hash, author: running.authorName, comment: running.comment, createdAt: running.createdAt.toISOString() }
      : null,
    config,
    users,
    usersHash: hashUsers(users),
    states,
    statesHash: sha256Hex(canonicalJson(states)),
  };
}

/** The bundle's configuration with its keys opened and parsed by the one schema; undefined when it carries none. */
export function openBundleConfig(b: Bundle, pairKey: Buffer): Config | undefined {
  if (b.config === null || b.config === undefined) return undefined;
  return ConfigSchema.parse(mapPrivateKeys(b.config as Config, (pem, ctx) => open(pairKey, pem, keyContext(ctx))));
}

export const isHashOf = (config: Config, hash: string) => configHash(config) === hash;

/**
 * Makes this node's certificates and users those of the bundle (inside the caller's transaction). Certificates and
 * users absent from the bundle are deleted: the secondary is a copy (a deleted user's sessions end with it).
 * Returns counts for the audit row.
 */
export async function mirrorIntoTx(tx: Tx, config: Config | undefined, users: UserRecord[]) {
  let certificates = 0;
  if (config) {
    const names = config.certificates.map((c) => c.name);
    await tx.certificate.deleteMany({ where: { name: { notIn: names } } });
    for (const c of config.certificates) {
      const data = {
        certificatePem: c.certificatePem,
        privateKeyPem: sealPrivateKey(c.name, c.privateKeyPem),
        ...inspectCertificate(c.certificatePem, c.privateKeyPem),
      };
      await tx.certificate.upsert({ where: { name: c.name }, create: { name: c.name, ...data }, update: data });
      certificates++;
    }
  }
  await tx.user.deleteMany({ where: { username: { notIn: users.map((u) => u.username) } } });
  for (const u of users) {
    const data = { passwordHash: u.passwordHash, role: u.role, isDisabled: u.isDisabled };
    const row = await tx.user.upsert({ where: { username: u.username }, create: { username: u.username, ...data }, update: data });
    await tx.apiKey.deleteMany({
      where: {
        OR: [
          { userId: row.id, prefix: { notIn: u.apiKeys.map((k) => k.prefix) } },
          { prefix: { in: u.apiKeys.map((k) => k.prefix) }, userId: { not: row.id } },
        ],
      },
    });
    for (const k of u.apiKeys) {
      const kd = {
        name: k.name,
        keyHash: k.keyHash,
        role: k.role,
        revokedAt: k.revokedAt ? new Date(k.revokedAt) : null,
        expiresAt: k.expiresAt ? new Date(k.expiresAt) : null,
      };
      await tx.apiKey.upsert({
        where: { prefix: k.prefix },
        create: { prefix: k.prefix, userId: row.id, createdAt: new Date(k.createdAt), ...kd },
        update: kd,
      });
    }
  }
  return { certificates, users: users.length, apiKeys: users.reduce((n, u) => n + u.apiKeys.length, 0) };
}
