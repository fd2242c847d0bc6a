/**
 * The access line's bytes written straight into the chunk that goes to the file (access-log.ts), the same bytes as
 * accessLine(e) makes as a string (access-log.test.ts compares them, odd strings, numbers and times included).
 *
 * Why not the string: a line made by a template literal is a tree of some 35 joined strings, and the chunk of lines
 * joined again; the copy of that tree into the buffer (V8's String::WriteToFlat, a step per piece) and the joins
 * cost about 1.7 µs a line on the 2-core CI machine (perf, a worker at wrk's load), over half of what the access log
 * added to a request (bench l7-http "access log on/off"). Here every byte is one store from optimised JavaScript: the
 * fixed text and the fields that repeat (service, server, method, termination, each with its key) are kept as bytes,
 * numbers are written digit by digit, and a plain string's characters are its bytes. Building the line with
 * Buffer#write per field instead was dearer (a call into C++ a field); no such call is made here.
 *
 * lineRoom(e) bounds what encodeLine writes (a character escapes to at most 6 bytes), so the caller can make room
 * first and encodeLine checks nothing.
 */
import type { AccessEntry } from './access-log.ts';

/** The longest path written; a longer one is cut there and marked '…'. */
export const MAX_PATH = 512;

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
export const jsonString = (s: string) => (isPlain(s) ? `"${s}"` : JSON.stringify(s).replace(NOT_ASCII, escaped));

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = ascii('{"level":"info","time":"');
const CLIENT = ascii('","client":');
const PATH = ascii(',"path":');
const STATUS = ascii(',"status":');
const BYTES_IN = ascii(',"bytesIn":');
const BYTES_OUT = ascii(',"bytesOut":');
const REQUEST_MS = ascii(',"timings":{"requestMs":');
const QUEUE_MS = ascii(',"queueMs":');
const CONNECT_MS = ascii(',"connectMs":');
const RESPONSE_MS = ascii(',"responseMs":');
const TOTAL_MS = ascii(',"totalMs":');
const RETRIES = ascii(',"retries":');
const TAIL = ascii(',"msg":"access"}\n');
/** The fixed text's bytes plus nine numbers of at most 24 characters each ("-3.0000000000000004e-301"). */
const FIXED_ROOM = 512;

function copy(b: Uint8Array, at: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) b[at + i] = src[i];
  return at + src.length;
}
/** An ASCII string's characters as bytes (String() of a number, an escaped JSON string). */
function copyAscii(b: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
  return at + s.length;
}

/** A JSON string: a plain one (printable ASCII, no quote or backslash) byte for byte, any other as jsonString makes it. */
function writeString(b: Uint8Array, at: number, s: string): number {
  b[at] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return copyAscii(b, at, jsonString(s));
    b[at + 1 + i] = c;
  }
  b[at + 1 + s.length] = 0x22;
  return at + s.length + 2;
}

/** A whole number 0 ≤ n < 10^15, in decimal. */
function writeWhole(b: Uint8Array, at: number, n: number): number {
  let end = at + 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) end++;
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    b[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

/** A number as accessLine writes it (num: not finite → -1), without making its text when it is whole. */
function writeNumber(b: Uint8Array, at: number, n: number): number {
  if (n >= 0 && n < 1e15 && Math.floor(n) === n) return writeWhole(b, at, n);
  return copyAscii(b, at, String(Number.isFinite(n) ? n : -1));
}

/** A timing as accessLine's msText: n/1000 for a whole n as its digits and up to three decimals, trailing zeros cut. */
function writeMs(b: Uint8Array, at: number, x: number): number {
  const n = Math.round(x * 1000);
  if (!(n >= 0 && n < 1e15 && n / 1000 === x)) return writeNumber(b, at, x);
  const whole = Math.floor(n / 1000);
  at = writeWhole(b, at, whole);
  const f = n - whole * 1000;
  if (f === 0) return at;
  const d1 = Math.floor(f / 100);
  const d2 = Math.floor(f / 10) - d1 * 10;
  const d3 = f % 10;
  b[at++] = 0x2e;
  b[at++] = 0x30 + d1;
  if (d2 === 0 && d3 === 0) return at;
  b[at++] = 0x30 + d2;
  if (d3 !== 0) b[at++] = 0x30 + d3;
  return at;
}

let second = -1;
let secondBytes: Uint8Array = new Uint8Array(0);
/** The time as accessLine's isoNow (UTC, milliseconds); the date part made once a second. */
function writeTime(b: Uint8Array, at: number): number {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    secondBytes = ascii(new Date(s * 1000).toISOString().slice(0, 19));
  }
  at = copy(b, at, secondBytes);
  const ms = now - s * 1000;
  const d1 = Math.floor(ms / 100);
  const d2 = Math.floor(ms / 10) - d1 * 10;
  b[at] = 0x2e;
  b[at + 1] = 0x30 + d1;
  b[at + 2] = 0x30 + d2;
  b[at + 3] = 0x30 + (ms % 10);
  b[at + 4] = 0x5a;
  return at + 5;
}

