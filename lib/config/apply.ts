/**
 * Apply and rollback.
 *
 * Apply renders the candidate, records it as a ConfigVersion ("applying"), sends it to the engine with a deadline and
 * records the engine's answer on the version in the same transaction as the audit row (settle.ts). Without an
 * answer the version stays applying until the engine's own record says what became of it. A refused or failed apply leaves the
 * previous version running (the engine restores it) and says why. Rollback makes the candidate equal to an earlier
 * snapshot — keeping every real server's current operator state, which is operational, not configuration — and
 * applies it as a new version.
 */
import type { Config } from '../../engine/config/index.ts';
import { ConfigSchema } from '../../engine/config/index.ts';
import { configHash } from '../../engine/canonical.ts';
import type { EngineError } from '../../engine/errors.ts';
import type { ApplyResponse } from '../../engine/api-types.ts';
import { db, sqlQuery, type Tx } from '../db.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { ApiError } from '../errors.ts';
import { engine } from '../engine.ts';
import { mutate } from '../api/mutate.ts';
import type { AuditInput } from '../audit.ts';
import { renderCandidate } from './render.ts';
import { objectChanges, withOperatorStates } from './diff.ts';
import { rsColumns, vsColumns } from './store.ts';
import { inspectCertificate } from '../certificates.ts';
import { applyDeadline } from '../../engine/client/index.ts';
import { faultPoint } from '../fault.ts';
import { readSnapshot, sealPrivateKey, snapshotText } from '../secrets.ts';
import { settleFromEngine, settleVersion, type PendingApply } from './settle.ts';
import { outcomeSentence, withAdvice } from './outcomes.ts';

export async function runningVersion() {
  return db().configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' } });
}

/** The objects staged differently from the running version; their fields are worded on demand (describeChange). */
export async function pendingChanges() {
  const running = await runningVersion();
  const candidate = await renderCandidate();
  const changes = objectChanges(running ? readSnapshot(running.snapshot) : null, candidate);
  return { running, candidate, changes, candidateHash: configHash(candidate) };
}

/**
 * The running version's id and hash only, in plain SQL: runningVersion's row carries the whole snapshot (half a
 * megabyte at 1,000 services), which apply does not read, and Prisma's query costs more than the statement.
 */
export async function runningHead(): Promise<{ id: number; hash: string } | undefined> {
  const [row] = await sqlQuery<{ id: number | bigint; hash: string }[]>(
    db(),
    Prisma.sql`SELECT id, hash FROM "ConfigVersion" WHERE status = 'applied' ORDER BY id DESC LIMIT 1`,
  );
  return row && { id: Number(row.id), hash: row.hash };
}

/**
 * What apply needs of the staged state: the candidate, its hash and the running version's id and hash, without the
 * field-by-field diff (the pending-changes page's). Equal hashes mean nothing is staged: the hash covers the whole
 * configuration.
 */
export async function stagedCandidate() {
  const running = await runningHead();
  const candidate = await renderCandidate();
  return { running, candidate, candidateHash: configHash(candidate) };
}

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

/**
 * Records `config` as a new version and sends it to the engine, without holding a transaction across the call. The
 * version row carries, while it is "applying", the request's deadline and the audit row to write (who, from where):
 * whoever settles it — this request with the engine's answer, or the settler (settle.ts) from the engine's own record
 * after a timeout or a restart — writes that one row in the same transaction as the status, and only if the version
 * was still applying, so it is audited exactly once.
 */
