/**
 * The console's side of secrets at rest (engine/secrets.ts has the scheme): certificate private keys are sealed in
 * Certificate rows and in ConfigVersion snapshots, and opened only where the configuration is sent to the engine
 * or restored from a snapshot. Nothing here returns a key to a browser: routes never do.
 */
import type { Config } from '../engine/config/index.ts';
import { isSealed, mapPrivateKeys, open, seal, secretKey } from '../engine/secrets.ts';
import { consoleEnv } from './env.ts';
import { db } from './db.ts';
import { log } from './log.ts';

const key = () => secretKey(consoleEnv().dataDir);

export const sealPrivateKey = (certificate: string, pem: string): string => seal(key(), pem, `certificate:${certificate}`);
export const openPrivateKey = (certificate: string, pem: string): string => open(key(), pem, `certificate:${certificate}`);

/** A configuration as stored in ConfigVersion.snapshot: JSON with private keys sealed. */
export function snapshotText(config: Config): string {
  const k = key();
  return JSON.stringify(mapPrivateKeys(config, (pem, ctx) => seal(k, pem, ctx)));
}

/** A stored snapshot back to the configuration, keys opened (not parsed: callers parse with the schema where needed). */
export function readSnapshot(text: string): Config {
  const k = key();
  return mapPrivateKeys(JSON.parse(text) as Config, (pem, ctx) => open(k, pem, ctx));
}

/** Seals keys stored before sealing existed (certificates and snapshots); run at start. Returns how many rows. */
export async function sealStoredSecrets(): Promise<number> {
  let n = 0;
  for (const c of await db().certificate.findMany({ select: { id: true, name: true, privateKeyPem: true } })) {
    if (isSealed(c.privateKeyPem)) continue;
    await db().certificate.update({ where: { id: c.id }, data: { privateKeyPem: sealPrivateKey(c.name, c.privateKeyPem) } });
    n++;
  }
  for (const v of await db().configVersion.findMany({ where: { snapshot: { contains: 'PRIVATE KEY-----' } }, select: { id: true, snapshot: true } })) {
    await db().configVersion.update({ where: { id: v.id }, data: { snapshot: snapshotText(readSnapshot(v.snapshot)) } });
    n++;
  }
  if (n > 0) {
    // The clear text still sits in freed pages and in the WAL until they are rewritten: scrub both now.
    await db().$executeRawUnsafe('VACUUM');
    await db().$executeRawUnsafe('PRAGMA wal_checkpoint(TRUNCATE)');
    log('info', `sealed ${n} stored private key record(s) with the data directory's secrets key`);
  }
  return n;
}
