/**
 * HTTP/1.x message heads and framing: the one place where the proxy decides where a message ends and what it refuses,
 * for requests and responses alike (RFC 9112). Bodies pass byte for byte; this module only has to know their end.
 *
 *   request  : Transfer-Encoding chunked → chunked; else Content-Length N → N bytes; else no body
 *   response : HEAD request, 1xx, 204, 304 → no body; chunked; Content-Length; else until the server closes
 *
 * A head is checked in one pass over its bytes (http-syntax.ts tables): every line ends in CRLF (no bare CR, no bare
 * LF), names are tokens with the colon right after them (no folding, no whitespace before it), values hold no
 * control characters. Framing fields are then settled so that no receiver can split the message differently:
 *
 *   Content-Length         1*DIGIT, once; a repeat or a list is refused; leading zeros are rewritten as the number
 *   Transfer-Encoding      refused on HTTP/1.0; exactly one coding, chunked (any case or OWS, sent on as
 *                          "chunked"); any other list is refused (HAProxy 2.6 refuses them too, both ways)
 *   both                   Content-Length is dropped, only chunked goes on, and both connections close after
 *   Connection             may not name Content-Length, Transfer-Encoding or Host (the proxy would drop them)
 *   Host (requests)        at most one, host[:port]; an absolute-form target becomes origin-form, its authority the
 *                          host (a Host field that disagrees is refused, as HAProxy does; a missing one is added)
 *
 * The lines a proxy forwards come from the head as they arrived, by slicing; `skip` names the few it must not pass on
 * and `added` the fields to send in their place. Refusals are HttpParseError with a code (http-refusals.ts).
 */
import { HttpParseError, type RefusalCode } from './http-refusals.ts';
import { FIELD, TARGET, TOKEN, isValidHost, parseCodings, valueEnd } from './http-syntax.ts';
import { equalsLower, isUnderscoreTwin, owsTrim } from './http-fields.ts';

export { ChunkedTracker } from './chunked.ts';
export { HttpParseError } from './http-refusals.ts';
export { leadingEmptyLines, partialHeadError } from './http-syntax.ts';
export { HOP_BY_HOP, deleteHeader, getHeader, isHopByHopName, isName, isNameIn, serializeHead, STATUS_TEXT } from './http-fields.ts';

export const CRLFCRLF = Buffer.from('\r\n\r\n');

/** How a body is delimited. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;
export type BodyMode = 0 | 1 | 2 | 3;

/**
 * A parsed head. The head stays the one string it arrived as (`raw`, latin1, without its final CRLFCRLF); each header
 * line is three offsets into it (`lines`: name start, colon, line end), so a proxy can forward the lines it keeps as
 * they came, by slicing, without making a string per name and value. `headers` (name, value … in arrival order, value
 * trimmed) is made on first use, for rules and the less common paths.
 */
export class MessageHead {
  readonly raw: string;
  /** Where the first header line starts (raw.length when there is none). */
  readonly headerStart: number;
  /** Three offsets per header line into raw: name start, colon, end of line (before its CRLF). */
  readonly lines: number[] = [];
  /** HTTP/1.<minor>. */
  minor = 1;
  /** -1 when absent. */
  contentLength = -1;
  isChunked = false;
  /** Connection header tokens, lower case. */
  readonly connection: string[] = [];
  /** A request's method and target, origin-form ('' in a response). */
  method = '';
  target = '';
  /** A response's status and reason (0 and '' in a request). */
  status = 0;
  reason = '';
  /** Indices (multiples of 3) of lines not to forward as they came: framing fields replaced or dropped; or null. */
  skip: number[] | null = null;
  /** Fields to send in place of skipped ones (name, value …), or null. */
  added: string[] | null = null;
  /**
   * Content-Length came with Transfer-Encoding (or a 204 announced a body): what was forwarded is unambiguous, but the
   * connection the message came on is not trusted after it (a request's: both; a response's: the server's).
   */
  isAmbiguous = false;
  /** The host a request is for: an absolute target's authority, else the Host field; undefined when neither. */
  host: string | undefined = undefined;
  /** The request target came in absolute form; `target` is its origin form. */
  isAbsoluteForm = false;
  /** Lines (multiples of 3) of the framing fields while parsing; -1 when absent. */
  private clLine = -1;
  private teLine = -1;
  private teCount = 0;
  private hostLine = -1;
  private list: string[] | null = null;

