/**
 * The audit module without HTTP: rows from before keyed chaining start a new segment (not a rewrite), dates stay ISO
 * strings, a missing key stops writes instead of starting a new chain silently, seal settings are validated, and
 * checkpoints are planned by the clock they are given.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeDb, databasePath, db } from './db.ts';
import { ensureAuditKeyAtStart } from './audit-key.ts';
import { consoleEnv } from './env.ts';
import {
  auditKeyPath,
  GENESIS_HASH,
  legacyRowHash,
  planSeal,
  redact,
  sealAuditHead,
  storedFields,
  UPGRADE_ACTION,
  verifyAuditChain,
  writeAuditAlone,
  type AuditInput,
} from './audit.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-audit-'));
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-seal-'));
const row = (over: Partial<AuditInput> = {}): AuditInput => ({
  actor: 'admin',
  actorRole: 'admin',
  sourceAddress: '10.0.0.9',
  action: 'user.create',
  objectType: 'user',
  objectId: 'u1',
  outcome: 'success',
  requestId: 'req-1',
  ...over,
});

before(() => {
  process.env.FULCRUM_DATA_DIR = dataDir;
  delete process.env.FULCRUM_AUDIT_SEAL;
  delete process.env.FULCRUM_AUDIT_SEAL_KEY;
  delete process.env.FULCRUM_AUDIT_SEAL_SECONDS;
});
after(async () => {
  await closeDb();
  for (const d of [dataDir, outside]) fs.rmSync(d, { recursive: true, force: true });
  delete process.env.FULCRUM_AUDIT_SEAL;
  delete process.env.FULCRUM_AUDIT_SEAL_KEY;
});

/** Rows as the console wrote them before keyed chaining: plain SHA-256 over the previous hash and the fields. */
async function writeLegacyRows(n: number) {
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const f = {
      at: new Date(Date.UTC(2026, 10, 20, 9, i)),
      actor: 'admin',
      actorRole: 'admin',
      sourceAddress: '10.0.0.9',
      action: 'virtual-service.create',
      objectType: 'virtual-service',
      objectId: `vs${i}`,
      before: null,
      after: `{"name":"vs${i}"}`,
      outcome: 'success',
      message: null,
      requestId: `old-${i}`,
    };
    const hash = legacyRowHash(prev, storedFields(f));
    await db().auditEvent.create({ data: { ...f, prevHash: prev, hash } });
    prev = hash;
  }
  return prev;
}

test('rows from before keyed chaining stay as they are; the first keyed row seals their head', async () => {
  const oldHead = await writeLegacyRows(3);
  assert.equal(fs.statSync(auditKeyPath()).mode & 0o777, 0o600, 'the key was made when the database was first opened, owner-only');
  await writeAuditAlone(row());
  const rows = await db().auditEvent.findMany({ orderBy: { id: 'asc' } });
  assert.deepEqual(
    rows.map((r) => [r.id, r.action, r.hash.split(':')[0]]),
    [
      [1, 'virtual-service.create', 'sha256'],
      [2, 'virtual-service.create', 'sha256'],
      [3, 'virtual-service.create', 'sha256'],
      [4, UPGRADE_ACTION, 'hmac-sha256'],
      [5, 'user.create', 'hmac-sha256'],
    ],
  );
  assert.equal(rows[3].prevHash, oldHead);
  assert.deepEqual(JSON.parse(rows[3].after!).legacyHead, { id: 3, hash: oldHead });
  assert.equal(JSON.parse(rows[3].after!).legacyIntact, true);
  const report = await verifyAuditChain();
  assert.equal(report.isIntact, true, JSON.stringify(report.problems));
  assert.equal(report.legacyRows, 3);
  assert.ok(report.warnings.some((w) => /plain SHA-256/.test(w)));
});

test('an old row edited and its plain hashes recomputed no longer matches the head the keyed segment sealed', async () => {
  const rows = await db().auditEvent.findMany({ where: { id: { lte: 3 } }, orderBy: { id: 'asc' } });
  const saved = rows.map((r) => ({ id: r.id, actor: r.actor, prevHash: r.prevHash, hash: r.hash }));
  let prev = rows[0].hash;
  for (const r of rows.slice(1)) {
    const actor = r.id === 2 ? 'mallory' : r.actor;
    const hash = legacyRowHash(prev, storedFields({ ...r, actor }));
    await db().auditEvent.update({ where: { id: r.id }, data: { actor, prevHash: prev, hash } });
    prev = hash;
  }
  const report = await verifyAuditChain();
  assert.equal(report.isIntact, false);
  assert.deepEqual([report.firstBroken!.id, report.firstBroken!.kind], [4, 'relinked']);
  for (const s of saved) await db().auditEvent.update({ where: { id: s.id }, data: { actor: s.actor, prevHash: s.prevHash, hash: s.hash } });
  assert.equal((await verifyAuditChain()).isIntact, true);
});

