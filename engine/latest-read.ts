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
  private last: { value: T; readAt: string } | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly waitMs: number,
  ) {}

  /** The value read now; or, when that takes longer than `waitMs` and an earlier read succeeded, that one. A failed read rejects. */
  async get(): Promise<{ value: T; readAt: string }> {
    const reading = (this.inFlight ??= this.read().then(
      (value) => {
        this.last = { value, readAt: new Date().toISOString() };
        this.inFlight = undefined;
        return value;
      },
      (e: unknown) => {
        this.inFlight = undefined;
        throw e;
      },
    ));
    const fresh = reading.then(() => this.last!);
    const last = this.last;
    if (!last) return fresh;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<{ value: T; readAt: string }>((resolve) => {
      timer = setTimeout(() => resolve(last), this.waitMs);
    });
    try {
      return await Promise.race([fresh, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