export async function applyConfig(
  config: Config,
  opts: { author: string; comment?: string; rollbackOf?: number; audit: AuditFor; action: string; before?: unknown; hash?: string },
) {
  // `hash`: the caller's configHash(config), when it has one (hashing 1,000 services is about 10 ms).
  const hash = opts.hash ?? configHash(config);
  const previous = await runningHead();
  const deadline = applyDeadline();
  const draft = opts.audit({
    action: opts.action,
    objectType: 'config-version',
    outcome: 'success',
    before: opts.before ?? (previous ? { version: previous.id, hash: previous.hash } : null),
    after: { hash, comment: opts.comment ?? null },
  });
  const pending: PendingApply = { deadline, audit: draft };
  faultPoint('apply:before-version-row');
  // One serialisation of the whole configuration for both the record and the engine, unless the snapshot differs
  // from what is sent (certificates' private keys are sealed in it: lib/secrets.ts).
  const configText = JSON.stringify(config);
  const snapshot = config.certificates.length ? snapshotText(config) : configText;
  const version = await insertVersion({
    hash,
    snapshot,
    authorName: opts.author,
    comment: opts.comment ?? null,
    rollbackOf: opts.rollbackOf ?? null,
    result: JSON.stringify({ pending }),
  });
  faultPoint('apply:after-version-row');
  let answer: ApplyResponse;
  try {
    answer = await engine().apply(version.id, hash, config, { deadline, configText });
  } catch (e) {
    const err = e as EngineError;
    const isUndelivered = err.code === 'ENGINE_UNREACHABLE' && (err.details as { isDelivered?: unknown } | undefined)?.isDelivered === false;
    if (err.code !== 'ENGINE_UNREACHABLE' || isUndelivered) {
      // The engine answered with a refusal (invalid, expired), or nothing listened: a definite outcome.
      await settleVersion(version.id, { status: 'failed', result: { error: { code: err.code, message: err.message } }, message: err.message }, 'answer');
      throw auditedApplyError(version.id, previous?.id, err.message);
    }
    // No answer: the engine may yet finish this version (it started before the deadline) or never have had it.
    // Ask its record once; if it cannot say, the version stays pending for the settler.
    const settled = await settleFromEngine(version.id).catch(() => null);
    if (settled?.status === 'applied') return { version: version.id, hash, results: [] as ApplyResponse['results'], learnt: settled.how };
    if (settled) throw auditedApplyError(version.id, previous?.id, settled.message ?? err.message);
    const pendingErr = new ApiError(
      'ENGINE_APPLY_PENDING',
      { seconds: Math.round((deadline - version.createdAt.getTime()) / 1000), version: version.id, deadline: new Date(deadline).toISOString() },
      { version: version.id, reason: err.message },
    );
    pendingErr.isAudited = true; // the settler writes the one audit row of this apply
    throw pendingErr;
  }
  faultPoint('apply:after-engine-answer');
  await settleVersion(version.id, { status: answer.ok ? 'applied' : 'failed', result: answer, message: answer.error?.message ?? null }, 'answer');
  if (!answer.ok) {
    const err = auditedApplyError(version.id, previous?.id, answer.error?.message ?? '', {
      version: version.id,
      results: withAdvice(answer.results),
      advice: outcomeSentence(answer.error?.code, answer.error?.message ?? ''),
    });
    (err as { message: string }).message = answer.error?.message ?? err.message;
    throw err;
  }
  return { version: version.id, hash, results: withAdvice(answer.results) };
}

/**
 * The new version's row, "applying", as `configVersion.create` wrote it (createdAt now, bound as a Date as Prisma
 * binds it), as a plain statement on the connection (sqlQuery, lib/db.ts): Prisma's create took about 25 ms of a
 * 1,000-service apply in its query compiler, which handles the snapshot's half megabyte of text as part of the query
 * (so does $queryRaw); the statement only binds it.
 */
async function insertVersion(v: { hash: string; snapshot: string; authorName: string; comment: string | null; rollbackOf: number | null; result: string }) {
  const createdAt = new Date();
  const [row] = await sqlQuery<{ id: number | bigint }[]>(
    db(),
    Prisma.sql`
    INSERT INTO "ConfigVersion" (hash, snapshot, authorName, comment, status, result, rollbackOf, createdAt)
    VALUES (${v.hash}, ${v.snapshot}, ${v.authorName}, ${v.comment}, 'applying', ${v.result}, ${v.rollbackOf}, ${createdAt})
    RETURNING id`,
  );
  return { id: Number(row.id), createdAt };
}

function auditedApplyError(version: number, previous: number | undefined, reason: string, details: unknown = { version }): ApiError {
  const err = new ApiError('ENGINE_APPLY_FAILED', { version, previous: previous ?? 'none', reason }, details);
  err.isAudited = true;
  return err;
}

