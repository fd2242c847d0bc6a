/**
 * Health history: every health transition the engine reports, kept in its own table (HealthTransition), not in the
 * audit chain: a transition is something a checker saw, not something a person did.
 *
 * Sources. The console holds one event stream to the engine (lib/live.ts); its 'health' events are recorded here as
 * they arrive. Events lost while the stream was down (a console restart, an engine restart, a broken socket) are
 * fetched on every (re)connect from the engine's bounded log, `healthTransitions(since)`. A transition is identified
 * by the engine process that saw it (its `startedAt`) and its `seq` in that process, and the table's unique key on
 * the pair makes every insert idempotent: the stream and the catch-up may deliver the same transition, it is stored
 * once.
 *
 * Each connection of the stream is an epoch opened by the engine's 'hello', which names the engine process
 * (`startedAt`). The catch-up's starting point (the last seq stored for that engine) is fixed first; only then are
 * the epoch's live events stored (held for that one local query), so a live event can never hide a gap. A hello
 * without `startedAt` (an engine older than this contract) is named by the catch-up's answer (`engineStartedAt`)
 * instead, and its events are held until then; a connection that closes before that answer drops what it held
 * rather than guess (a restarted engine could have answered, and its seq 1 is not the old one's).
 *
 *   hello S ─► since = lastSeq(S) ─► store live events as they come
 *           └► healthTransitions(since) ─► answer from S? store it : ignore (a new process; its hello catches up)
 *   hello   ─► since = lastSeq(guess), hold live events ─► healthTransitions(since) ─► engineStartedAt S
 *           ─► S ≠ guess and lastSeq(S) lower: ask again from it ─► store; still open? store the held under S
 *
 * The guess is the engine of the previous epoch, or at start the newest one in the table. No database transaction
 * is ever open across an engine call.
 *
 * Retention: at most `maxAgeDays` (default 30) and `maxRows` (default 200,000; the oldest go), pruned at start and
 * hourly; both are settings (lib/env.ts).
 */
import type { EngineEvent, HealthTransitionEvent, HealthTransitionsResponse, EngineStatus } from '../engine/api-types.ts';
import { db } from './db.ts';
import { engine as defaultEngine } from './engine.ts';
import { consoleEnv } from './env.ts';
import { log } from './log.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
/** A catch-up that failed is tried again this often while its connection stays open (the engine's own retry is 2 s). */
const RETRY_MS = 2000;

export interface HealthHistoryEngine {
  healthTransitions(since?: number): Promise<HealthTransitionsResponse>;
  /** Used only when the engine has no transition log to say which engine it is. */
  status(): Promise<Pick<EngineStatus, 'startedAt'>>;
}

export interface HealthHistoryOptions {
  engine?: HealthHistoryEngine;
  now?: () => Date;
  maxAgeDays?: number;
  maxRows?: number;
  /** 0: no hourly timer (tests call prune themselves). */
  pruneEveryMs?: number;
  retryMs?: number;
}

/** A transition as the API and the console show it. */
export interface HealthTransitionView {
  id: number;
  at: string;
  previous: string;
  health: string;
  code: string;
  message: string;
  durationMs: number;
  check: string;
  target: string;
}

function isTransition(e: unknown): e is HealthTransitionEvent {
  const t = e as Partial<HealthTransitionEvent>;
  return t?.type === 'health' && Number.isInteger(t.seq) && typeof t.virtualService === 'string' && typeof t.realServer === 'string';
}

/**
 * Stores the transitions of one engine process that are not stored yet; returns how many were new. One short
 * transaction (read the seqs already there, insert the rest), so concurrent writers never insert a pair twice.
 */
export async function recordTransitions(engineStartedAt: string, transitions: readonly HealthTransitionEvent[]): Promise<number> {
  const fresh = new Map<number, HealthTransitionEvent>();
  for (const t of transitions) if (isTransition(t)) fresh.set(t.seq, t);
  if (fresh.size === 0) return 0;
  return db().$transaction(async (tx) => {
    const have = await tx.healthTransition.findMany({ where: { engineStartedAt, seq: { in: [...fresh.keys()] } }, select: { seq: true } });
    for (const h of have) fresh.delete(h.seq);
    if (fresh.size === 0) return 0;
    const r = await tx.healthTransition.createMany({
      data: [...fresh.values()].map((t) => ({
        at: new Date(t.at),
        engineStartedAt,
        seq: t.seq,
        virtualService: t.virtualService,
        realServer: t.realServer,
        previous: String(t.previous ?? 'unknown'),
        health: String(t.health),
        code: String(t.code ?? ''),
        message: String(t.message ?? ''),
        durationMs: Number.isFinite(t.durationMs) ? t.durationMs : 0,
        check: String(t.check ?? ''),
        target: String(t.target ?? ''),
      })),
    });
    return r.count;
  });
}

