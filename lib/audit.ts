/**
 * The audit trail: append-only, chained under a key, and sealed outside the data directory.
 *
 * Who it must catch: someone with root on the appliance, who can open the SQLite file, read every file in the data
 * directory (the audit key included) and rewrite them. Four checks, each catching what the ones before cannot:
 *
 *   check                        │ kept where                        │ catches
 *   ─────────────────────────────┼───────────────────────────────────┼──────────────────────────────────────────────
 *   row MAC: HMAC-SHA256(key,    │ each row's `hash`; the key in     │ a row edited, inserted or relinked by someone
 *   previous MAC, id, fields)    │ <data dir>/audit.key (0600)       │ without the key (plain hashes recomputed
 *                                │                                   │ included), at that row
 *   ids 1, 2, 3 … without gaps   │ the rows                          │ a row deleted from the middle, at that id
 *   head file (id, MAC, its own  │ <data dir>/audit-head             │ rows cut from the end by someone without
 *   MAC under the key)           │                                   │ the key
 *   signed checkpoints of the    │ FULCRUM_AUDIT_SEAL sinks (a file  │ all of the above done WITH the key, every MAC
 *   head (id, MAC), Ed25519,     │ outside the data dir, syslog);    │ recomputed and the head file rewritten: the
 *   at most one per interval     │ the seal key apart from the data  │ sealed MAC of row N no longer matches (edit,
 *                                │ dir (FULCRUM_AUDIT_SEAL_KEY)      │ insert, delete) or row N is gone (truncation)
 *
 * The audit key is not in the database and must never be in a backup (there is no backup yet — the backup issue must
 * leave out audit.key and the seal key): a backup restored elsewhere then cannot be rewritten and re-keyed by whoever
 * holds the copy. The checkpoints are only as safe as their sink: point FULCRUM_AUDIT_SEAL at a place the appliance's
 * root cannot rewrite (a remote syslog, an append-only file). A forger who can only append to the sink still cannot
 * remove the genuine checkpoints already there, and cannot sign new ones without the seal key. What a forger with
 * the audit key can do undetected is limited to the rows written since the newest checkpoint.
 *
 * Rows written before keyed chaining (plain SHA-256, "sha256:…") are kept as they are: the first keyed row is an
 * `audit.chain-upgrade` row whose link and content name the old head (id and hash) and whether the old rows still
 * verified, so the old segment is sealed under the key from then on (a new segment, not a rewrite: rewriting old
 * rows under the key would also bless any tampering done before the upgrade).
 *
 * Rows are written in the same transaction as the change they describe (pass the transaction's client); refusals,
 * which change nothing, are written on their own. Writers are serialised by the adapter's transaction mutex (one
 * connection), so two writers never read the same previous row; ids are given explicitly (previous + 1) because
 * each MAC covers its id.
 */
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson, sha256Hex } from '../engine/canonical.ts';
import { db, sqlExecute, sqlQuery, type Tx } from './db.ts';
import { Prisma } from './generated/prisma/client.ts';
import { consoleEnv, type AuditSealSettings, type AuditSealSink } from './env.ts';
import { ApiError } from './errors.ts';
import { log } from './log.ts';
import { auditKeyFile, createAuditKey, MAC_PREFIX, readAuditKey } from './audit-key.ts';

export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);
const LEGACY_PREFIX = 'sha256:';
export const UPGRADE_ACTION = 'audit.chain-upgrade';
/** The marker a checkpoint line starts with, wherever a sink puts it (syslog prefixes its own header). */
export const SEAL_MARKER = 'FULCRUM-AUDIT-SEAL v1';

export type AuditOutcome = 'success' | 'denied' | 'invalid' | 'failed';

export interface AuditInput {
  actor: string;
  actorRole?: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId?: string | null;
  before?: unknown;
  after?: unknown;
  outcome: AuditOutcome;
  message?: string | null;
  requestId: string;
}

/** What a row's MAC covers, as stored (before and after as canonical JSON text, `at` as ISO). */
export interface StoredFields {
  at: string;
  actor: string;
  actorRole: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId: string | null;
  before: string | null;
  after: string | null;
  outcome: string;
  message: string | null;
  requestId: string;
}

type Row = StoredFields & { id: number; prevHash: string; hash: string };
type DbRow = Omit<Row, 'at'> & { at: Date };

