/**
 * Settling what the console is in doubt about, from the engine's own record (ARCHITECTURE.md, "Faults"):
 *
 * - A version left "applying" — the engine did not answer in time, or the console died between recording the
 *   version and recording the answer — is settled as applied or failed by the engine's record of that version
 *   (GET /v1/applies), or as failed once its deadline has passed and the engine never received it (it then can
 *   never apply it). The audit row written is the one the apply request prepared (who asked, from where), marked
 *   with how the outcome was learnt; only the first settlement of a version writes it.
 * - An operator state the engine did not take (it was paused, or restarting) is sent again when the engine is back,
 *   with an audit row saying so.
 *
 * The settler runs at console start, whenever the engine (re)connects, and every few seconds while anything is
 * pending. It never holds a transaction across an engine call.
 */
import { db, sqlExecute, sqlQuery } from '../db.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { engine } from '../engine.ts';
import { log } from '../log.ts';
import { mutate } from '../api/mutate.ts';
import type { AuditInput } from '../audit.ts';
import type { Config } from '../../engine/config/index.ts';

/** Stored in ConfigVersion.result while a version is applying. */
export interface PendingApply {
  /** Epoch ms: the engine starts the version by then or never. */
  deadline: number;
  /** The audit row to write when settled (its outcome and message filled in then). */
  audit: AuditInput;
}

export type SettleHow = 'answer' | 'record' | 'never-received';

const HOW_TEXT: Record<SettleHow, string> = {
  answer: '',
  record: "Settled from the engine's own record after the console lost its answer.",
  'never-received': 'Settled by its deadline: the engine refuses a version whose turn comes later.',
};

/** How long after a deadline the settler waits before calling a version the engine never saw failed. */
const GRACE_MS = 1000;

function pendingOf(result: string | null): PendingApply | undefined {
  try {
    return result ? (JSON.parse(result) as { pending?: PendingApply }).pending : undefined;
  } catch {
    return undefined;
  }
}

type VersionRow = { status: string; result: string | null; authorName: string; hash: string; createdAt: Date };

/**
 * What settling reads of version `id`: not its snapshot (half a megabyte at 1,000 services), in plain SQL. createdAt
 * comes back a Date, as Prisma's read gives it (the column is DATETIME).
 */
async function versionRow(id: number): Promise<VersionRow | undefined> {
  const [row] = await sqlQuery<VersionRow[]>(db(), Prisma.sql`SELECT status, result, authorName, hash, createdAt FROM "ConfigVersion" WHERE id = ${id}`);
  return row;
}

/**
 * Marks version `id` applied or failed and writes its audit row, in one transaction, if it is still applying.
 * Returns whether this call settled it (false: someone settled it first, and wrote the row).
 */
export async function settleVersion(
  id: number,
  outcome: { status: 'applied' | 'failed'; result: unknown; message?: string | null },
  how: SettleHow,
): Promise<boolean> {
  const row = await versionRow(id);
  if (row?.status !== 'applying') return false;
  const pending = pendingOf(row.result);
  const draft: AuditInput = pending?.audit ?? {
    actor: row.authorName,
    actorRole: null,
    sourceAddress: 'unknown',
    requestId: `settle-${id}`,
    action: 'config.apply',
    objectType: 'config-version',
    outcome: 'success',
  };
  const results = (outcome.result as { results?: { name: string; status: string; message: string }[] })?.results;
  const message = [outcome.message, HOW_TEXT[how]].filter(Boolean).join(' ') || null;
  const count = await mutate(
    // updateMany's statement, in plain SQL (the result is the engine's answer: a line per service).
    (tx) =>
      sqlExecute(
        tx,
        Prisma.sql`
      UPDATE "ConfigVersion" SET status = ${outcome.status}, result = ${JSON.stringify(outcome.result)} WHERE id = ${id} AND status = 'applying'`,
      ),
    (n) =>
      n === 1
        ? {
            ...draft,
            objectId: String(id),
            after: {
              ...(draft.after as object | undefined),
              version: id,
              ...(results ? { results: results.map((r) => ({ name: r.name, status: r.status, message: r.message })) } : {}),
              ...(how !== 'answer' ? { learnt: how } : {}),
            },
            outcome: outcome.status === 'applied' ? 'success' : 'failed',
            message,
          }
        : null,
    { isCandidateChange: false },
  );
  if (count === 1 && how !== 'answer') log('info', `version ${id} settled as ${outcome.status}`, { how });
  return count === 1;
}

/**
 * Asks the engine what became of applying version `id` and settles it if the engine can say. Null: still pending.
 * Throws when the engine cannot be asked (the caller tries again later).
 */