  constructor(raw: string, headerStart: number) {
    this.raw = raw;
    this.headerStart = headerStart;
  }

  /** name, value, name, value … in arrival order, values without surrounding whitespace. */
  get headers(): string[] {
    if (this.list === null) {
      const out: string[] = [];
      const { raw, lines } = this;
      for (let i = 0; i < lines.length; i += 3) out.push(raw.slice(lines[i], lines[i + 1]), owsTrim(raw, lines[i + 1] + 1, lines[i + 2]));
      this.list = out;
    }
    return this.list;
  }

  /** Whether header line `i` (a multiple of 3) has this name; `lowerName` in lower case. */
  isNamed(i: number, lowerName: string): boolean {
    const from = this.lines[i];
    return this.lines[i + 1] - from === lowerName.length && equalsLower(this.raw, from, lowerName);
  }

  /** The value of header line `i` (a multiple of 3), without surrounding whitespace. */
  valueAt(i: number): string {
    return owsTrim(this.raw, this.lines[i + 1] + 1, this.lines[i + 2]);
  }

  /** The first value of a header, or undefined. */
  get(lowerName: string): string | undefined {
    for (let i = 0; i < this.lines.length; i += 3) if (this.isNamed(i, lowerName)) return this.valueAt(i);
    return undefined;
  }

