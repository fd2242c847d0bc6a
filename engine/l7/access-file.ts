/**
 * A worker's access log file (engine/log/access-log.ts) made to outlive a full disk (issue 15): a failed write
 * neither throws into the exchange that ended nor holds more than PENDING_CAP bytes, the failure is reported at most
 * once a minute, and the lines go to the file again once it takes them.
 *
 * What sonic-boom 4.2 (in sync mode, under pino-roll 4) does on a write that fails (ENOSPC, EIO …), and what is done
 * about it here:
 *
 *   sonic-boom                                              here
 *   ──────────────────────────────────────────────────────  ─────────────────────────────────────────────────────
 *   emits 'error'; with no listener the emit throws out of  a listener: the first error of an outage is reported
 *   write(), out of record(), into the exchange's end       at once, the last one again every REPORT_MS after
 *   keeps the failed chunk (_writingBuf, counted in _len)   a chunk offered while bytes wait and that would take
 *   and queues every later chunk (_bufs), without limit     them over PENDING_CAP is dropped, its lines counted
 *   tries the held chunk again only at the next write()     every RETRY_MS the file is reopened, which writes
 *                                                           what is held (fileOpened) — see retry() for why reopen
 *   end() waits for the held chunk forever                  close() destroys the stream while bytes wait; their
 *                                                           lines are counted dropped
 *
 * Not sonic-boom's maxLength: past it writes are dropped for good, with no retry. Not flushSync(): it loops forever
 * on ENOSPC. The retry timer is this file's, not access-log.ts's flush timer (that one is only for its own buffer,
 * and it does nothing while no lines come), and it runs only while an outage lasts.
 *
 * Counts: every entry offered is exactly one of written (in the file, or waiting for it), skipped (sampling) or
 * dropped (lost to the failure). Lines are ASCII JSON with their newlines escaped (access-log.ts), so the lines in a
 * dropped chunk are its '\n' bytes; a line cut by a partial write counts as dropped.
 */
import type { SonicBoom } from 'sonic-boom';
import { createAccessLog, type AccessLogOptions } from '../log/access-log.ts';

/** Bytes that may wait for the disk (held chunk and queue) before chunks are dropped: one of access-log.ts's chunks
 * (CHUNK_BYTES, as much), about 230 lines. */
export const PENDING_CAP = 64 * 1024;
/** The held chunk is tried again this often while an outage lasts (access-log.ts flushes as often). */
export const RETRY_MS = 500;
/** An outage is reported when it begins and then at most this often. */
export const REPORT_MS = 60_000;

/** What is used of sonic-boom's own state (4.2.1, pinned exactly in package.json and checked by access.test.ts; contentMode
 * 'buffer'): nothing else is written to. */
interface Held {
  /** Bytes not yet written: the held chunk and the queue. */
  _len: number;
  _writing: boolean;
  _writingBuf: Buffer;
  _bufs: Buffer[][];
  destroyed: boolean;
  file: string | null;
}

export interface AccessFileOptions extends AccessLogOptions {
  /** The failure, once when it begins and then at most once every REPORT_MS (worker.ts: the engine log). */
  onError?: (msg: string) => void;
  /** The file takes lines again after a failure; says how many were dropped meanwhile. */
  onResume?: (msg: string) => void;
}

