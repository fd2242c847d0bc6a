/**
 * A value a status reads from the kernel (IPVS counters, the sync daemons, the data planes' capabilities), read
 * one at a time and waited for at most `waitMs` once it has been read before.
 *
 * Why: IPVS answers one generic netlink call at a time for the whole machine (l4/ipvs-process.ts), and starting or
 * stopping a sync daemon has held that for seconds on the test kernel. A status asked meanwhile would wait that long
 * for its counters; the console's status page, the stats on the event stream and an operator's `fulcrumctl status`
 * would all hang at the moment they matter most, a takeover. Instead, a status waits up to `waitMs` and then answers
 * with the value read last, saying when it was read (`readAt`). Callers asking while a read is under way share it,
 * so a slow kernel never gets a queue of reads.
 */
export class LatestRead<T> {
  private inFlight: Promise<T> | undefined;
  private last: { value: T; readAt: string; at: number; generation: number } | undefined;
  private generation = 0;

  /**
   * `maxAgeMs`: a value read that recently is given without asking the kernel again (a console page and the event
   * stream's stats both ask for the status), until invalidate() says the kernel has changed.
   */
  constructor(
    private readonly read: () => Promise<T>,
    private readonly waitMs: number,
    private readonly maxAgeMs = 0,
  ) {}

  /** The kernel has changed (an apply, a sync daemon started): the next get() reads, and waits for a read begun since. */
  invalidate(): void {
    this.generation++;
    this.inFlight = undefined;
  }

  /** The value read now; or, when that takes longer than `waitMs` and an earlier read succeeded, that one. A failed read rejects. */
  async get(): Promise<{ value: T; readAt: string }> {
    const last = this.last;
    if (last && last.generation === this.generation && Date.now() - last.at < this.maxAgeMs) return { value: last.value, readAt: last.readAt };
    const generation = this.generation;
    let reading = this.inFlight;
    if (!reading) {
      const p: Promise<T> = this.read().then(
        (value) => {
          const at = Date.now();
          this.last = { value, readAt: new Date(at).toISOString(), at, generation };
          if (this.inFlight === p) this.inFlight = undefined;
          return value;
        },
        (e: unknown) => {
          if (this.inFlight === p) this.inFlight = undefined;
          throw e;
        },
      );
      reading = this.inFlight = p;
    }
    const fresh = reading.then(() => ({ value: this.last!.value, readAt: this.last!.readAt }));
    if (!last) return fresh;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<{ value: T; readAt: string }>((resolve) => {
      timer = setTimeout(() => resolve({ value: last.value, readAt: last.readAt }), this.waitMs);
    });
    try {
      return await Promise.race([fresh, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