  /** Every value of a header, in order. */
  getAll(lowerName: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.lines.length; i += 3) if (this.isNamed(i, lowerName)) out.push(this.valueAt(i));
    return out;
  }

  /** Whether line `i` is one the proxy must not forward as it came. */
  isSkipped(i: number): boolean {
    return this.skip !== null && this.skip.includes(i);
  }

  /** Replaces line `i` (or, with `name` undefined, drops it). */
  replace(i: number, name?: string, value?: string): void {
    (this.skip ??= []).push(i);
    if (name !== undefined) (this.added ??= []).push(name, value!);
  }

  // ───── parsing (one pass over the bytes) ─────

  /** Header lines from headerStart to the end of raw; `b` holds the same bytes as raw. */
  parseFields(b: Buffer, isResponse: boolean): void {
    const lines = this.lines;
    const n = this.raw.length;
    let from = this.headerStart;
    while (from < n) {
      let i = from;
      let c = 0;
      while (i < n && TOKEN[(c = b[i])] === 1) i++;
      if (c !== 58 || i === from || i === n) throw nameError(b, from, i, n, isResponse);
      const colon = i;
      i = valueEnd(b, i + 1, n);
      c = b[i];
      if (i < n && (c !== 13 || b[i + 1] !== 10)) throw new HttpParseError(c === 13 ? 'H1_BARE_CR' : c === 10 ? 'H1_BARE_LF' : 'H1_CONTROL', isResponse);
      lines.push(from, colon, i);
      const len = colon - from;
      if (len === 14 || len === 17 || len === 10 || len === 4) this.onSpecialField(b, lines.length - 3, len, isResponse);
      from = i + 2;
    }
  }

  /** Content-Length, Transfer-Encoding, Connection and Host (and their "_" twins), by name length. */
  private onSpecialField(b: Buffer, li: number, len: number, isResponse: boolean): void {
    const { raw } = this;
    const from = this.lines[li];
    if (len === 14) {
      if (equalsLower(raw, from, 'content-length')) this.readContentLength(b, li, isResponse);
      else if (isUnderscoreTwin(raw, from, 'content-length')) throw new HttpParseError('H1_FRAMING_NAME', isResponse);
    } else if (len === 17) {
      if (equalsLower(raw, from, 'transfer-encoding')) {
        if (this.teLine === -1) this.teLine = li;
        this.teCount++;
      } else if (isUnderscoreTwin(raw, from, 'transfer-encoding')) throw new HttpParseError('H1_FRAMING_NAME', isResponse);
    } else if (len === 10) {
      if (equalsLower(raw, from, 'connection')) this.readConnection(li);
    } else if (!isResponse && equalsLower(raw, from, 'host')) {
      if (this.hostLine !== -1) throw new HttpParseError('H1_HOST_REPEATED');
      this.hostLine = li;
    }
  }

  /** 1*DIGIT between optional whitespace, read from the bytes (no substring). */
  private readContentLength(b: Buffer, li: number, isResponse: boolean): void {
    let i = this.lines[li + 1] + 1;
    let end = this.lines[li + 2];
    while (i < end && (b[i] === 32 || b[i] === 9)) i++;
    while (end > i && (b[end - 1] === 32 || b[end - 1] === 9)) end--;
    if (this.clLine !== -1) throw new HttpParseError('H1_CONTENT_LENGTH_REPEATED', isResponse);
    if (end === i || end - i > 15) throw new HttpParseError('H1_CONTENT_LENGTH', isResponse);
    let v = 0;
    for (let k = i; k < end; k++) {
      const d = b[k] - 48;
      if (d < 0 || d > 9) throw new HttpParseError(b[k] === 44 ? 'H1_CONTENT_LENGTH_REPEATED' : 'H1_CONTENT_LENGTH', isResponse);
      v = v * 10 + d;
    }
    this.contentLength = v;
    this.clLine = li;
    // Leading zeros are valid, but some servers read them as octal: the number goes on plain.
    if (b[i] === 48 && end - i > 1) this.replace(li, 'Content-Length', String(v));
  }

  private readConnection(li: number): void {
    const value = this.valueAt(li);
    if (value.indexOf(',') === -1) {
      if (value !== '') this.connection.push(value.toLowerCase());
    } else {
      for (const t of value.split(',')) {
        const token = t.trim().toLowerCase();
        if (token) this.connection.push(token);
      }
    }
  }

  /** After the fields: Connection's names, then Transfer-Encoding against Content-Length (see the table above). */
  settleFraming(isResponse: boolean): void {
    for (const t of this.connection) {
      if (t === 'content-length' || t === 'transfer-encoding' || t === 'host') throw new HttpParseError('H1_CONNECTION_FRAMING', isResponse);
    }
    if (this.teCount === 0) return;
    if (this.minor === 0) throw new HttpParseError('H1_TE_HTTP10', isResponse);
    const value = this.teCount === 1 ? this.valueAt(this.teLine) : this.getAll('transfer-encoding').join(',');
    const codings = parseCodings(value, isResponse);
    const chunked = codings.filter((c) => c === 'chunked').length;
    if (chunked > 1 || (chunked === 1 && codings[codings.length - 1] !== 'chunked')) throw new HttpParseError('H1_TE_INVALID', isResponse);
    if (chunked === 0 || codings.length > 1) throw new HttpParseError('H1_TE_UNSUPPORTED', isResponse);
    this.isChunked = true;
    // Sent on as every receiver reads it: "chunked" in lower case, no stray whitespace.
    if (value !== 'chunked') {
      this.replace(this.teLine);
      (this.added ??= []).push('Transfer-Encoding', 'chunked');
    }
    if (this.clLine !== -1) {
      // Both framings (RFC 9112 §6.1): Transfer-Encoding wins, the length goes, and the connection closes after.
      const added = this.added;
      if (added !== null && added[0] === 'Content-Length') added.splice(0, 2); // a leading-zero rewrite (always first)
      this.replace(this.clLine);
      this.contentLength = -1;
      this.isAmbiguous = true;
    }
  }

  /** A request's host (RFC 9112 §3.2): from the absolute target or the one Host field, which must agree. */
  settleHost(b: Buffer): void {
    const li = this.hostLine;
    if (li === -1) {
      if (this.isAbsoluteForm) (this.added ??= []).push('Host', this.host!);
      return;
    }
    let from = this.lines[li + 1] + 1;
    let to = this.lines[li + 2];
    while (from < to && (b[from] === 32 || b[from] === 9)) from++;
    while (to > from && (b[to - 1] === 32 || b[to - 1] === 9)) to--;
    if (!isValidHost(b, from, to)) throw new HttpParseError('H1_HOST_INVALID');
    const value = this.raw.slice(from, to);
    if (this.isAbsoluteForm && value.toLowerCase() !== this.host!.toLowerCase()) throw new HttpParseError('H1_HOST_MISMATCH');
    this.host = value;
  }
}