/**
 * A field that repeats from line to line, as the bytes of its key and JSON text (`,"service":"web"`). The last value
 * is kept beside the table, as a field mostly repeats the value of the line before; at most KNOWN_MAX are kept, past
 * that the table starts again (as access-log.ts's).
 */
const KNOWN_MAX = 1024;
class Repeated {
  private readonly known = new Map<string, Uint8Array>();
  private last: string | null = null;
  private lastBytes: Uint8Array = new Uint8Array(0);
  constructor(private readonly key: string) {}
  bytes(s: string): Uint8Array {
    if (s === this.last) return this.lastBytes;
    let bytes = this.known.get(s);
    if (bytes === undefined) {
      if (this.known.size >= KNOWN_MAX) this.known.clear();
      bytes = ascii(`${this.key}${jsonString(s)}`);
      this.known.set(s, bytes);
    }
    this.last = s;
    this.lastBytes = bytes;
    return bytes;
  }
}
const service = new Repeated(',"service":');
const server = new Repeated(',"server":');
const method = new Repeated(',"method":');
const termination = new Repeated('},"termination":');

/** The line's path: cut at MAX_PATH as accessLine cuts it. */
const cut = (path: string) => (path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path);

/** Bytes encodeLine(e) writes at most. */
export function lineRoom(e: AccessEntry): number {
  const strings =
    e.client.length + Math.min(e.path.length, MAX_PATH + 1) + e.service.length + (e.server ?? '-').length + e.method.length + e.termination.length;
  return FIXED_ROOM + 6 * strings;
}

/** Writes accessLine(e) at `at` in `b`, which has lineRoom(e) bytes there; returns where the line ends. */
export function encodeLine(b: Uint8Array, at: number, e: AccessEntry): number {
  const t = e.timings;
  at = copy(b, at, HEAD);
  at = writeTime(b, at);
  at = copy(b, at, CLIENT);
  at = writeString(b, at, e.client);
  at = copy(b, at, service.bytes(e.service));
  at = copy(b, at, server.bytes(e.server ?? '-'));
  at = copy(b, at, method.bytes(e.method));
  at = copy(b, at, PATH);
  at = writeString(b, at, cut(e.path));
  at = copy(b, at, STATUS);
  at = writeNumber(b, at, e.status);
  at = copy(b, at, BYTES_IN);
  at = writeNumber(b, at, e.bytesIn);
  at = copy(b, at, BYTES_OUT);
  at = writeNumber(b, at, e.bytesOut);
  at = copy(b, at, REQUEST_MS);
  at = writeMs(b, at, t.requestMs);
  at = copy(b, at, QUEUE_MS);
  at = writeMs(b, at, t.queueMs);
  at = copy(b, at, CONNECT_MS);
  at = writeMs(b, at, t.connectMs);
  at = copy(b, at, RESPONSE_MS);
  at = writeMs(b, at, t.responseMs);
  at = copy(b, at, TOTAL_MS);
  at = writeMs(b, at, t.totalMs);
  at = copy(b, at, termination.bytes(e.termination));
  at = copy(b, at, RETRIES);
  at = writeNumber(b, at, e.retries);
  return copy(b, at, TAIL);
}