/** The highest seq stored for one engine process (0 for none). */
export async function lastSeq(engineStartedAt: string): Promise<number> {
  const r = await db().healthTransition.aggregate({ where: { engineStartedAt }, _max: { seq: true } });
  return r._max.seq ?? 0;
}

/** The engine process of the newest stored transition, if any. */
async function newestEngine(): Promise<string | undefined> {
  const r = await db().healthTransition.findFirst({ orderBy: { id: 'desc' }, select: { engineStartedAt: true } });
  return r?.engineStartedAt;
}

/** The last `limit` transitions of one real server, newest first. */
export async function healthHistoryOf(virtualService: string, realServer: string, limit: number): Promise<HealthTransitionView[]> {
  const rows = await db().healthTransition.findMany({ where: { virtualService, realServer }, orderBy: [{ at: 'desc' }, { id: 'desc' }], take: limit });
  return rows.map((r) => ({
    id: r.id,
    at: r.at.toISOString(),
    previous: r.previous,
    health: r.health,
    code: r.code,
    message: r.message,
    durationMs: r.durationMs,
    check: r.check,
    target: r.target,
  }));
}

/** Drops transitions older than `maxAgeDays`, then the oldest beyond `maxRows`. Returns how many went for each. */
export async function pruneHealthHistory(opts: { now: Date; maxAgeDays: number; maxRows: number }): Promise<{ byAge: number; byCount: number }> {
  const cutoff = new Date(opts.now.getTime() - opts.maxAgeDays * DAY_MS);
  const byAge = (await db().healthTransition.deleteMany({ where: { at: { lt: cutoff } } })).count;
  // The newest row beyond the limit, in the order the history is read (time, then arrival); it and all older go.
  const edge = await db().healthTransition.findFirst({ orderBy: [{ at: 'desc' }, { id: 'desc' }], skip: opts.maxRows, select: { id: true, at: true } });
  const byCount = edge
    ? (await db().healthTransition.deleteMany({ where: { OR: [{ at: { lt: edge.at } }, { at: edge.at, id: { lte: edge.id } }] } })).count
    : 0;
  return { byAge, byCount };
}

interface Epoch {
  isOpen: boolean;
  /** The engine process: from the hello, or (an older engine) from the catch-up's answer. */
  startedAt?: string;
  /** What the catch-up asks from, fixed before any event of this epoch is stored (so none can hide a gap). */
  since?: number;
  guess?: string;
  /** Events are stored as they come once `since` is fixed and the engine is named; held until then. */
  isRecording: boolean;
  held: HealthTransitionEvent[];
}

/**
 * The recorder. Feed it the one engine subscription's events and connection changes (lib/live.ts does); it never
 * throws into its caller. `idle()` resolves once the work started so far is done (for tests and shutdown).
 */