/** Replaces the candidate rows with `config` (matched by name, so ids and operator states survive). */
export async function loadCandidate(tx: Tx, config: Config): Promise<void> {
  const existing = await tx.virtualService.findMany({ include: { realServers: true } });
  const keep = new Set(config.virtualServices.map((v) => v.name));
  for (const vs of existing) if (!keep.has(vs.name)) await tx.virtualService.delete({ where: { id: vs.id } });
  let position = 0;
  for (const vs of config.virtualServices) {
    const cur = existing.find((e) => e.name === vs.name);
    const row = cur
      ? await tx.virtualService.update({ where: { id: cur.id }, data: { ...vsColumns(vs), position, version: { increment: 1 } } })
      : await tx.virtualService.create({ data: { ...vsColumns(vs), position } });
    position++;
    const names = new Set(vs.realServers.map((r) => r.name));
    for (const rs of cur?.realServers ?? []) if (!names.has(rs.name)) await tx.realServer.delete({ where: { id: rs.id } });
    for (const rs of vs.realServers) {
      const r = cur?.realServers.find((x) => x.name === rs.name);
      if (r) await tx.realServer.update({ where: { id: r.id }, data: { ...rsColumns(rs), version: { increment: 1 } } });
      else await tx.realServer.create({ data: { ...rsColumns(rs), state: rs.state, virtualServiceId: row.id } });
    }
  }
  // Certificates are never deleted here: a private key removed by a rollback could not be had back. One the
  // snapshot lacks stays stored (and unused); one it has that is gone is restored by the caller.
  const fips = new Set(config.floatingIps.map((f) => f.address));
  await tx.floatingIp.deleteMany({ where: { address: { notIn: [...fips] } } });
  for (const f of config.floatingIps) {
    await tx.floatingIp.upsert({
      where: { address: f.address },
      create: { address: f.address, interface: f.interface, prefixLength: f.prefixLength ?? null },
      update: { interface: f.interface, prefixLength: f.prefixLength ?? null },
    });
  }
  if (config.ha)
    await tx.haSettings.upsert({
      where: { id: 1 },
      create: { id: 1, spec: JSON.stringify(config.ha) },
      update: { spec: JSON.stringify(config.ha), version: { increment: 1 } },
    });
  else await tx.haSettings.deleteMany({});
}

export async function rollbackTo(versionId: number, opts: { author: string; audit: AuditFor }) {
  const target = await db().configVersion.findUnique({ where: { id: versionId } });
  if (!target) throw new ApiError('API_NOT_FOUND', { what: `Config version ${versionId}` });
  const current = await renderCandidate();
  const states = new Map<string, string>();
  for (const vs of current.virtualServices) for (const rs of vs.realServers) states.set(`${vs.name}/${rs.name}`, rs.state);
  const snapshot = ConfigSchema.parse(readSnapshot(target.snapshot));
  const missingCerts = snapshot.certificates.filter((c) => !current.certificates.some((x) => x.name === c.name));
  const config = withOperatorStates(snapshot, states);
  await mutate(
    async (tx) => {
      for (const c of missingCerts) {
        await tx.certificate.create({
          data: {
            name: c.name,
            certificatePem: c.certificatePem,
            privateKeyPem: sealPrivateKey(c.name, c.privateKeyPem),
            ...inspectCertificate(c.certificatePem, c.privateKeyPem),
          },
        });
      }
      await loadCandidate(tx, config);
    },
    () =>
      opts.audit({
        action: 'config.rollback-stage',
        objectType: 'config-version',
        objectId: String(versionId),
        before: { candidateHash: configHash(current) },
        after: { from: versionId, hash: configHash(config) },
        outcome: 'success',
      }),
  );
  // The candidate now is the snapshot (plus any certificate uploaded since, kept): apply exactly that.
  return applyConfig(await renderCandidate(), {
    author: opts.author,
    comment: `rollback to version ${versionId}`,
    rollbackOf: versionId,
    audit: opts.audit,
    action: 'config.rollback',
  });
}