export async function settleFromEngine(id: number): Promise<{ status: 'applied' | 'failed'; message?: string; how: SettleHow } | null> {
  const row = await versionRow(id);
  if (row?.status !== 'applying') return null;
  const deadline = pendingOf(row.result)?.deadline ?? row.createdAt.getTime();
  const o = await engine().outcome(id);
  // Started before its deadline and still running: the engine will say how it ends.
  if (o?.status === 'applying') return null;
  if (o && (o.hash === undefined || o.hash === row.hash)) {
    const status = o.status === 'applied' ? 'applied' : 'failed';
    const code = o.status === 'expired' ? 'ENGINE_APPLY_EXPIRED' : 'ENGINE_APPLY_FAILED';
    await settleVersion(
      id,
      { status, result: { outcome: o, ...(status === 'failed' ? { error: { code, message: o.message } } : {}) }, message: o.message },
      'record',
    );
    return { status, message: o.message, how: 'record' };
  }
  // No record: is it running anyway (a record lost with the engine's data directory)?
  const running = (await engine().status()).running;
  if (running?.version === id && running.hash === row.hash) {
    await settleVersion(id, { status: 'applied', result: { outcome: { version: id, status: 'applied' } } }, 'record');
    return { status: 'applied', how: 'record' };
  }
  if (Date.now() > deadline + GRACE_MS) {
    const message = `The engine has no record of starting version ${id} before its deadline, so it never will.`;
    await settleVersion(id, { status: 'failed', result: { error: { code: 'ENGINE_UNREACHABLE', message } }, message }, 'never-received');
    return { status: 'failed', message, how: 'never-received' };
  }
  return null;
}

/** Every applying version, oldest first; returns how many are still pending. */
export async function settlePending(): Promise<number> {
  const rows = await db().configVersion.findMany({ where: { status: 'applying' }, orderBy: { id: 'asc' }, select: { id: true } });
  let left = 0;
  for (const { id } of rows) {
    try {
      if ((await settleFromEngine(id)) === null) left++;
    } catch {
      left++;
    }
  }
  return left;
}

/**
 * Operator states the engine does not have (it did not take a drain while paused): sent again, each with an audit row.
 * Only servers of the running version are compared; others get their state with the next apply.
 */
export function resendStates(): Promise<number> {
  // One at a time: two overlapping runs would both see the same difference and send (and audit) it twice.
  const run = resendQueue.then(resendStatesNow, resendStatesNow);
  resendQueue = run.catch(() => 0);
  return run;
}
let resendQueue: Promise<number> = Promise.resolve(0);

async function resendStatesNow(): Promise<number> {
  if ((await db().configVersion.count({ where: { status: 'applying' } })) > 0) return 0; // the pending apply carries them
  const status = await engine().status();
  const running = await db().configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' } });
  if (!status.running || !running || status.running.version !== running.id) return 0;
  const rows = await db().realServer.findMany({ include: { virtualService: true } });
  const byKey = new Map(rows.map((r) => [`${r.virtualService.name}/${r.name}`, r]));
  const snapshot = JSON.parse(running.snapshot) as Config;
  const inRunning = new Set(snapshot.virtualServices.flatMap((vs) => vs.realServers.map((rs) => `${vs.name}/${rs.name}`)));
  let sent = 0;
  for (const svc of status.services) {
    for (const rs of svc.realServers) {
      const key = `${svc.name}/${rs.name}`;
      const row = byKey.get(key);
      if (!row || !inRunning.has(key) || row.state === rs.operator) continue;
      await engine().setServerState(svc.name, rs.name, row.state as 'online' | 'drain' | 'halt');
      await mutate(
        async () => row,
        () => ({
          actor: 'fulcrum',
          actorRole: null,
          sourceAddress: 'local',
          requestId: `resend-${row.id}-${Date.now()}`,
          action: 'real-server.state-resend',
          objectType: 'real-server',
          objectId: row.id,
          before: { virtualService: svc.name, realServer: rs.name, state: rs.operator },
          after: { virtualService: svc.name, realServer: rs.name, state: row.state },
          outcome: 'success',
          message: `The engine had ${rs.operator} for ${key} although ${row.state} was set; sent again when the engine answered.`,
        }),
        { isCandidateChange: false },
      );
      sent++;
    }
  }
  return sent;
}

/** Runs settlePending and resendStates at start, on kick() (the engine reconnected) and every 5 s while needed. */
export function createSettler(opts: { everyMs?: number } = {}) {
  let timer: NodeJS.Timeout | undefined;
  let isRunning = false;
  let isClosed = false;
  const run = async () => {
    if (isRunning || isClosed) return;
    isRunning = true;
    try {
      const left = await settlePending();
      const isResent = await resendStates().then(
        () => true,
        (e) => {
          log('warn', 'could not compare operator states with the engine', { error: (e as Error).message });
          return false;
        },
      );
      if (left > 0 || !isResent) schedule();
    } catch (e) {
      log('warn', 'could not settle pending versions', { error: (e as Error).message });
      schedule();
    } finally {
      isRunning = false;
    }
  };
  const schedule = () => {
    if (timer || isClosed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, opts.everyMs ?? 5000);
    timer.unref();
  };
  return {
    start: () => void run(),
    kick: () => void run(),
    /** Resolves once a run has finished (tests). */
    runNow: run,
    close() {
      isClosed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

const g = globalThis as unknown as { __fulcrumSettler?: ReturnType<typeof createSettler> };
/** The console's one settler (server.ts starts it; routes kick it when the engine did not answer). */
export function settler(): ReturnType<typeof createSettler> {
  return (g.__fulcrumSettler ??= createSettler());
}