test('before and after keep dates as ISO strings, and secrets are redacted', async () => {
  const when = new Date('2027-03-31T23:59:59.000Z');
  await writeAuditAlone(
    row({ action: 'api-key.create', objectType: 'api-key', after: { name: 'ci', expiresAt: when, nested: [{ at: when }], keyHash: 'abc' } }),
  );
  const last = await db().auditEvent.findFirst({ orderBy: { id: 'desc' } });
  assert.deepEqual(JSON.parse(last!.after!), {
    name: 'ci',
    expiresAt: '2027-03-31T23:59:59.000Z',
    nested: [{ at: '2027-03-31T23:59:59.000Z' }],
    keyHash: '[redacted]',
  });
  assert.deepEqual(redact({ a: new Date('x'), b: null, password: 'p' }), { a: null, b: null, password: '[redacted]' });
});

test('a missing audit key stops writes (nothing is changed unaudited) and verification says so', async () => {
  const keyFile = auditKeyPath();
  const saved = fs.readFileSync(keyFile);
  fs.rmSync(keyFile);
  (globalThis as unknown as { __fulcrumAudit?: { keys: Map<string, Buffer> } }).__fulcrumAudit?.keys.clear();
  try {
    await assert.rejects(writeAuditAlone(row()), (e: { code?: string; status?: number }) => e.code === 'AUDIT_KEY_MISSING' && e.status === 503);
    ensureAuditKeyAtStart(dataDir, databasePath(dataDir));
    assert.equal(fs.existsSync(keyFile), false, "no new key was made behind the operator's back, by a write or at a start");
    const report = await verifyAuditChain();
    assert.equal(report.firstBroken?.kind, 'key-missing');
  } finally {
    fs.writeFileSync(keyFile, saved, { mode: 0o600 });
  }
  assert.equal((await verifyAuditChain()).isIntact, true);
});

test('a lost seal key is not silently replaced while the sink holds checkpoints signed with it', async () => {
  process.env.FULCRUM_AUDIT_SEAL = `file:${path.join(outside, 'seal.log')}`;
  process.env.FULCRUM_AUDIT_SEAL_KEY = path.join(outside, 'seal.key');
  process.env.FULCRUM_AUDIT_SEAL_SECONDS = '3600';
  try {
    const first = await sealAuditHead({ now: new Date('2026-12-01T10:00:00Z') });
    assert.equal(first?.sinks[0].error, undefined);
    assert.equal((await verifyAuditChain()).seal.checkpoints, 1);
    fs.rmSync(path.join(outside, 'seal.key'));
    await writeAuditAlone(row({ requestId: 'after-loss' }));
    await assert.rejects(sealAuditHead(), /seal key .* is missing but .* already holds checkpoints/);
    assert.equal(fs.existsSync(path.join(outside, 'seal.key')), false);
  } finally {
    delete process.env.FULCRUM_AUDIT_SEAL;
    delete process.env.FULCRUM_AUDIT_SEAL_KEY;
    delete process.env.FULCRUM_AUDIT_SEAL_SECONDS;
  }
});

test('checkpoints go out at most once per interval, and the next is planned for when it is due', () => {
  assert.deepEqual(planSeal(0, 1_000_000, 60_000), { isNow: true });
  assert.deepEqual(planSeal(1_000_000, 1_010_000, 60_000), { isNow: false, inMs: 50_000 });
  assert.deepEqual(planSeal(1_000_000, 1_060_000, 60_000), { isNow: true });
  assert.deepEqual(planSeal(1_000_000, 1_000_000, 0), { isNow: true });
});

test('seal settings: sinks and the seal key must live outside the data directory', () => {
  const cases: [Record<string, string>, RegExp | null][] = [
    [{ FULCRUM_AUDIT_SEAL: `file:${path.join(dataDir, 'seal.log')}` }, /inside the data directory/],
    [{ FULCRUM_AUDIT_SEAL: 'file:relative/seal.log' }, /absolute path/],
    [{ FULCRUM_AUDIT_SEAL: 'udp:10.0.0.1' }, /neither "syslog" nor/],
    [{ FULCRUM_AUDIT_SEAL: 'syslog', FULCRUM_AUDIT_SEAL_KEY: path.join(dataDir, 'k') }, /keep the seal key apart/],
    [{ FULCRUM_AUDIT_SEAL: 'syslog', FULCRUM_AUDIT_SEAL_SECONDS: '-1' }, /whole number of seconds/],
    [{ FULCRUM_AUDIT_SEAL: `syslog,file:${path.join(outside, 's.log')}`, FULCRUM_AUDIT_SEAL_KEY: path.join(outside, 'k') }, null],
  ];
  for (const [env, error] of cases) {
    Object.assign(process.env, env);
    try {
      if (error) assert.throws(() => consoleEnv(), error);
      else assert.deepEqual(consoleEnv().auditSeal.sinks, [{ kind: 'syslog' }, { kind: 'file', path: path.join(outside, 's.log') }]);
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  }
});