export function storedFields(r: Omit<DbRow, 'id' | 'prevHash' | 'hash'>): StoredFields {
  return {
    at: r.at.toISOString(),
    actor: r.actor,
    actorRole: r.actorRole,
    sourceAddress: r.sourceAddress,
    action: r.action,
    objectType: r.objectType,
    objectId: r.objectId,
    before: r.before,
    after: r.after,
    outcome: r.outcome,
    message: r.message,
    requestId: r.requestId,
  };
}

/** The keyed MAC of a row: its link, its id (so rows cannot be renumbered) and its fields. */
export function auditRowMac(key: Buffer, prevHash: string, id: number, f: StoredFields): string {
  return (
    MAC_PREFIX +
    createHmac('sha256', key)
      .update(prevHash + '\n' + canonicalJson({ id, ...f }))
      .digest('hex')
  );
}

/** The unkeyed hash rows had before keyed chaining; only verified for those old rows. */
export function legacyRowHash(prevHash: string, f: StoredFields): string {
  return LEGACY_PREFIX + sha256Hex(prevHash + '\n' + canonicalJson(f));
}

/** Keys whose values never enter the audit trail. */
const SECRET_KEYS = /^(password|passwordHash|privateKeyPem|keyHash|token|secret|key|csrfToken)$/i;

/** Secrets replaced, dates kept as ISO strings (a Date has no own keys, so it would otherwise become `{}`). */
export function redact(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v);
    return out;
  }
  return value;
}

// ── the audit key ────────────────────────────────────────────────────────────────────────────────────────────────

/** Per process, shared by Next's bundle and the custom server's copy of this module (like the database client). */
interface AuditState {
  keys: Map<string, Buffer>;
  seal: Map<string, SealState>;
  /** The head last written to each head file, and the database client it came from (recordAuditHead). */
  heads: Map<string, { client: unknown; id: number }>;
  hasExitHook?: boolean;
}
const g = globalThis as unknown as { __fulcrumAudit?: AuditState; __fulcrumAuditDir?: { env?: string; cwd: string; dir: string } };
const state = (): AuditState => (g.__fulcrumAudit ??= { keys: new Map(), seal: new Map(), heads: new Map() });

/**
 * consoleEnv().dataDir without building the whole console environment (lib/env.ts reads every variable and the seal
 * settings, about 6 µs, and the key and head paths are asked for three times per edit): the data directory depends
 * only on FULCRUM_DATA_DIR and the working directory, so it is built again when either changes.
 */
function dataDirNow(): string {
  const m = g.__fulcrumAuditDir;
  if (m && m.env === process.env.FULCRUM_DATA_DIR && m.cwd === process.cwd()) return m.dir;
  g.__fulcrumAuditDir = { env: process.env.FULCRUM_DATA_DIR, cwd: process.cwd(), dir: consoleEnv().dataDir };
  return g.__fulcrumAuditDir.dir;
}

export const auditHeadPath = () => path.join(dataDirNow(), 'audit-head');
export const auditKeyPath = (dataDir = dataDirNow()) => auditKeyFile(dataDir);

/**
 * The key rows are chained under (lib/audit-key.ts), normally made at start. A trail that already has keyed rows and
 * no key file refuses to write (AUDIT_KEY_MISSING) rather than start silently under a new key; reading answers
 * `undefined` then (verification reports the missing key).
 */
async function auditKey(tx: Tx | undefined, opts: { create: boolean }): Promise<Buffer | undefined> {
  const p = auditKeyPath();
  const cached = state().keys.get(p);
  if (cached) return cached;
  if (!fs.existsSync(p)) {
    if (!opts.create) return undefined;
    const client = tx ?? db();
    if (await client.auditEvent.findFirst({ where: { hash: { startsWith: MAC_PREFIX } }, select: { id: true } }))
      throw new ApiError('AUDIT_KEY_MISSING', { path: p });
    createAuditKey(p);
  }
  const key = readAuditKey(p);
  state().keys.set(p, key);
  return key;
}

// ── writing ──────────────────────────────────────────────────────────────────────────────────────────────────────

function fieldsOf(input: AuditInput, at: Date): StoredFields {
  return {
    at: at.toISOString(),
    actor: input.actor,
    actorRole: input.actorRole ?? null,
    sourceAddress: input.sourceAddress,
    action: input.action,
    objectType: input.objectType,
    objectId: input.objectId ?? null,
    before: input.before === undefined || input.before === null ? null : canonicalJson(redact(input.before)),
    after: input.after === undefined || input.after === null ? null : canonicalJson(redact(input.after)),
    outcome: input.outcome,
    message: input.message ?? null,
    requestId: input.requestId,
  };
}

