/**
 * The layer 7 access log: one JSON line per request, in pino's line shape (level, time, msg), to a file rotated by
 * size with a retained count (pino-roll), with a sample rate. The fields are HAProxy's HTTP log format's, named:
 *
 *   HAProxy            │ here
 *   ───────────────────┼──────────────────────────────────────────────────────────────────────────
 *   client_ip:port     │ client ("10.1.2.3:51514", "[2001:db8::1]:443")
 *   frontend/backend   │ service                 server_name │ server ("-" when none was picked)
 *   Tq/Tw/Tc/Tr/Tt     │ timings.requestMs, queueMs, connectMs, responseMs, totalMs (-1: the step was not reached)
 *   status_code        │ status                  bytes_read  │ bytesOut (to the client); bytesIn (from it)
 *   termination_state  │ termination (two characters, the table below)      {method, path}: the request line
 *
 * Termination state, as HAProxy's: the first character is what ended the exchange, the second the step it was in.
 *
 *   first │ cause                       second │ step
 *   ──────┼────────────────────────     ───────┼───────────────────────────────────────────
 *     -   │ normal end                     R   │ waiting for the client's request
 *     C   │ the client closed              Q   │ queued for a server
 *     S   │ the server closed or refused   C   │ connecting to the server
 *     P   │ the proxy refused (a 4xx/5xx   H   │ waiting for the server's response head
 *         │ of its own, a rule)            D   │ passing the body
 *     c   │ client timeout                 L   │ the proxy sent the last bytes itself
 *     s   │ server timeout                 -   │ finished normally
 *     R   │ a resource limit (max conns)
 *     I   │ an internal error
 *     L   │ answered by the proxy itself (a redirect: HAProxy's "LR")
 *
 * Sampling: a normal exchange (termination "--" and status below 500) is logged with probability `sampleRate`; an
 * abnormal one always is, so a sample rate never hides an error. `random` is injectable (tests).
 */
import pinoRoll from 'pino-roll';

export interface AccessEntry {
  client: string;
  service: string;
  server?: string;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  timings: { requestMs: number; queueMs: number; connectMs: number; responseMs: number; totalMs: number };
  termination: string;
  /** Servers tried before the one that answered (or the last one that failed): HAProxy's retries field. */
  retries: number;
}

export interface AccessLogOptions {
  /** The active file; rotated ones are numbered beside it (access.1.log, access.2.log …). */
  file: string;
  /** Rotate when the active file reaches this ("10m", "512k"). */
  size: string;
  /** Rotated files kept besides the active one (older ones are removed, also from earlier runs). */
  keep: number;
  /** 0 … 1; default 1. record() may be given the rate of the entry's service instead. */
  sampleRate?: number;
  random?: () => number;
}

const MAX_PATH = 512;
const FLUSH_MS = 500;
/**
 * At most this many bytes of lines (ASCII) go to the file in one write. 64 KiB against 16 KiB: a quarter of the
 * writes, and the kernel's share of a line 0.19 -> 0.12 µs (200 MiB written by writeSync in 16 and 64 KiB pieces to a
 * rotated file on this machine's disk). Not more: access-file.ts holds at most PENDING_CAP (as much) while a disk
 * refuses lines.
 */
export const CHUNK_BYTES = 64 * 1024;

/*
 * The line is written by hand, not by pino's logger (the engine's own log is pino's): an access line has one fixed
 * shape and is written once per request, and pino's generic serialiser cost 8 µs a line on the 2-core CI machine
 * against about 1.3 µs for this (what bench l7-http's "access log on/off" figure is about). No redaction: the fields
 * are fixed and none is a secret. Strings are JSON-escaped; a plain one (no quote, backslash or control character)
 * is copied as it is.
 */