const NEWLINE = 0x0a;
function linesIn(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(NEWLINE); i !== -1; i = b.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/** Opens the log as createAccessLog does (its refusals too), with the failure handling above. */
export async function openAccessLog(opts: AccessFileOptions) {
  const log = await createAccessLog(opts);
  const stream = log.stream as SonicBoom & Held;
  const onError = opts.onError ?? (() => undefined);
  const onResume = opts.onResume ?? (() => undefined);
  let dropped = 0;
  /** Set while an outage lasts (from its first error until nothing waits). */
  let retryTimer: NodeJS.Timeout | null = null;
  let ticksSinceReport = 0;
  let lastError: Error | null = null;
  let droppedBefore = 0;
  let isClosing = false;

  const heldLines = () => linesIn(stream._writingBuf) + stream._bufs.reduce((n, bufs) => bufs.reduce((m, b) => m + linesIn(b), n), 0);
  const describe = (err: Error) => `access log ${stream.file}: ${err.message}`;
  const report = () => {
    if (lastError === null) return;
    onError(
      `${describe(lastError)}; lines wait and are tried again every ${RETRY_MS} ms, beyond ${PENDING_CAP / 1024} KiB they are dropped (${dropped - droppedBefore} so far)`,
    );
  };

  // access-log.ts hands every chunk (up to 64 KiB of lines) to stream.write, looked up on the stream at each call; the
  // cap is applied there, so record() itself costs nothing more and sampling is left as it is.
  const write = stream.write.bind(stream);
  stream.write = ((data: Buffer) => {
    if (stream.destroyed || (stream._len > 0 && stream._len + data.length > PENDING_CAP)) {
      dropped += linesIn(data);
      return false;
    }
    return write(data as unknown as string);
  }) as unknown as SonicBoom['write'];

  /*
   * Tries the held chunk again by reopening the file rather than writing to the same descriptor: space an operator
   * frees by deleting the log comes back only when its descriptor is closed, and a file replaced meanwhile (the
   * test's /dev/full link) is only reached by opening it again. sonic-boom's fileOpened writes what is held.
   *
   * reopen() registers once('ready') to close the descriptor it replaces, and a reopen whose open fails (here, or
   * pino-roll's rotation to a new file on a full disk) never emits 'ready', so its listener stays, holding a
   * descriptor number it will close at the next successful open — by then perhaps another file's or a socket's. In
   * sync mode 'ready' follows a successful open on the next tick, so a 'ready' listener still there when this timer
   * runs is such a leftover, for the descriptor still in use; the reopen below takes over closing it, and the one a
   * failed reopen adds is removed at once.
   */
  const retry = () => {
    if (stream.destroyed || stream._writing) return;
    stream.removeAllListeners('ready');
    try {
      stream.reopen();
    } catch {
      // The open failed: its error reaches the listener below on the next tick.
      stream.removeAllListeners('ready');
    }
  };
  const tick = () => {
    if (stream._len > 0) retry();
    if (stream._len === 0) {
      clearInterval(retryTimer!);
      retryTimer = null;
      lastError = null;
      onResume(`access log ${stream.file}: writing again; ${dropped - droppedBefore} lines were dropped meanwhile`);
      return;
    }
    if (++ticksSinceReport * RETRY_MS >= REPORT_MS) {
      ticksSinceReport = 0;
      report();
    }
  };

  stream.on('error', (err: Error) => {
    lastError = err;
    if (isClosing || retryTimer !== null) return;
    droppedBefore = dropped;
    ticksSinceReport = 0;
    retryTimer = setInterval(tick, RETRY_MS);
    retryTimer.unref();
    report();
  });

  let closed: Promise<void> | null = null;
  return {
    ...log,
    counts: () => {
      const c = log.counts();
      return { written: c.written - dropped, skipped: c.skipped, dropped };
    },
    /** Bytes waiting for the disk (0 unless a write failed); at most PENDING_CAP, or one chunk. */
    heldBytes: (): number => stream._len,
    /**
     * Writes what is buffered and closes the file. While the disk still refuses them, the waiting lines are
     * counted dropped and the stream destroyed: end() alone would wait for them forever.
     */
    close(): Promise<void> {
      closed ??= (() => {
        isClosing = true;
        if (retryTimer !== null) clearInterval(retryTimer);
        retryTimer = null;
        const ended = log.close();
        if (stream._len > 0 && !stream.destroyed) {
          dropped += heldLines();
          stream.destroy();
        }
        return ended;
      })();
      return closed;
    },
  };
}

export type AccessFile = Awaited<ReturnType<typeof openAccessLog>>;