async function insertRow(tx: Tx, key: Buffer, prev: { id: number; hash: string } | null, f: StoredFields): Promise<{ id: number; hash: string }> {
  const id = (prev?.id ?? 0) + 1;
  const prevHash = prev?.hash ?? GENESIS_HASH;
  const hash = auditRowMac(key, prevHash, id, f);
  // A plain INSERT: through Prisma's query compiler this one row cost about 1.7 ms of CPU on every edit
  // (bench/api-edit.ts), raw about 0.2 ms. The adapter binds `at` (a Date) as Prisma's own writes store it (ISO 8601
  // text, "+00:00"), so rows read back, and verify, the same whichever way they were written.
  await sqlExecute(
    tx,
    Prisma.sql`
    INSERT INTO "AuditEvent" (id, at, actor, actorRole, sourceAddress, action, objectType, objectId, before, after, outcome, message, requestId, prevHash, hash)
    VALUES (${id}, ${new Date(f.at)}, ${f.actor}, ${f.actorRole}, ${f.sourceAddress}, ${f.action}, ${f.objectType}, ${f.objectId}, ${f.before},
            ${f.after}, ${f.outcome}, ${f.message}, ${f.requestId}, ${prevHash}, ${hash})`,
  );
  return { id, hash };
}

/** The old unkeyed rows, walked once when the keyed segment starts: how many, and whether they still verify. */
async function checkLegacy(tx: Tx): Promise<{ rows: number; isIntact: boolean; firstBroken: number | null }> {
  let prev = GENESIS_HASH;
  let expectedId = 1;
  let rows = 0;
  for (let lastId = 0; ; ) {
    const page = (await tx.auditEvent.findMany({ where: { id: { gt: lastId } }, orderBy: { id: 'asc' }, take: 1000 })) as DbRow[];
    for (const r of page) {
      rows++;
      if (r.id !== expectedId || r.prevHash !== prev || legacyRowHash(r.prevHash, storedFields(r)) !== r.hash)
        return { rows, isIntact: false, firstBroken: r.id };
      prev = r.hash;
      expectedId = r.id + 1;
      lastId = r.id;
    }
    if (page.length < 1000) return { rows, isIntact: true, firstBroken: null };
  }
}

/** Writes `input` as the next row of the chain in `tx`; answers the row written (the head once `tx` commits). */
export async function writeAudit(tx: Tx, input: AuditInput): Promise<AuditHead> {
  const key = (await auditKey(tx, { create: true }))!;
  // The head is read inside the writer's transaction every time, not kept in memory: another writer (a refusal
  // written alone, another process on the same file, a restore) may have appended since, and a stale head would
  // link the row to the wrong predecessor. Raw for the same reason as insertRow's INSERT (0.6 ms through Prisma).
  const [top] = await sqlQuery<{ id: number | bigint; hash: string }[]>(tx, Prisma.sql`SELECT id, hash FROM "AuditEvent" ORDER BY id DESC LIMIT 1`);
  let last = top ? { id: Number(top.id), hash: top.hash } : null;
  const now = new Date();
  if (last && last.hash.startsWith(LEGACY_PREFIX)) {
    // The first write under the key: a new segment whose first row names the old head (see the header).
    const legacy = await checkLegacy(tx);
    last = await insertRow(
      tx,
      key,
      last,
      fieldsOf(
        {
          actor: 'fulcrum',
          actorRole: null,
          sourceAddress: 'console',
          action: UPGRADE_ACTION,
          objectType: 'audit',
          objectId: null,
          requestId: `chain-upgrade-${last.id}`,
          after: {
            legacyHead: { id: last.id, hash: last.hash },
            legacyRows: legacy.rows,
            legacyIntact: legacy.isIntact,
            legacyFirstBroken: legacy.firstBroken,
            scheme: 'hmac-sha256',
          },
          outcome: 'success',
          message: `rows 1 to ${last.id} were chained with plain SHA-256; from here each row carries an HMAC-SHA256 under the audit key, and this row seals the old head`,
        },
        now,
      ),
    );
  }
  return insertRow(tx, key, last, fieldsOf(input, now));
}

/** Writes an audit row on its own (for refusals, which change nothing else). */
export async function writeAuditAlone(input: AuditInput): Promise<void> {
  await recordAuditHead(await db().$transaction((tx) => writeAudit(tx, input)));
}

export type AuditHead = { id: number; hash: string };

const headPath = auditHeadPath;

