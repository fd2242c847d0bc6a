/**
 * When each check runs: a timer wheel of slots per interval. Each check starts at a random offset within its
 * interval, rounded to one of SLOTS slots of it; the checks of one interval that one update placed in the same slot
 * share one timer and run together, every interval from the slot's previous firing (the schema keeps the timeout
 * within the interval, so runs never overlap).
 *
 * A timer per check meant a wake-up of the process per check, and each wake-up cost more than the check's own
 * bookkeeping; where reading the clock is a system call (a VM without a vDSO, such as the User-Mode Linux test
 * kernel) arming a Node timer also costs two of them, about 30 µs there. So 2,000 checks every 2 s wake the process
 * 20 times a second, not 1,000. Membership changes only when a check starts, stops, or is run out of turn.
 *
 * How finely: each interval is cut into SLOTS (at least MIN_SLOT_MS each), so a slot holds about a fortieth of the
 * checks of that interval whatever its length; 2,000 checks every 2 s make 40 slots of 50 ms with about 50 checks.
 * Measured with bench/health.ts (the project's 2-core VM, the monitor alone): slots of 10 ms cost 14 % of a core,
 * 50 ms 10 %, 100 ms 9 %. A check still starts within half a slot of its random offset, and a slot's checks within
 * a few milliseconds of each other, which is as spread as any real server needs.
 *
 * A slot that fires late (a starved process: see runner-child.ts on its CPU priority) runs its checks late and is
 * due again one interval after it actually fired: checks are delayed, never bunched up or skipped in a burst, and
 * `lateness` says by how much.
 */

const SLOTS = 40;
const MIN_SLOT_MS = 10;

/** What the wheel schedules: it remembers its slot here. */
export interface Scheduled {
  slot?: Slot<Scheduled>;
}

export class Slot<T extends Scheduled> {
  timer?: NodeJS.Timeout;
  /** When it is due (Date.now() time), to measure how late it fires. */
  dueAt = 0;
  readonly items = new Set<T>();
  constructor(readonly intervalMs: number) {}
}

/** Slots made by one round of placing: checks placed together at the same offset share a slot (and a timer). */
export type Placement<T extends Scheduled> = Map<string, Slot<T>>;

/** How the schedule kept up: the latest a slot fired (ms after it was due) and how many checks ran. */
export interface ScheduleStats {
  maxLateMs: number;
  runs: number;
}

export class Schedule<T extends Scheduled> {
  /** The largest lateness of a slot (ms) since the last takeLateness(), and how many items ran. */
  private maxLateMs = 0;
  private runs = 0;

  /** `run(item, at)`: `at` is one clock reading for the whole slot (each result's time is it plus the duration). */
  constructor(private readonly run: (item: T, at: number) => void) {}

  /** Puts `item` in the slot of `intervalMs` that fires in `delayMs` (rounded to a slot), one of `placed` if there is. */
  place(item: T, intervalMs: number, delayMs: number, placed: Placement<T>): void {
    const slotMs = Math.max(MIN_SLOT_MS, intervalMs / SLOTS);
    const delay = Math.min(Math.round(delayMs / slotMs) * slotMs, intervalMs);
    const key = `${intervalMs}/${delay}`;
    let s = placed.get(key);
    if (!s) {
      s = new Slot<T>(intervalMs);
      placed.set(key, s);
      this.arm(s, delay, Date.now());
    }
    s.items.add(item);
    item.slot = s as Slot<Scheduled>;
  }

  unplace(item: T): void {
    const s = item.slot as Slot<T> | undefined;
    item.slot = undefined;
    if (!s) return;
    s.items.delete(item);
    if (s.items.size === 0 && s.timer) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
  }

  /** How late slots fired (the worst, ms) and how many items ran since the last call; both start again from 0. */
  takeStats(): ScheduleStats {
    const r = { maxLateMs: this.maxLateMs, runs: this.runs };
    this.maxLateMs = 0;
    this.runs = 0;
    return r;
  }

  private arm(s: Slot<T>, delayMs: number, now: number): void {
    s.dueAt = now + delayMs;
    s.timer = setTimeout(() => this.fire(s), delayMs);
    s.timer.unref();
  }

  private fire(s: Slot<T>): void {
    s.timer = undefined;
    if (s.items.size === 0) return;
    const at = Date.now();
    if (at - s.dueAt > this.maxLateMs) this.maxLateMs = at - s.dueAt;
    this.runs += s.items.size;
    // Due again one interval after this run started, whatever the checks take.
    this.arm(s, s.intervalMs, at);
    for (const item of s.items) this.run(item, at);
  }
}
