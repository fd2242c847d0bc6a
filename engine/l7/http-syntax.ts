/**
 * Byte classes and the small grammars of HTTP/1.1 heads (RFC 9110 §5, RFC 9112 §3, RFC 3986), as tables indexed by
 * byte so the codec checks a head in one pass over its bytes, without regular expressions or substrings.
 */
import { HttpParseError, type RefusalCode } from './http-refusals.ts';

function table(chars: string, ranges: [number, number][] = []): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) t[c] = 1;
  return t;
}

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** tchar (RFC 9110 §5.6.2): field names, methods, transfer codings. */
export const TOKEN = table(`!#$%&'*+-.^_\`|~${ALNUM}`);

/** field-vchar, SP, HTAB and obs-text (RFC 9110 §5.5): what a field value or reason phrase may hold. */
export const FIELD = table('\t', [
  [0x20, 0x7e],
  [0x80, 0xff],
]);

/**
 * What a request target may hold: visible ASCII but "#" (RFC 3986 §2, RFC 9112 §3.2: no fragment). Like HAProxy,
 * the characters RFC 3986 reserves but browsers send raw ("|", "[", "{" …) pass; controls, space, DEL, bytes above
 * 0x7E and "#" do not.
 */
export const TARGET = table('', [
  [0x21, 0x22],
  [0x24, 0x7e],
]);

let viewed: ArrayBufferLike | null = null;
let view = new DataView(new ArrayBuffer(8));

/**
 * The first index in b[i, n) of a byte a field value may not hold — a control character other than HTAB, or DEL —
 * or n. A 32-bit word x has such a byte exactly when ((x - 0x20202020) & ~x) (a byte below 0x20) or the
 * same test on x ^ 0x7f7f7f7f (a DEL) has a high bit set; bytes of 0x80 and above (obs-text) never set one. Eight
 * bytes a step, 1.4–2x a byte loop on this machine (values are most of a head's bytes). The DataView over the buffer's
 * memory is kept while chunks come from the same memory (reader.ts reads every socket into one buffer).
 */
export function valueEnd(b: Buffer, i: number, n: number): number {
  if (b.buffer !== viewed) {
    viewed = b.buffer;
    view = new DataView(b.buffer as ArrayBuffer);
  }
  const base = b.byteOffset;
  while (i + 8 <= n) {
    const x = view.getUint32(base + i, true);
    const z = view.getUint32(base + i + 4, true);
    const y = x ^ 0x7f7f7f7f;
    const w = z ^ 0x7f7f7f7f;
    if ((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y) | ((z - 0x20202020) & ~z) | ((w - 0x01010101) & ~w)) & 0x80808080) break;
    i += 8;
  }
  if (i + 4 <= n) {
    const x = view.getUint32(base + i, true);
    const y = x ^ 0x7f7f7f7f;
    if (((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) === 0) i += 4;
  }
  for (; i < n; i++) {
    const c = b[i];
    if (c < 32 ? c !== 9 : c === 127) return i;
  }
  return n;
}

/** reg-name (RFC 3986 §3.2.2): unreserved, pct-encoded and sub-delims, without "," (a Host list is not one host). */
const REG_NAME = table(`-._~%!$&'()*+;=${ALNUM}`);
const IP_LITERAL = table(':.vV0123456789ABCDEFabcdef');

/** Whether b[from, to) is host[:port] (RFC 9110 §7.2): a reg-name or IPv4 address, or an IP literal in brackets. Empty is valid. */
export function isValidHost(b: Buffer, from: number, to: number): boolean {
  let i = from;
  if (i < to && b[i] === 91) {
    for (i++; i < to && b[i] !== 93; i++) if (IP_LITERAL[b[i]] === 0) return false;
    if (i === to || i - from < 2) return false;
    i++;
  } else {
    while (i < to && REG_NAME[b[i]] === 1) i++;
  }
  if (i === to) return true;
  if (b[i] !== 58 || to - i > 6) return false;
  for (i++; i < to; i++) if (b[i] < 48 || b[i] > 57) return false;
  return true;
}

/**
 * A Transfer-Encoding value as its codings, lower case (RFC 9112 §6.1). Throws H1_TE_INVALID for an empty list, an
 * empty element or a coding that is not a token: HAProxy refuses such requests too, and a receiver that skips empty
 * elements and one that does not would read different codings. Parameters (";q=…") are not codings' business here.
 */
export function parseCodings(value: string, isResponse: boolean): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const c = part.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
    const semi = c.indexOf(';');
    const name = semi === -1 ? c : c.slice(0, semi).replace(/[ \t]+$/, '');
    let isToken = name.length > 0;
    for (let i = 0; i < name.length && isToken; i++) isToken = name.charCodeAt(i) < 128 && TOKEN[name.charCodeAt(i)] === 1;
    if (!isToken) throw new HttpParseError('H1_TE_INVALID', isResponse);
    out.push(name);
  }
  return out;
}

/**
 * Where a head that has not ended yet (no CRLFCRLF in `buf`) already breaks the rules: a bare LF, so that waiting
 * for more would only end in the head timeout (RFC 9112 §2.2). Returns the refusal code, or undefined.
 */
export function partialHeadError(buf: Buffer): RefusalCode | undefined {
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return 'H1_BARE_LF';
  return undefined;
}

/** Bytes of empty lines (CRLF) before a request line, which a server ignores (RFC 9112 §2.2). */
export function leadingEmptyLines(buf: Buffer): number {
  let i = 0;
  while (i + 1 < buf.length && buf[i] === 13 && buf[i + 1] === 10) i += 2;
  return i;
}