/** Printable ASCII but for quote and backslash: a loop, as RegExp.prototype.test's call cost more on these short strings. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}
const NOT_ASCII = /[\u007f-\uffff]/g;
const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/** A JSON string in printable ASCII (other characters as \u escapes), so a line's text is its bytes in latin1. */
const str = (s: string) => (isPlain(s) ? `"${s}"` : JSON.stringify(s).replace(NOT_ASCII, escaped));
const num = (n: number) => (Number.isFinite(n) ? n : -1);
/**
 * The JSON text of a field that repeats from line to line (service, server, method, termination): a lookup costs
 * less than the plain test, which was the largest item of a line after the copy into the chunk. At
 * most KNOWN_MAX are kept; past that the table starts again, so a flood of distinct values costs a test each, as
 * before, and holds no more.
 */
const KNOWN_MAX = 1024;
const known = new Map<string, string>();
function repeated(s: string): string {
  let text = known.get(s);
  if (text === undefined) {
    if (known.size >= KNOWN_MAX) known.clear();
    text = str(s);
    known.set(s, text);
  }
  return text;
}
/** ".000Z" … ".999Z" (the time's milliseconds), and ".001" … ".999" with trailing zeros cut (".1", ".25"). */
const MS_Z = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}Z`);
const FRACTION = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}`.replace(/\.?0+$/, ''));
/**
 * A timing (ms at µs resolution, access.ts rounds them so) as JavaScript writes the number, without its
 * number-to-text conversion: five distinct fractions a line miss V8's number-string cache, and its shortest-digits
 * conversion cost about 0.13 µs each against 0.015 µs for this. Exactly String(x) whenever x is n/1000 for a
 * whole n below 10^15 (the shortest decimal that reads back as n/1000 is n/1000's own digits); anything else is
 * written by String.
 */
function msText(x: number): string | number {
  const n = Math.round(x * 1000);
  if (!(n >= 0 && n < 1e15 && n / 1000 === x)) return num(x);
  const whole = Math.floor(n / 1000);
  return `${whole}${FRACTION[n - whole * 1000]}`;
}
let second = -1;
let secondText = '';
/** ISO 8601 in UTC with milliseconds, as pino's isoTime; the date part is built once a second. */
function isoNow(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    secondText = new Date(s * 1000).toISOString().slice(0, 19);
  }
  return secondText + MS_Z[now - s * 1000];
}

/** The line, as record() writes it (exported for access-log.test.ts). */
export function accessLine(e: AccessEntry): string {
  const t = e.timings;
  const p = e.path.length > MAX_PATH ? `${e.path.slice(0, MAX_PATH)}…` : e.path;
  return `{"level":"info","time":"${isoNow()}","client":${str(e.client)},"service":${repeated(e.service)},"server":${repeated(e.server ?? '-')},"method":${repeated(e.method)},"path":${str(p)},"status":${num(e.status)},"bytesIn":${num(e.bytesIn)},"bytesOut":${num(e.bytesOut)},"timings":{"requestMs":${msText(t.requestMs)},"queueMs":${msText(t.queueMs)},"connectMs":${msText(t.connectMs)},"responseMs":${msText(t.responseMs)},"totalMs":${msText(t.totalMs)}},"termination":${repeated(e.termination)},"retries":${num(e.retries)},"msg":"access"}\n`;
}

function isAbnormal(e: Pick<AccessEntry, 'status' | 'termination'>): boolean {
  return e.termination !== '--' || e.status >= 500;
}