export function createHealthHistory(opts: HealthHistoryOptions = {}) {
  const env = consoleEnv();
  const eng = opts.engine ?? defaultEngine();
  const now = opts.now ?? (() => new Date());
  const maxAgeDays = opts.maxAgeDays ?? env.healthHistoryMaxAgeDays;
  const maxRows = opts.maxRows ?? env.healthHistoryMaxRows;
  const retryMs = opts.retryMs ?? RETRY_MS;
  const work = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  let epoch: Epoch | undefined;
  let lastEngine: string | undefined;
  let isClosed = false;
  let hasWarnedNoSeq = false;

  const track = (p: Promise<unknown>) => {
    const q = p.catch((e) => log('warn', 'health history: a write failed', { error: (e as Error).message })).finally(() => work.delete(q));
    work.add(q);
  };

  async function prune() {
    const r = await pruneHealthHistory({ now: now(), maxAgeDays, maxRows });
    if (r.byAge || r.byCount) log('info', 'health history pruned', { ...r, maxAgeDays, maxRows });
    return r;
  }

  function startRecording(e: Epoch, startedAt: string): void {
    e.startedAt = startedAt;
    e.isRecording = true;
    const held = e.held.splice(0);
    if (held.length) track(recordTransitions(startedAt, held));
  }

  /** What the engine holds that is not stored yet (and, for an older engine, which engine it is). */
  async function catchUp(e: Epoch): Promise<void> {
    if (e.since === undefined) {
      e.guess = e.startedAt ?? lastEngine ?? (await newestEngine());
      e.since = e.guess ? await lastSeq(e.guess) : 0;
      if (e.startedAt) startRecording(e, e.startedAt);
    }
    let since = e.since;
    let answer: HealthTransitionsResponse;
    try {
      answer = await eng.healthTransitions(since);
      if (!e.startedAt && answer.engineStartedAt !== e.guess) {
        const known = await lastSeq(answer.engineStartedAt);
        if (known < since) answer = await eng.healthTransitions((since = known));
      }
    } catch (err) {
      // An engine without the transition log still says who it is; its live events are then kept, without catch-up.
      if ((err as { code?: string }).code !== 'ENGINE_NOT_FOUND') throw err;
      log('warn', 'health history: the engine keeps no transition log; recording live transitions only');
      answer = { engineStartedAt: e.startedAt ?? (await eng.status()).startedAt, transitions: [] };
    }
    if (e.startedAt && answer.engineStartedAt !== e.startedAt) {
      // The engine restarted between its hello and this call: the new process's own hello catches it up.
      log('warn', 'health history: another engine process answered the catch-up; its own connection will catch up', {
        expected: e.startedAt,
        answered: answer.engineStartedAt,
      });
      return;
    }
    const startedAt = answer.engineStartedAt;
    lastEngine = startedAt;
    const added = await recordTransitions(startedAt, answer.transitions);
    if (answer.transitions.length) log('info', 'health history caught up', { engineStartedAt: startedAt, since, fetched: answer.transitions.length, added });
    if (e.isRecording) return;
    // An older engine's hello did not name it: what this connection held is its engine's only while it is still open.
    if (e.isOpen && e === epoch) startRecording(e, startedAt);
    else if (e.held.splice(0).length)
      log('warn', 'health history: the engine connection closed before it was identified; live transitions it carried are not recorded');
  }

  function startCatchUp(e: Epoch): void {
    track(
      catchUp(e).catch((err) => {
        log('warn', 'health history: catch-up failed; trying again while the engine stays connected', { error: (err as Error).message });
        if (isClosed || !e.isOpen || e !== epoch) return;
        const t = setTimeout(() => {
          timers.delete(t);
          if (!isClosed && e.isOpen && e === epoch) startCatchUp(e);
        }, retryMs);
        t.unref?.();
        timers.add(t);
      }),
    );
  }

  const pruneTimer = (opts.pruneEveryMs ?? PRUNE_EVERY_MS) > 0 ? setInterval(() => track(prune()), opts.pruneEveryMs ?? PRUNE_EVERY_MS) : undefined;
  pruneTimer?.unref?.();

  return {
    /** Every event of the engine's stream, in order. */
    handleEngineEvent(ev: EngineEvent): void {
      if (isClosed) return;
      if (ev.type === 'hello') {
        if (epoch) epoch.isOpen = false;
        // The hello names its engine process; one that does not (an older engine) is named by the catch-up's answer.
        const startedAt = typeof ev.startedAt === 'string' && ev.startedAt ? ev.startedAt : undefined;
        epoch = { isOpen: true, startedAt, isRecording: false, held: [] };
        startCatchUp(epoch);
        return;
      }
      if (ev.type !== 'health') return;
      if (!isTransition(ev)) {
        if (!hasWarnedNoSeq) log('warn', 'health history: a health event without seq was not recorded (an engine older than the transition log?)');
        hasWarnedNoSeq = true;
        return;
      }
      if (!epoch) return; // no hello yet: impossible on this stream; the next catch-up has it anyway
      if (epoch.isRecording) track(recordTransitions(epoch.startedAt!, [ev]));
      else epoch.held.push(ev);
    },
    /** The stream's connection: a close ends the current epoch. */
    handleConnection(isConnected: boolean): void {
      if (!isConnected && epoch) epoch.isOpen = false;
    },
    /** Prunes now (also done by start() and hourly). */
    prune,
    /** Start-up pruning, tracked so idle() covers it. */
    start(): void {
      track(prune());
    },
    async idle(): Promise<void> {
      while (work.size) await Promise.all([...work]);
    },
    close(): void {
      isClosed = true;
      if (pruneTimer) clearInterval(pruneTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