interface HeadFile {
  id: number;
  hash: string;
  /** HMAC of "id hash" under the audit key: someone without the key cannot rewrite the head file to match a cut. */
  mac?: string;
}

/** The head file's MAC (exported for the forger in the tests, who knows the algorithm as anyone reading this does). */
export const auditHeadMac = (key: Buffer, id: number, hash: string) => createHmac('sha256', key).update(`audit-head ${id} ${hash}`).digest('hex');

/**
 * Call after a transaction that wrote audit rows has committed: records the head beside the database and seals it
 * to the configured sinks when a checkpoint is due (at most one per FULCRUM_AUDIT_SEAL_SECONDS; a later one is
 * scheduled so the newest head is always sealed within that time).
 */
export async function recordAuditHead(written?: AuditHead): Promise<void> {
  // `written`: the row the committed transaction wrote (writeAudit's answer), so the head need not be read back.
  // Two commits' calls may finish out of order: a head older than the one this process recorded last, on this
  // database, is left alone, so the file never goes back.
  const client = db();
  // The path once: each headPath() builds the whole console environment (lib/env.ts, about 6 µs).
  const file = headPath();
  const recorded = state().heads.get(file);
  if (written && recorded?.client === client && recorded.id >= written.id) return;
  const last = written ?? (await client.auditEvent.findFirst({ orderBy: { id: 'desc' }, select: { id: true, hash: true } }));
  if (!last) return;
  const key = await auditKey(undefined, { create: false });
  const head: HeadFile = { id: last.id, hash: last.hash, ...(key ? { mac: auditHeadMac(key, last.id, last.hash) } : {}) };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(head), { mode: 0o600 });
  fs.renameSync(tmp, file);
  state().heads.set(file, { client, id: last.id });
  scheduleSeal(last);
}

// ── sealing ──────────────────────────────────────────────────────────────────────────────────────────────────────

interface SealState {
  lastAt: number;
  lastSealed?: { id: number; hash: string };
  /** The head recorded after the newest commit, and the settings then (what the exit hook seals, and where). */
  pendingHead?: { id: number; hash: string };
  settings?: AuditSealSettings;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<SealResult | null>;
}

/** When the next checkpoint goes out: now, or after `inMs` (the interval since the previous one has not passed). */
export function planSeal(lastAt: number, now: number, intervalMs: number): { isNow: true } | { isNow: false; inMs: number } {
  const due = lastAt + intervalMs;
  return now >= due ? { isNow: true } : { isNow: false, inMs: due - now };
}

function sealState(): SealState {
  const dataDir = dataDirNow();
  let s = state().seal.get(dataDir);
  if (!s) state().seal.set(dataDir, (s = { lastAt: 0 }));
  return s;
}

function scheduleSeal(head: { id: number; hash: string }, now = Date.now()): void {
  const settings = consoleEnv().auditSeal;
  const { sinks, intervalSeconds } = settings;
  if (!sinks.length) return;
  const s = sealState();
  s.pendingHead = head;
  s.settings = settings;
  if (!state().hasExitHook) {
    state().hasExitHook = true;
    process.on('exit', sealOnExit);
  }
  const plan = planSeal(s.lastAt, now, intervalSeconds * 1000);
  if (plan.isNow) {
    void sealAuditHead().catch((e) => log('error', 'the audit checkpoint could not be written', { error: (e as Error).message }));
  } else if (!s.timer) {
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void sealAuditHead().catch((e) => log('error', 'the audit checkpoint could not be written', { error: (e as Error).message }));
    }, plan.inMs);
    s.timer.unref();
  }
}

interface SealKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** First 16 hex digits of the SHA-256 of the public key (SPKI DER): names the key in every checkpoint. */
  keyId: string;
}

const keyIdOf = (publicKey: KeyObject) => sha256Hex(publicKey.export({ type: 'spki', format: 'der' }).toString('latin1')).slice(0, 16);

/**
 * The seal key pair (Ed25519) at FULCRUM_AUDIT_SEAL_KEY, its public half beside it (`.pub`). Created owner-only on
 * first use — but not when a file sink already holds checkpoints: a missing seal key there means it was lost or
 * removed, and a fresh key would turn every earlier checkpoint into "another key's", so sealing stops and says so.
 */
