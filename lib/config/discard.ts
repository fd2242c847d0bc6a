/**
 * Discarding staged changes: all of them, or those of one object, back to the running version (or to nothing, when
 * nothing was applied yet). Each discard is one transaction with one audit row; nothing reaches the engine.
 *
 * Operator states (online/drain/halt) are operational, not staged: a discard keeps every real server's current
 * state, as a rollback does. A certificate the running version lacks is deleted by a discard only when no service
 * still uses it; one the candidate changed gets the running version's certificate and key back.
 *
 *   object                │ in the running version          │ not in it (added since)
 *   ──────────────────────┼─────────────────────────────────┼──────────────────────────
 *   virtual service       │ restored with its real servers  │ deleted with its real servers
 *   real server "vs/rs"   │ restored in its service         │ deleted from its service
 *   floating IP, cert     │ restored                        │ deleted
 *
 * A restored object is checked against the rest of the candidate first (check.ts): discarding a service whose VIP a
 * staged service has since taken is refused, naming the field.
 */
import { ConfigSchema, VirtualServiceSchema, type Config, type VirtualService } from '../../engine/config/index.ts';
import { configHash } from '../../engine/canonical.ts';
import { ApiError, validationError } from '../errors.ts';
import type { Tx } from '../db.ts';
import type { AuditInput } from '../audit.ts';
import { mutate } from '../api/mutate.ts';
import { readSnapshot, sealPrivateKey } from '../secrets.ts';
import { inspectCertificate } from '../certificates.ts';
import { loadCandidate, pendingChanges, runningVersion } from './apply.ts';
import { withOperatorStates } from './diff.ts';
import { checkCandidate } from './check.ts';
import { RS_ORDER, renderCandidate } from './render.ts';
import { nextPosition, rsColumns, vsColumns } from './store.ts';
import { discardHa } from '../ha-settings.ts';

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;
export type DiscardTarget = { type: 'virtual-service' | 'real-server' | 'floating-ip' | 'certificate' | 'ha'; name: string };

const EMPTY: Config = ConfigSchema.parse({});

async function runningConfig(): Promise<{ id: number | null; config: Config }> {
  const v = await runningVersion();
  return v ? { id: v.id, config: ConfigSchema.parse(readSnapshot(v.snapshot)) } : { id: null, config: EMPTY };
}

/** Certificates back to `config`'s: changed ones restored, added ones deleted unless a service still names them. */
async function restoreCertificates(tx: Tx, config: Config, only?: string): Promise<void> {
  const stored = await tx.certificate.findMany({ where: only ? { name: only } : {} });
  const wanted = new Map(config.certificates.map((c) => [c.name, c]));
  for (const row of stored) {
    const w = wanted.get(row.name);
    if (w && w.certificatePem !== row.certificatePem) {
      await tx.certificate.update({
        where: { id: row.id },
        data: {
          certificatePem: w.certificatePem,
          privateKeyPem: sealPrivateKey(w.name, w.privateKeyPem),
          ...inspectCertificate(w.certificatePem, w.privateKeyPem),
        },
      });
    } else if (!w) {
      await tx.certificate.delete({ where: { id: row.id } });
    }
  }
  for (const c of config.certificates) {
    if ((only === undefined || only === c.name) && !stored.some((s) => s.name === c.name)) {
      await tx.certificate.create({
        data: {
          name: c.name,
          certificatePem: c.certificatePem,
          privateKeyPem: sealPrivateKey(c.name, c.privateKeyPem),
          ...inspectCertificate(c.certificatePem, c.privateKeyPem),
        },
      });
    }
  }
  // A deleted certificate some staged service still uses: the whole candidate says which field.
  const r = ConfigSchema.safeParse(await renderCandidate(tx));
  if (!r.success) throw validationError(r.error.issues);
}

/** Every staged change undone. `expectedHash`: the candidate the person reviewed (a newer one is not discarded). */
export async function discardAll(opts: { audit: AuditFor; expectedHash?: string }) {
  const p = await pendingChanges();
  if (opts.expectedHash && opts.expectedHash !== p.candidateHash)
    throw new ApiError('API_CONFLICT', { reason: 'The staged configuration changed since you reviewed it; review the changes again.' });
  if (p.changes.length === 0) throw new ApiError('API_CONFLICT', { reason: 'Nothing is staged, so there is nothing to discard.' });
  const running = await runningConfig();
  const states = new Map<string, string>();
  for (const vs of p.candidate.virtualServices) for (const rs of vs.realServers) states.set(`${vs.name}/${rs.name}`, rs.state);
  const config = withOperatorStates(running.config, states);
  await mutate(
    async (tx) => {
      await loadCandidate(tx, config);
      await restoreCertificates(tx, config);
    },
    () =>
      opts.audit({
        action: 'changes.discard',
        objectType: 'config',
        objectId: null,
        outcome: 'success',
        before: { candidateHash: p.candidateHash, changes: p.changes.length, objects: p.changes.slice(0, 100).map((c) => c.headline) },
        after: { runningVersion: running.id, hash: configHash(config) },
        message: `${p.changes.length} staged change${p.changes.length === 1 ? '' : 's'} discarded; the candidate is ${running.id ? `version ${running.id}` : 'empty'} again.`,
      }),
  );
  return { discarded: p.changes.length, runningVersion: running.id };
}

const notStaged = (t: DiscardTarget) => new ApiError('API_NOT_FOUND', { what: `A staged change of ${t.type} "${t.name}"` });

async function loadService(tx: Tx, name: string) {
  return tx.virtualService.findUnique({ where: { name }, include: { realServers: { orderBy: RS_ORDER } } });
}