/**
 * Requests and responses are one class: a subclass per kind cost a derived-constructor call per message, and the
 * two differ only in their first line's fields.
 */
export type RequestHead = MessageHead;
export type ResponseHead = MessageHead;

/** Why the field line at `from` is refused: the name scan stopped at `i` (at byte `b[i]`, or at the end `n`). */
function nameError(b: Buffer, from: number, i: number, n: number, isResponse: boolean): HttpParseError {
  const first = b[from];
  const c = i < n ? b[i] : -1;
  let code: RefusalCode;
  if (first === 32 || first === 9) code = 'H1_OBS_FOLD';
  else if (c === 58 || c === 32 || c === 9) code = 'H1_FIELD_NAME';
  else if (c === -1 || (c === 13 && b[i + 1] === 10)) code = 'H1_NO_COLON';
  else if (c === 13) code = 'H1_BARE_CR';
  else if (c === 10) code = 'H1_BARE_LF';
  else if (c < 32 || c === 127) code = 'H1_CONTROL';
  else code = 'H1_FIELD_NAME';
  return new HttpParseError(code, isResponse);
}

/** Where the start line ends: `v` is just past its last token; it must be followed by CRLF, or be all of the head. */
function lineEnd(b: Buffer, v: number, n: number, isResponse: boolean): number {
  if (v === n) return n;
  if (b[v] === 13 && b[v + 1] === 10) return v + 2;
  const c = b[v];
  throw new HttpParseError(
    c === 10 ? 'H1_BARE_LF' : c === 13 ? 'H1_BARE_CR' : c < 32 || c === 127 ? 'H1_CONTROL' : isResponse ? 'H1_STATUS_LINE' : 'H1_REQUEST_LINE',
    isResponse,
  );
}

/** Parses `buf[0, end)` (the head without its final CRLFCRLF). */
export function parseRequestHead(buf: Buffer, end: number): RequestHead {
  return parseRequestText(buf.toString('latin1', 0, end), end, buf);
}

/**
 * Parses `text[0, end)`, a head read as latin1 (text may go on past it: the body, the next request). `buf`, when
 * given, holds the same bytes from offset 0: the checks read bytes, which is cheaper than reading characters.
 */
export function parseRequestText(text: string, end: number, buf?: Buffer): RequestHead {
  const raw = end === text.length ? text : text.slice(0, end);
  const b = buf ?? Buffer.from(raw, 'latin1');
  // method SP request-target SP HTTP-version (RFC 9112 §3)
  let i = 0;
  while (i < end && TOKEN[b[i]] === 1) i++;
  if (i === 0 || i === end || b[i] !== 32) throw new HttpParseError(b[i] === 10 ? 'H1_BARE_LF' : 'H1_REQUEST_LINE');
  const methodEnd = i;
  const t0 = ++i;
  while (i < end && TARGET[b[i]] === 1) i++;
  if (i === t0) throw new HttpParseError('H1_REQUEST_LINE');
  if (i === end || b[i] !== 32) throw new HttpParseError(i === end || b[i] === 13 ? 'H1_REQUEST_LINE' : b[i] === 10 ? 'H1_BARE_LF' : 'H1_TARGET_CHAR');
  const t1 = i;
  // "HTTP/1.0" or "HTTP/1.1" exactly; another "HTTP/…" is a version not spoken here (505), anything else no version.
  const v = i + 1;
  if (!raw.startsWith('HTTP/', v)) throw new HttpParseError('H1_REQUEST_LINE');
  const minor = b[v + 7] - 48;
  const after = v + 8 < end ? b[v + 8] : 13;
  if (b[v + 5] !== 49 || b[v + 6] !== 46 || (minor !== 0 && minor !== 1) || (after >= 48 && after <= 57)) throw new HttpParseError('H1_VERSION');
  if (after !== 13 && after !== 10) throw new HttpParseError('H1_REQUEST_LINE');
  const head = new MessageHead(raw, lineEnd(b, v + 8, end, false));
  head.method = raw.slice(0, methodEnd);
  head.minor = minor;
  readTarget(head, raw, b, t0, t1);
  head.parseFields(b, false);
  head.settleFraming(false);
  head.settleHost(b);
  return head;
}