export function sealKeys(opts: { create: boolean; settings?: AuditSealSettings } = { create: true }): SealKeys | undefined {
  const settings = opts.settings ?? consoleEnv().auditSeal;
  const file = settings.keyFile;
  if (!fs.existsSync(file)) {
    if (!opts.create) return undefined;
    for (const sink of settings.sinks) {
      if (sink.kind === 'file' && fs.existsSync(sink.path) && fs.readFileSync(sink.path, 'utf8').includes(SEAL_MARKER)) {
        throw new Error(
          `the audit seal key ${file} is missing but ${sink.path} already holds checkpoints signed with it: restore the key, or point FULCRUM_AUDIT_SEAL at a new sink if this is a new installation`,
        );
      }
    }
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync('ed25519');
    try {
      fs.writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      fs.writeFileSync(`${file}.pub`, pair.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
      log('info', 'created the audit seal key; copy its public half somewhere safe to check checkpoints off the appliance', {
        file,
        publicKey: `${file}.pub`,
        keyId: keyIdOf(pair.publicKey),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (fs.statSync(file).mode & 0o077) {
    fs.chmodSync(file, 0o600);
    log('warn', 'the audit seal key was readable by others; it is owner-only again', { file });
  }
  const privateKey = createPrivateKey(fs.readFileSync(file));
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export interface Checkpoint {
  at: string;
  id: number;
  mac: string;
  key: string;
}

export function checkpointLine(cp: Checkpoint, keys: SealKeys): string {
  const body = canonicalJson(cp);
  return `${SEAL_MARKER} ${body} ${sign(null, Buffer.from(body), keys.privateKey).toString('base64')}`;
}

function writeFileSink(file: string, line: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    fs.writeSync(fd, line + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Through the local `logger` command (it finds /dev/log or journald); refused if it does not answer within 5 s. */
function writeSyslog(line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('logger', ['-t', 'fulcrum-audit', '-p', 'auth.notice', '--', line], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    // A wedged syslog daemon must not pile up logger processes for ever.
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run logger: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`logger ${signal ? `was killed (${signal}) after 5 s` : `exited ${code}`}: ${err.trim()}`));
    });
  });
}

export interface SealResult {
  checkpoint: Checkpoint;
  sinks: { sink: string; error?: string }[];
}

const sinkName = (s: AuditSealSink) => (s.kind === 'file' ? `file:${s.path}` : 'syslog');

/**
 * Writes a signed checkpoint of the current head to every sink, unless that head is already sealed. Before sealing,
 * checks that the row last sealed by this process still carries the MAC it sealed: if not, the trail was rewritten
 * under the console, which is logged as an error (the earlier checkpoint keeps proving it). `now` is for tests.
 */
export async function sealAuditHead(opts: { now?: Date; force?: boolean } = {}): Promise<SealResult | null> {
  const { sinks } = consoleEnv().auditSeal;
  if (!sinks.length) return null;
  const s = sealState();
  // One seal at a time per data directory; a caller arriving meanwhile waits for it and then seals what is newer.
  while (s.inFlight) await s.inFlight.catch(() => undefined);
  const run = (async (): Promise<SealResult | null> => {
    const last = await db().auditEvent.findFirst({ orderBy: { id: 'desc' }, select: { id: true, hash: true } });
    if (!last) return null;
    if (!opts.force && s.lastSealed?.id === last.id && s.lastSealed.hash === last.hash) return null;
    if (s.lastSealed) {
      const then = await db().auditEvent.findUnique({ where: { id: s.lastSealed.id }, select: { hash: true } });
      if (then?.hash !== s.lastSealed.hash)
        log('error', 'the audit trail changed under the console: a row it sealed is gone or different; run /api/v1/audit/verify', { id: s.lastSealed.id });
    }
    const keys = sealKeys()!;
    const now = opts.now ?? new Date();
    const checkpoint: Checkpoint = { at: now.toISOString(), id: last.id, mac: last.hash, key: keys.keyId };
    const line = checkpointLine(checkpoint, keys);
    const results: SealResult['sinks'] = [];
    for (const sink of sinks) {
      try {
        if (sink.kind === 'file') writeFileSink(sink.path, line);
        else await writeSyslog(line);
        results.push({ sink: sinkName(sink) });
      } catch (e) {
        results.push({ sink: sinkName(sink), error: (e as Error).message });
        log('error', 'an audit checkpoint sink refused the checkpoint', { sink: sinkName(sink), error: (e as Error).message });
      }
    }
    s.lastAt = now.getTime();
    s.lastSealed = last;
    return { checkpoint, sinks: results };
  })();
  s.inFlight = run;
  try {
    return await run;
  } finally {
    if (s.inFlight === run) s.inFlight = undefined;
  }
}

/**
 * On exit (the console stopping), the head recorded last is sealed synchronously if it is newer than the last
 * checkpoint, so stopping the console inside a sealing interval leaves no row unsealed.
 */
function sealOnExit(): void {
  for (const s of state().seal.values()) {
    const head = s.pendingHead;
    if (!head || (s.lastSealed?.id === head.id && s.lastSealed.hash === head.hash)) continue;
    try {
      const settings = s.settings;
      if (!settings?.sinks.length) continue;
      const { sinks } = settings;
      // Nothing is created on the way out: no key (none was ever sealed with), no sink directory that has gone.
      const keys = sealKeys({ create: false, settings });
      if (!keys) continue;
      const line = checkpointLine({ at: new Date().toISOString(), id: head.id, mac: head.hash, key: keys.keyId }, keys);
      for (const sink of sinks) {
        if (sink.kind === 'syslog') spawnSync('logger', ['-t', 'fulcrum-audit', '-p', 'auth.notice', '--', line], { stdio: 'ignore', timeout: 2000 });
        else if (fs.existsSync(path.dirname(sink.path))) writeFileSink(sink.path, line);
      }
      s.lastSealed = head;
    } catch {
      /* exiting: nothing left to tell */
    }
  }
}

// ── verifying ────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * How a row failed:
 *   edited             its MAC does not match its content (or it is in the unkeyed form inside the keyed chain)
 *   missing            ids jump: rows were deleted from the middle (or the start)
 *   relinked           its link does not name the row before it: a row before it was replaced or inserted
 *   sealed-mismatch    its MAC differs from a signed checkpoint: rows up to it were rewritten with the audit key
 *   truncated          a checkpoint or the head file names rows that are no longer there: cut from the end
 *   head-mismatch      the head file names this row with another MAC, or its own MAC is wrong
 *   forged-checkpoint  a checkpoint line claims this console's key but its signature does not verify
 *   key-missing        the audit key file is gone, so keyed rows cannot be checked
 */
export type ProblemKind = 'edited' | 'missing' | 'relinked' | 'sealed-mismatch' | 'truncated' | 'head-mismatch' | 'forged-checkpoint' | 'key-missing';

export interface AuditProblem {
  /** The row the problem is found at (for a cut tail, the first row missing). */
  id: number;
  kind: ProblemKind;
  reason: string;
}

export interface ChainReport {
  isIntact: boolean;
  checked: number;
  /** The first problem in id order: which row, and how. */
  firstBroken?: AuditProblem;
  /** Every problem found, in id order (at most 100). */
  problems: AuditProblem[];
  lastId: number;
  lastHash: string;
  /** Rows from before keyed chaining, checked with plain SHA-256 only (then sealed by the upgrade row). */
  legacyRows: number;
  seal: {
    sinks: string[];
    /** Checkpoints signed by this console's seal key that were compared with the chain. */
    checkpoints: number;
    newest: { id: number; at: string } | null;
    /** Lines signed by another key (another appliance sharing the sink), ignored. */
    foreign: number;
  };
  /** What limits this result, in words (no sink configured, a sink unreadable, a segment only plainly hashed). */
  warnings: string[];
}

interface ParsedCheckpoints {
  good: (Checkpoint & { source: string })[];
  forged: (Partial<Checkpoint> & { source: string })[];
  foreign: number;
}

/** Checkpoint lines anywhere in `text` (a sink file, or syslog lines someone pasted), checked against `keys`. */
export function parseCheckpoints(lines: Iterable<string>, keys: SealKeys | undefined, source: string): ParsedCheckpoints {
  const out: ParsedCheckpoints = { good: [], forged: [], foreign: 0 };
  for (const line of lines) {
    const at = line.indexOf(SEAL_MARKER);
    if (at < 0) continue;
    const m = /^ (\{.*\}) ([A-Za-z0-9+/=]+)\s*$/.exec(line.slice(at + SEAL_MARKER.length));
    let cp: Partial<Checkpoint> = {};
    try {
      if (m) cp = JSON.parse(m[1]) as Partial<Checkpoint>;
    } catch {
      /* unparsable: forged below */
    }
    const isWellFormed =
      !!m && typeof cp.id === 'number' && Number.isInteger(cp.id) && typeof cp.mac === 'string' && typeof cp.at === 'string' && typeof cp.key === 'string';
    if (isWellFormed && keys && cp.key !== keys.keyId) {
      out.foreign++;
      continue;
    }
    const isSigned = isWellFormed && !!keys && canonicalJson(cp) === m![1] && verify(null, Buffer.from(m![1]), keys.publicKey, Buffer.from(m![2], 'base64'));
    if (isSigned) out.good.push({ ...(cp as Checkpoint), source });
    else out.forged.push({ ...cp, source });
  }
  return out;
}

function readSinkLines(sink: AuditSealSink, warnings: string[]): string[] {
  if (sink.kind === 'syslog') {
    warnings.push('Checkpoints sent to syslog cannot be read back here; send their lines to POST /api/v1/audit/verify to check against them.');
    return [];
  }
  try {
    return fs.readFileSync(sink.path, 'utf8').split('\n');
  } catch (e) {
    warnings.push(
      `The checkpoint file ${sink.path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the chain was checked without its checkpoints.`,
    );
    return [];
  }
}

const MAX_PROBLEMS = 100;

/**
 * Walks the whole chain (in pages) and compares it with the head file and every checkpoint: from the configured
 * file sinks and any `extraCheckpointLines` (e.g. lines taken from syslog). Reports every problem, in id order.
 */
export async function verifyAuditChain(opts: { extraCheckpointLines?: string[] } = {}): Promise<ChainReport> {
  const env = consoleEnv();
  const problems: AuditProblem[] = [];
  const warnings: string[] = [];
  const add = (p: AuditProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const key = await auditKey(undefined, { create: false });

  // Checkpoints: only those signed by this console's seal key count; a line claiming that key but failing its
  // signature is itself a finding.
  const sealKey = env.auditSeal.sinks.length || opts.extraCheckpointLines?.length ? sealKeys({ create: false }) : undefined;
  const good: ParsedCheckpoints['good'] = [];
  const forged: ParsedCheckpoints['forged'] = [];
  let foreign = 0;
  const sources: [string, string[]][] = env.auditSeal.sinks.map((s) => [sinkName(s), readSinkLines(s, warnings)]);
  if (opts.extraCheckpointLines?.length) sources.push(['submitted lines', opts.extraCheckpointLines]);
  for (const [source, lines] of sources) {
    const p = parseCheckpoints(lines, sealKey, source);
    good.push(...p.good);
    forged.push(...p.forged);
    foreign += p.foreign;
  }
  if (!env.auditSeal.sinks.length)
    warnings.push('No checkpoint sink is configured (FULCRUM_AUDIT_SEAL): someone holding the audit key could rewrite the trail, or cut its end, undetected.');
  if ((env.auditSeal.sinks.length || opts.extraCheckpointLines?.length) && !sealKey)
    warnings.push(`The seal key ${env.auditSeal.keyFile} does not exist yet, so no checkpoint could be checked.`);
  const byId = new Map<number, (typeof good)[number][]>();
  for (const cp of good) byId.set(cp.id, [...(byId.get(cp.id) ?? []), cp]);
  const sealedIds = [...byId.keys()].sort((a, b) => a - b);

  let prev = GENESIS_HASH;
  let expectedId = 1;
  let checked = 0;
  let legacyRows = 0;
  let isKeyed = false;
  let lastGoodSealId = 0;
  let lastId = 0;
  const page = 1000;
  for (;;) {
    const rows = (await db().auditEvent.findMany({ where: { id: { gt: lastId } }, orderBy: { id: 'asc' }, take: page })) as DbRow[];
    for (const r of rows) {
      checked++;
      if (r.id !== expectedId) {
        const span = r.id - expectedId === 1 ? `row ${expectedId} is` : `rows ${expectedId} to ${r.id - 1} are`;
        add({
          id: expectedId,
          kind: 'missing',
          reason: `${span} missing: the ids jump from ${expectedId - 1} to ${r.id}, so ${r.id - expectedId === 1 ? 'it was' : 'they were'} deleted`,
        });
      } else if (r.prevHash !== prev) {
        add({
          id: r.id,
          kind: 'relinked',
          reason: `row ${r.id} does not follow row ${r.id - 1}: its link names another row, so a row before it was replaced, inserted or rewritten`,
        });
      }
      const fields = storedFields(r);
      const problemsBefore = problems.length;
      if (r.hash.startsWith(MAC_PREFIX)) {
        isKeyed = true;
        if (!key) {
          if (!problems.some((p) => p.kind === 'key-missing'))
            add({ id: r.id, kind: 'key-missing', reason: `the audit key ${auditKeyPath()} is missing, so rows from ${r.id} on cannot be checked; restore it` });
        } else {
          const expected = Buffer.from(auditRowMac(key, r.prevHash, r.id, fields));
          const actual = Buffer.from(r.hash);
          if (expected.length !== actual.length || !timingSafeEqual(expected, actual))
            add({ id: r.id, kind: 'edited', reason: `row ${r.id} was changed after it was written: its MAC does not match its content` });
        }
      } else if (isKeyed || !r.hash.startsWith(LEGACY_PREFIX)) {
        add({
          id: r.id,
          kind: 'edited',
          reason: `row ${r.id} has no MAC under the audit key although the keyed chain began before it: it was written or rewritten by someone without the key`,
        });
      } else {
        legacyRows++;
        if (legacyRowHash(r.prevHash, fields) !== r.hash)
          add({
            id: r.id,
            kind: 'edited',
            reason: `row ${r.id} (from before keyed chaining) was changed after it was written: its hash does not match its content`,
          });
      }
      const sealed = byId.get(r.id) ?? [];
      const cp = sealed.find((x) => x.mac !== r.hash);
      if (sealed.length && !cp) lastGoodSealId = r.id;
      if (cp) {
        add({
          id: r.id,
          kind: 'sealed-mismatch',
          reason:
            `row ${r.id} is not the row sealed at ${cp.at} (${cp.source}): a row from ${lastGoodSealId + 1} to ${r.id} was edited, inserted or deleted` +
            (problems.length === problemsBefore ? ', and the MACs after it recomputed with the audit key' : ''),
        });
      }
      prev = r.hash;
      expectedId = r.id + 1;
      lastId = r.id;
    }
    if (rows.length < page) break;
  }

  // Checkpoints beyond the last row: the end was cut, whatever the head file now says.
  const beyond = sealedIds.filter((id) => id > lastId);
  if (beyond.length) {
    const top = beyond.at(-1)!;
    const cp = byId.get(top)![0];
    add({
      id: lastId + 1,
      kind: 'truncated',
      reason: `rows ${lastId + 1} to ${top} were deleted from the end: row ${top} was sealed at ${cp.at} (${cp.source}) and is gone`,
    });
  }
  if (fs.existsSync(headPath())) {
    let head: HeadFile | undefined;
    try {
      head = JSON.parse(fs.readFileSync(headPath(), 'utf8')) as HeadFile;
    } catch {
      add({ id: lastId, kind: 'head-mismatch', reason: `the head file ${headPath()} is not readable JSON: it was rewritten` });
    }
    if (head) {
      // Without the key (or before keyed chaining) the head file carries no MAC to check.
      const isMacOk = key && isKeyed ? head.mac === auditHeadMac(key, head.id, head.hash) : true;
      if (!isMacOk)
        add({ id: head.id, kind: 'head-mismatch', reason: `the head file was rewritten by someone without the audit key (its MAC does not match)` });
      else if (head.id > lastId && !beyond.length)
        add({ id: lastId + 1, kind: 'truncated', reason: `rows ${lastId + 1} to ${head.id} were deleted from the end (the head file names row ${head.id})` });
      else if (head.id === lastId && head.hash !== prev)
        add({ id: lastId, kind: 'head-mismatch', reason: `row ${lastId} is not the row the head file names as written last` });
    }
  }
  for (const f of forged) {
    add({
      id: typeof f.id === 'number' ? f.id : 0,
      kind: 'forged-checkpoint',
      reason: `a checkpoint in ${f.source}${typeof f.id === 'number' ? ` for row ${f.id}` : ''} is not signed by this console's seal key: it was forged or altered`,
    });
  }
  problems.sort((a, b) => a.id - b.id);
  if (foreign)
    warnings.push(
      `${foreign} checkpoint line(s) in the sinks are signed by another key: another appliance shares the sink, or this console's seal key (${env.auditSeal.keyFile}) was replaced since they were written.`,
    );
  if (legacyRows)
    warnings.push(
      `Rows 1 to ${legacyRows} were written before keyed chaining: they are checked with plain SHA-256, and sealed by the ${UPGRADE_ACTION} row after them.`,
    );
  const newest = good.reduce<Checkpoint | null>((best, cp) => (!best || cp.id > best.id || (cp.id === best.id && cp.at > best.at) ? cp : best), null);
  return {
    isIntact: problems.length === 0,
    checked,
    ...(problems.length ? { firstBroken: problems[0] } : {}),
    problems,
    lastId,
    lastHash: prev,
    legacyRows,
    seal: { sinks: env.auditSeal.sinks.map(sinkName), checkpoints: good.length, newest: newest ? { id: newest.id, at: newest.at } : null, foreign },
    warnings,
  };
}