/** A service's rows as the schema's VirtualService. */
function specOf(row: NonNullable<Awaited<ReturnType<typeof loadService>>>): VirtualService {
  return VirtualServiceSchema.parse({ ...JSON.parse(row.spec), realServers: row.realServers.map((r) => ({ ...JSON.parse(r.spec), state: r.state })) });
}

/** Writes `vs` over the row (or as a new one), real servers matched by name so ids and states survive. */
async function writeService(tx: Tx, row: Awaited<ReturnType<typeof loadService>>, vs: VirtualService): Promise<void> {
  if (!row) {
    await tx.virtualService.create({
      data: {
        ...vsColumns(vs),
        position: await nextPosition(tx),
        realServers: { create: vs.realServers.map((rs) => ({ ...rsColumns(rs), state: rs.state })) },
      },
    });
    return;
  }
  const byName = new Map(row.realServers.map((r) => [r.name, r]));
  await tx.virtualService.update({
    where: { id: row.id },
    data: {
      ...vsColumns(vs),
      version: { increment: 1 },
      realServers: {
        deleteMany: { name: { notIn: vs.realServers.map((r) => r.name) } },
        update: vs.realServers
          .filter((r) => byName.has(r.name))
          .map((r) => ({ where: { id: byName.get(r.name)!.id }, data: { ...rsColumns(r), version: { increment: 1 } } })),
        create: vs.realServers.filter((r) => !byName.has(r.name)).map((r) => ({ ...rsColumns(r), state: r.state })),
      },
    },
  });
}

/** The staged changes of one object undone (see the table above); returns what it was and what it is now. */
export async function discardObject(target: DiscardTarget, opts: { audit: AuditFor }) {
  const running = await runningConfig();
  return mutate(
    async (tx) => {
      if (target.type === 'ha') return discardHa(tx, running.config, target); // lib/ha-settings.ts
      if (target.type === 'virtual-service') {
        const row = await loadService(tx, target.name);
        const was = running.config.virtualServices.find((v) => v.name === target.name);
        if (!row && !was) throw notStaged(target);
        const before = row ? specOf(row) : null;
        if (!was) {
          await tx.virtualService.delete({ where: { id: row!.id } });
          return { id: row!.id, before, after: null };
        }
        // Current operator states kept; a real server the candidate deleted comes back with its running state.
        const states = new Map(row?.realServers.map((r) => [r.name, r.state]) ?? []);
        const vs = { ...was, realServers: was.realServers.map((rs) => ({ ...rs, state: (states.get(rs.name) as typeof rs.state) ?? rs.state })) };
        await checkCandidate(tx, vs, row ? { id: row.id, name: row.name, position: row.position, createdAt: row.createdAt } : undefined);
        await writeService(tx, row, vs);
        return { id: row?.id ?? null, before, after: vs };
      }
      if (target.type === 'real-server') {
        const [vsName, rsName] = [target.name.slice(0, target.name.indexOf('/')), target.name.slice(target.name.indexOf('/') + 1)];
        const row = vsName ? await loadService(tx, vsName) : null;
        if (!row) throw new ApiError('API_NOT_FOUND', { what: `Virtual service "${vsName}"` });
        const current = specOf(row);
        const now = current.realServers.find((r) => r.name === rsName);
        const was = running.config.virtualServices.find((v) => v.name === vsName)?.realServers.find((r) => r.name === rsName);
        if (!now && !was) throw notStaged(target);
        const restored = was && { ...was, state: now?.state ?? was.state };
        const servers = restored
          ? now
            ? current.realServers.map((r) => (r.name === rsName ? restored : r))
            : [...current.realServers, restored]
          : current.realServers.filter((r) => r.name !== rsName);
        const vs = VirtualServiceSchema.parse({ ...current, realServers: servers });
        await checkCandidate(tx, vs, { id: row.id, name: row.name, position: row.position, createdAt: row.createdAt });
        await writeService(tx, row, vs);
        return {
          id: row.realServers.find((r) => r.name === rsName)?.id ?? null,
          before: now ? { virtualService: vsName, ...now } : null,
          after: restored ? { virtualService: vsName, ...restored } : null,
        };
      }
      if (target.type === 'floating-ip') {
        const row = await tx.floatingIp.findUnique({ where: { address: target.name } });
        const was = running.config.floatingIps.find((f) => f.address === target.name);
        if (!row && !was) throw notStaged(target);
        const before = row && { address: row.address, interface: row.interface, ...(row.prefixLength !== null ? { prefixLength: row.prefixLength } : {}) };
        if (!was) await tx.floatingIp.delete({ where: { id: row!.id } });
        else
          await tx.floatingIp.upsert({
            where: { address: was.address },
            create: { address: was.address, interface: was.interface, prefixLength: was.prefixLength ?? null },
            update: { interface: was.interface, prefixLength: was.prefixLength ?? null },
          });
        return { id: row?.id ?? null, before, after: was ?? null };
      }
      const row = await tx.certificate.findUnique({ where: { name: target.name } });
      const was = running.config.certificates.find((c) => c.name === target.name);
      if (!row && !was) throw notStaged(target);
      await restoreCertificates(tx, running.config, target.name);
      const view = (c: { name: string } | null | undefined) => (c ? { name: c.name } : null);
      return { id: row?.id ?? null, before: view(row), after: view(was) };
    },
    (r) =>
      opts.audit({
        action: 'changes.discard-object',
        objectType: target.type,
        objectId: r.id,
        outcome: 'success',
        before: r.before,
        after: r.after,
        message: `Staged changes of ${target.type} ${target.name} discarded: ${r.after ? `back to ${running.id ? `version ${running.id}` : 'the running version'}` : 'it is not in the running version, so it is removed'}.`,
      }),
  );
}