/** origin-form, asterisk-form (OPTIONS), or absolute-form made origin-form (RFC 9112 §3.2). CONNECT is refused. */
function readTarget(head: MessageHead, raw: string, b: Buffer, t0: number, t1: number): void {
  const method = head.method;
  if (method === 'CONNECT') throw new HttpParseError('H1_CONNECT');
  if (b[t0] === 47) {
    head.target = raw.slice(t0, t1);
    return;
  }
  if (b[t0] === 42 && t1 - t0 === 1) {
    if (method !== 'OPTIONS') throw new HttpParseError('H1_TARGET');
    head.target = '*';
    return;
  }
  let p = t0;
  const lower = (k: number) => b[k] | 0x20;
  if (lower(p) === 104 && lower(p + 1) === 116 && lower(p + 2) === 116 && lower(p + 3) === 112)
    p += 4; // "http"
  else throw new HttpParseError('H1_TARGET');
  if (lower(p) === 115) p++; // "s"
  if (!raw.startsWith('://', p) || p + 3 > t1) throw new HttpParseError('H1_TARGET');
  p += 3;
  let q = p;
  let isUserinfo = false;
  for (; q < t1 && b[q] !== 47 && b[q] !== 63; q++) isUserinfo ||= b[q] === 64; // up to "/" or "?"; "@"
  if (isUserinfo) throw new HttpParseError('H1_USERINFO');
  if (q === p || !isValidHost(b, p, q)) throw new HttpParseError('H1_TARGET');
  head.host = raw.slice(p, q);
  head.isAbsoluteForm = true;
  head.target = q === t1 ? '/' : b[q] === 63 ? `/${raw.slice(q, t1)}` : raw.slice(q, t1);
}

export function parseResponseHead(buf: Buffer, end: number): ResponseHead {
  return parseResponseText(buf.toString('latin1', 0, end), end, buf);
}

/** `buf`, when given, holds the same bytes as text from offset 0. */
export function parseResponseText(text: string, end: number, buf?: Buffer): ResponseHead {
  const raw = end === text.length ? text : text.slice(0, end);
  const b = buf ?? Buffer.from(raw, 'latin1');
  // HTTP/1.x SP 3DIGIT [ SP reason-phrase ] (RFC 9112 §4)
  const minor = b[7] - 48;
  const d0 = b[9] - 48;
  const d1 = b[10] - 48;
  const d2 = b[11] - 48;
  if (
    end < 12 ||
    !raw.startsWith('HTTP/1.') ||
    (minor !== 0 && minor !== 1) ||
    b[8] !== 32 ||
    !(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)
  ) {
    throw new HttpParseError('H1_STATUS_LINE', true);
  }
  let i = 12;
  if (i < end && b[i] === 32) for (i++; i < end && FIELD[b[i]] === 1; i++);
  const head = new MessageHead(raw, lineEnd(b, i, end, true));
  head.status = d0 * 100 + d1 * 10 + d2;
  head.reason = i > 13 ? raw.slice(13, i) : '';
  head.minor = minor;
  head.parseFields(b, true);
  head.settleFraming(true);
  // A 204 ends at its head (RFC 9110 §15.3.5): a length or coding on it goes, and the connection is not trusted after.
  if (head.status === 204 && (head.isChunked || head.contentLength > 0)) {
    for (let k = 0; k < head.lines.length; k += 3) if (head.isNamed(k, 'content-length') || head.isNamed(k, 'transfer-encoding')) head.replace(k);
    head.added = null;
    head.isAmbiguous = true;
  }
  return head;
}

/** How a request's body is delimited. */
export function requestBody(head: RequestHead): BodyMode {
  return head.isChunked ? BODY_CHUNKED : head.contentLength > 0 ? BODY_LENGTH : BODY_NONE;
}

/** How a response's body is delimited (RFC 9112 §6.3), given the request's method. */
export function responseBody(res: ResponseHead, method: string): BodyMode {
  if (method === 'HEAD' || res.status < 200 || res.status === 204 || res.status === 304) return BODY_NONE;
  if (res.isChunked) return BODY_CHUNKED;
  if (res.contentLength >= 0) return res.contentLength === 0 ? BODY_NONE : BODY_LENGTH;
  return BODY_UNTIL_CLOSE;
}
