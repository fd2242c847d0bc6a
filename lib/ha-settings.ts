/**
 * The HA pair's settings: the engine's `ha` block (engine/config HaSchema), staged in one row (HaSettings, id 1)
 * like every other configuration object. renderCandidate puts it into the candidate, so it is diffed, applied as
 * part of a ConfigVersion (and its hash), audited, and copied to the secondary by the existing sync (loadCandidate
 * writes the row back from a snapshot). No row: a single node, and the engine runs no keepalived.
 *
 * A write is checked twice by the one schema: the block alone (the route's body), then with the rest of the
 * candidate, for the rules that look across it (a node's address may not be a VIP or floating IP; moving addresses
 * must exist; enough virtual router IDs for the interfaces). Either refusal names the field, as `nodes.1.priority`.
 */
import { ConfigSchema, HaSchema, haInterfaceGroups, type Config, type Ha } from '../engine/config/index.ts';
import { db, type Tx } from './db.ts';
import { ApiError, validationError } from './errors.ts';
import { renderCandidate } from './config/render.ts';
import { readSnapshot } from './secrets.ts';
import { runningVersion } from './config/apply.ts';
import { canonicalJson } from '../engine/canonical.ts';

/** What a form starts from: the schema's own defaults (HaSchema), so the form and the engine agree. */
export const HA_DEFAULTS = {
  isEnabled: true,
  advertIntervalMs: HaSchema.shape.advertIntervalMs.parse(undefined),
  preempt: HaSchema.shape.preempt.parse(undefined),
  connectionSync: HaSchema.shape.connectionSync.parse(undefined),
} as const;

/** The staged block, or null for a single node. */
export async function stagedHa(reader: Pick<Tx, 'haSettings'> = db()): Promise<{ ha: Ha; version: number; updatedAt: Date } | null> {
  const row = await reader.haSettings.findUnique({ where: { id: 1 } });
  return row ? { ha: HaSchema.parse(JSON.parse(row.spec)), version: row.version, updatedAt: row.updatedAt } : null;
}

/** The block against the rest of the candidate; refusals name the field below `ha` ("nodes.0.address"). */
export function checkAgainst(candidate: Config, ha: Ha): Ha {
  const r = ConfigSchema.safeParse({ ...candidate, ha });
  if (r.success) return r.data.ha!;
  const own = r.error.issues.filter((i) => i.path[0] === 'ha').map((i) => ({ ...i, path: i.path.slice(1) }));
  // Issues elsewhere are the candidate's own (they stop an apply, not this edit).
  if (!own.length) return HaSchema.parse(ha);
  throw validationError(own);
}

/** Stages `ha` inside the caller's transaction; returns what was there before (for the audit row). */
export async function writeHa(tx: Tx, ha: Ha): Promise<{ before: Ha | null; after: Ha; version: number }> {
  const before = await stagedHa(tx);
  const candidate = await renderCandidate(tx);
  const after = checkAgainst({ ...candidate, ha: undefined }, ha);
  const spec = JSON.stringify(after);
  const row = await tx.haSettings.upsert({ where: { id: 1 }, create: { id: 1, spec }, update: { spec, version: { increment: 1 } } });
  return { before: before?.ha ?? null, after, version: row.version };
}

/**
 * After an edit of something the HA rules look at (a floating IP), inside its transaction: refuses it when the staged
 * `ha` block no longer holds against the candidate, with the HA rule's sentence at `field` of the edit.
 */
export async function refuseIfHaBreaks(tx: Tx, field: string): Promise<void> {
  if (!(await tx.haSettings.findUnique({ where: { id: 1 }, select: { id: true } }))) return;
  try {
    await renderCandidate(tx);
  } catch (e) {
    const issues = (e as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.filter((i) => i.path[0] === 'ha');
    if (!issues?.length) throw e;
    throw validationError(issues.map((i) => ({ path: [field], message: `${i.message} (HA settings, ${i.path.slice(1).join('.')})` })));
  }
}

/** The `ha` object's staged change undone (lib/config/discard.ts): back to the running block, or no row. */
export async function discardHa(tx: Tx, running: Config, target: { type: string; name: string }) {
  const now = await stagedHa(tx);
  if (!now && !running.ha) throw new ApiError('API_NOT_FOUND', { what: `Staged changes of ${target.type} ${target.name}` });
  if (running.ha)
    await tx.haSettings.upsert({
      where: { id: 1 },
      create: { id: 1, spec: JSON.stringify(running.ha) },
      update: { spec: JSON.stringify(running.ha), version: { increment: 1 } },
    });
  else await tx.haSettings.delete({ where: { id: 1 } });
  return { id: '1', before: now?.ha ?? null, after: running.ha ?? null };
}

/** The page's view: staged, running, defaults, and which addresses would move in which VRRP instance. */
export async function haSettingsView() {
  const [staged, running, candidate] = await Promise.all([stagedHa(), runningVersion(), renderCandidate()]);
  const runningHa = running ? (readSnapshot(running.snapshot).ha ?? null) : null;
  const groups = staged ? haInterfaceGroups(candidate) : [];
  return {
    settings: staged?.ha ?? null,
    version: staged?.version ?? null,
    updatedAt: staged?.updatedAt ?? null,
    running: runningHa,
    isPending: canonicalJson(staged?.ha ?? null) !== canonicalJson(runningHa),
    defaults: HA_DEFAULTS,
    /** One VRRP instance per interface, router IDs from virtualRouterId on (engine/ha). */
    instances: groups.map((g, i) => ({
      interface: g.interface,
      virtualRouterId: staged!.ha.virtualRouterId + i,
      addresses: g.addresses.map((a) => `${a.address}/${a.prefix}`),
    })),
    /** Every floating IP and VIP with an interface in the candidate, which move unless movingAddresses narrows them. */
    movable: [
      ...candidate.floatingIps.map((f) => ({ address: f.address, interface: f.interface, source: 'floating-ip' as const })),
      ...candidate.virtualServices
        .filter((v) => v.isEnabled && v.interface)
        .map((v) => ({ address: v.address, interface: v.interface!, source: 'vip' as const })),
    ],
  };
}
