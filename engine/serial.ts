/**
 * One at a time, in the order asked: the engine's applies, the HA block's applies and the sync daemon's
 * reconciliations each run through one of these, so two never interleave. A failed task does not stop the ones
 * queued after it; its caller gets the rejection.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles when every task queued so far has finished, failed ones included. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