/** Validates the options once (a refusal names the option) and opens the file. */
export async function createAccessLog(opts: AccessLogOptions) {
  const sampleRate = opts.sampleRate ?? 1;
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError(`accessLog.sampleRate: give a number from 0 to 1 (got ${sampleRate})`);
  if (!Number.isInteger(opts.keep) || opts.keep < 0) throw new RangeError(`accessLog.keep: give a whole number of files, 0 or more (got ${opts.keep})`);
  if (!/^\d+[km]$/.test(opts.size)) throw new RangeError(`accessLog.size: give a size such as "10m" or "512k" (got "${opts.size}")`);
  const random = opts.random ?? Math.random;
  // Lines gather here (below) and go to the file up to CHUNK_BYTES at a time, or within FLUSH_MS when traffic is
  // light (the viewer's live tail sees them by then). Not SonicBoom's own minLength buffering: its write() measures
  // the byte length of the string it is appending to, which flattens that growing string on every line, and that cost
  // more than making the line (bench l7-http's "access log on/off"). A worker that dies loses at most that half
  // second of lines; close() writes the rest.
  //
  // The write is synchronous (`sync`), from this thread, as nginx writes its access log (a blocking write() of its
  // buffer= chunk). A 64 KiB chunk into the page cache is one syscall of some 25 µs of system time here; an asynchronous fs.write
  // hands the chunk to the libuv threadpool, wakes one of its threads, and wakes this loop again for the callback,
  // which on this 2-core machine cost about twice the write itself in CPU and four times the context switches. The
  // price: a disk that stalls stalls this worker's loop for that one write.
  const stream = await pinoRoll({
    file: opts.file,
    size: opts.size,
    mkdir: true,
    mode: 0o600,
    // pino-roll keeps `count` files counting the active one when that is open as it cleans up, which with synchronous
    // opens it always is: `keep` rotated files besides it are keep + 1 (and keep 0, the active file alone, is allowed).
    limit: { count: opts.keep + 1, removeOtherLogFiles: true },
    // Buffers, not strings (flush below); pino-roll passes SonicBoom's options on, its type names only its own.
    ...({ contentMode: 'buffer', sync: true } as object),
  });
  // Lines are joined as they are made (`pending += line`: V8 links the strings, it copies nothing yet), and up to
  // CHUNK_BYTES of them are copied into one buffer (they are ASCII: str above) that goes to the file as one write.
  // Copying each line into the buffer as it was made (Buffer#write) cost a call into C++ and a flattened copy of the
  // line per line: a record took 12.2k instructions under callgrind (the bundled logging path after a warm-up of
  // 30,000 records, 10,000 more counted) against 11.1-11.4k this way. Writing each line's bytes straight into the
  // chunk from JavaScript (fixed text kept as bytes, numbers digit by digit, one typed-array store a byte, no string)
  // was dearer too: 2.44 against 1.61 µs a record (record() alone in a loop of 1,000,000 after 200,000, median wall
  // time of four runs each, alternating, under the lock; ec6e0b4, reverted). The buffer handed to the stream is the
  // stream's from then on (it may hold it while a rotation reopens the file).
  let pending = '';
  const flush = () => {
    if (pending.length === 0) return;
    const out = Buffer.allocUnsafeSlow(pending.length);
    out.write(pending, 0, 'latin1');
    pending = '';
    stream.write(out as unknown as string);
  };
  // A line that would take the chunk past CHUNK_BYTES sends it first (a line longer than a chunk goes alone).
  const append = (line: string) => {
    if (pending.length + line.length > CHUNK_BYTES) flush();
    pending += line;
  };
  const timer = setInterval(flush, FLUSH_MS);
  timer.unref();
  let written = 0;
  let skipped = 0;
  return {
    stream,
    /** Logs the exchange if it is abnormal or drawn by the sample rate; returns whether it was logged. */
    record(e: AccessEntry, rate = sampleRate): boolean {
      if (!isAbnormal(e) && !(rate >= 1 || random() < rate)) {
        skipped++;
        return false;
      }
      written++;
      append(accessLine(e));
      return true;
    },
    /** Counts an entry the caller's own sampling left out (engine/l7/access.ts decides before making one). */
    skip(): void {
      skipped++;
    },
    /** Whether a normal entry at this rate is kept (the injected random source). */
    draw: (rate: number): boolean => rate >= 1 || random() < rate,
    counts: () => ({ written, skipped }),
    /** Flushes and closes the file. */
    close(): Promise<void> {
      clearInterval(timer);
      flush();
      return new Promise((resolve) => {
        stream.once('close', () => resolve());
        stream.end();
      });
    },
  };
}

export type AccessLog = Awaited<ReturnType<typeof createAccessLog>>;
