/**
 * HTTP/1.x message heads and body framing, as much as a proxy needs and no more.
 *
 * The proxy forwards bodies byte for byte; it only has to know where a message ends. So this module parses heads into
 * a flat header list (order and case kept, as HAProxy does) and tracks framing:
 *
 *   request  : Transfer-Encoding chunked → chunked; else Content-Length N → N bytes; else no body
 *   response : HEAD request, 1xx, 204, 304 → no body; chunked; Content-Length; else until the server closes
 *
 * Refused (the caller answers 400): obsolete line folding, bad header names, differing Content-Length values, a
 * transfer coding other than a final "chunked" on a request. With both Transfer-Encoding and Content-Length the
 * length is dropped (RFC 9112 §6.3), which closes the request-smuggling door.
 */

export const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Headers a proxy must not forward (RFC 9110 §7.6.1), lower case. Transfer-Encoding is kept: bodies pass verbatim. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

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
  /** A request's method and target ('' in a response). */
  method = '';
  target = '';
  /** A response's status and reason (0 and '' in a request). */
  status = 0;
  reason = '';
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
    for (let i = 0; i < this.lines.length; i += 3) if (this.isNamed(i, lowerName)) return owsTrim(this.raw, this.lines[i + 1] + 1, this.lines[i + 2]);
    return undefined;
  }

  /** Every value of a header, in order. */
  getAll(lowerName: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.lines.length; i += 3) if (this.isNamed(i, lowerName)) out.push(owsTrim(this.raw, this.lines[i + 1] + 1, this.lines[i + 2]));
    return out;
  }
}

/**
 * Requests and responses are one class: a subclass per kind cost a derived-constructor call per message, and the
 * two differ only in their first line's fields.
 */
export type RequestHead = MessageHead;
export type ResponseHead = MessageHead;

export class HttpParseError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

/** 1 for the characters of an RFC 9110 token (header names, methods). */
const TOKEN_CHARS = (() => {
  const t = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") t[c.charCodeAt(0)] = 1;
  return t;
})();

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * Compares s[from, from + lower.length) with a lower-case name of letters, digits and '-', ignoring case. Only for
 * ranges already known to be tokens: there, `| 0x20` lower-cases letters and leaves '-' and digits as they are.
 */
function equalsLower(s: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((s.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** s[from, to) without optional whitespace around it (space and tab only). */
function owsTrim(s: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Why the header line at `from` is refused. */
function lineError(raw: string, from: number): HttpParseError {
  let eol = raw.indexOf('\r\n', from);
  if (eol === -1) eol = raw.length;
  const colon = raw.indexOf(':', from);
  const c0 = raw.charCodeAt(from);
  const isFolded = eol > from && (c0 === 32 || c0 === 9);
  if (colon === -1 || colon >= eol || colon === from) {
    return new HttpParseError(isFolded ? 'Obsolete header line folding is not accepted.' : 'A header line has no name.');
  }
  return new HttpParseError(isFolded ? 'Obsolete header line folding is not accepted.' : 'A header name has characters outside the token set.');
}

/** HOP_BY_HOP by name length, so a name in a head's text can be checked without making a string of it. */
const HOP_BY_LENGTH: string[][] = (() => {
  const t: string[][] = [];
  for (const n of HOP_BY_HOP) (t[n.length] ??= []).push(n);
  return t;
})();

/** Whether the header name raw[from, to) (already checked to be a token) is hop-by-hop. */
export function isHopByHopName(raw: string, from: number, to: number): boolean {
  const names = HOP_BY_LENGTH[to - from];
  if (names === undefined) return false;
  for (let i = 0; i < names.length; i++) if (equalsLower(raw, from, names[i])) return true;
  return false;
}

/** Whether the header name raw[from, to) (a token) is `lower`, ignoring case. */
export function isName(raw: string, from: number, to: number, lower: string): boolean {
  return to - from === lower.length && equalsLower(raw, from, lower);
}

/** Whether the header name raw[from, to) (a token) is one of `lowerNames` (Connection tokens …), ignoring case. */
export function isNameIn(raw: string, from: number, to: number, lowerNames: readonly string[]): boolean {
  for (let i = 0; i < lowerNames.length; i++) if (isName(raw, from, to, lowerNames[i])) return true;
  return false;
}

// Hand-written scanning rather than regular expressions or split(): this runs for every request and every response.
function parseHeaderLines(head: MessageHead, isRequest: boolean): void {
  const { raw, lines } = head;
  const n = raw.length;
  let te: string | undefined;
  let from = head.headerStart;
  while (from < n) {
    // The name is token characters up to the colon: one scan finds and checks it.
    let colon = from;
    let c = 0;
    while (colon < n) {
      c = raw.charCodeAt(colon);
      if (c > 127 || TOKEN_CHARS[c] === 0) break;
      colon++;
    }
    if (c !== 58 || colon === from || colon === n) throw lineError(raw, from);
    let eol = raw.indexOf('\r\n', colon);
    if (eol === -1) eol = n;
    lines.push(from, colon, eol);
    const len = colon - from;
    if (len === 14 && equalsLower(raw, from, 'content-length')) {
      const value = owsTrim(raw, colon + 1, eol);
      if (!isDigits(value)) throw new HttpParseError('Content-Length is not a number.');
      const v = Number(value);
      if (head.contentLength !== -1 && head.contentLength !== v) throw new HttpParseError('Content-Length is given twice with different values.');
      head.contentLength = v;
    } else if (len === 17 && equalsLower(raw, from, 'transfer-encoding')) {
      const value = owsTrim(raw, colon + 1, eol);
      te = te === undefined ? value : `${te}, ${value}`;
    } else if (len === 10 && equalsLower(raw, from, 'connection')) {
      const value = owsTrim(raw, colon + 1, eol);
      if (value.indexOf(',') === -1) {
        if (value !== '') head.connection.push(value.toLowerCase());
      } else for (const t of value.split(',')) {
        const token = t.trim().toLowerCase();
        if (token) head.connection.push(token);
      }
    }
    from = eol + 2;
  }
  if (te !== undefined) {
    const codings = te.toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
    head.isChunked = codings[codings.length - 1] === 'chunked';
    if (isRequest && (!head.isChunked || codings.length !== 1)) throw new HttpParseError('Only the chunked transfer coding is accepted on requests.', 501);
    head.contentLength = -1;
  }
}

/** Parses `buf[0, end)` (the head without its final CRLFCRLF). */
export function parseRequestHead(buf: Buffer, end: number): RequestHead {
  return parseRequestText(buf.toString('latin1', 0, end), end);
}

/** Parses `text[0, end)`, a head read as latin1 (text may go on past it: the body, the next request). */
export function parseRequestText(text: string, end: number): RequestHead {
  const raw = end === text.length ? text : text.slice(0, end);
  let eol = raw.indexOf('\r\n');
  if (eol === -1) eol = raw.length;
  const sp1 = raw.indexOf(' ');
  const sp2 = raw.lastIndexOf(' ', eol - 1);
  if (sp1 <= 0 || sp1 >= eol || sp2 === sp1) throw new HttpParseError('The request line is not "METHOD target HTTP/1.x".');
  const head = new MessageHead(raw, eol === raw.length ? eol : eol + 2);
  const method = raw.slice(0, sp1);
  const target = raw.slice(sp1 + 1, sp2);
  if (!isToken(raw, 0, sp1) || target.length === 0 || target.includes(' ')) throw new HttpParseError('The request line is not "METHOD target HTTP/1.x".');
  if (eol - sp2 !== 9 || !raw.startsWith('HTTP/1.', sp2 + 1) || (raw.charCodeAt(eol - 1) !== 49 && raw.charCodeAt(eol - 1) !== 48)) {
    throw new HttpParseError('Only HTTP/1.0 and HTTP/1.1 are spoken here.', 505);
  }
  head.method = method;
  head.target = target;
  head.minor = raw.charCodeAt(eol - 1) - 48;
  parseHeaderLines(head, true);
  return head;
}

export function parseResponseHead(buf: Buffer, end: number): ResponseHead {
  return parseResponseText(buf.toString('latin1', 0, end), end);
}

export function parseResponseText(text: string, end: number): ResponseHead {
  const raw = end === text.length ? text : text.slice(0, end);
  let eol = raw.indexOf('\r\n');
  if (eol === -1) eol = raw.length;
  // "HTTP/1.x NNN reason"
  const minor = raw.charCodeAt(7) - 48;
  const d0 = raw.charCodeAt(9) - 48;
  const d1 = raw.charCodeAt(10) - 48;
  const d2 = raw.charCodeAt(11) - 48;
  if (
    eol < 12 ||
    !raw.startsWith('HTTP/1.') ||
    (minor !== 0 && minor !== 1) ||
    raw.charCodeAt(8) !== 32 ||
    !(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
    (eol > 12 && raw.charCodeAt(12) !== 32)
  ) {
    throw new HttpParseError('The server sent a status line that is not HTTP/1.x.', 502);
  }
  const head = new MessageHead(raw, eol === raw.length ? eol : eol + 2);
  head.status = d0 * 100 + d1 * 10 + d2;
  head.reason = eol > 13 ? raw.slice(13, eol) : '';
  head.minor = minor;
  parseHeaderLines(head, false);
  return head;
}

/** The first value of a header (case-insensitive), or undefined. */
export function getHeader(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lowerName.length && headers[i].toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

/** Every value of a header, in order. */
export function getHeaders(headers: readonly string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lowerName.length && headers[i].toLowerCase() === lowerName) out.push(headers[i + 1]);
  }
  return out;
}

/** Removes every header of that name; returns how many went. */
export function deleteHeader(headers: string[], lowerName: string): number {
  let removed = 0;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i].length === lowerName.length && headers[i].toLowerCase() === lowerName) {
      headers.splice(i, 2);
      removed++;
    }
  }
  return removed;
}

export function setHeader(headers: string[], name: string, value: string): void {
  deleteHeader(headers, name.toLowerCase());
  headers.push(name, value);
}

/**
 * Scans chunked framing (RFC 9112 §7.1) across as many buffers as it takes. The bytes are forwarded as they are; this
 * only finds the end of the message, including trailers.
 */
export class ChunkedTracker {
  private state = 0; // 0 size, 1 extension, 2 size LF, 3 data, 4 data CR, 5 data LF, 6 trailer line start, 7 trailer line, 8 final LF
  private remaining = 0;
  private digits = 0;
  isDone = false;
  /** Body bytes (chunk data only) seen so far, for body limits. */
  dataBytes = 0;

  /** Returns the index just after the message's end within `buf`, or -1 when the message goes on past `buf`. */
  scan(buf: Buffer, start = 0): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case 0: {
          const c = buf[i];
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v >= 0) {
            if (++this.digits > 12) throw new HttpParseError('A chunk size is too large.');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            throw new HttpParseError('A chunk size is missing.');
          } else if (c === 13) {
            this.state = 2;
          } else if (c === 59 || c === 32 || c === 9) {
            this.state = 1;
          } else throw new HttpParseError('A chunk size line is malformed.');
          i++;
          break;
        }
        case 1: {
          const lf = buf.indexOf(13, i);
          if (lf === -1) return -1;
          i = lf + 1;
          this.state = 2;
          break;
        }
        case 2:
          if (buf[i++] !== 10) throw new HttpParseError('A chunk size line does not end in CRLF.');
          this.digits = 0;
          if (this.remaining === 0) this.state = 6;
          else {
            this.dataBytes += this.remaining;
            this.state = 3;
          }
          break;
        case 3: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = 4;
          break;
        }
        case 4:
          if (buf[i++] !== 13) throw new HttpParseError('Chunk data does not end in CRLF.');
          this.state = 5;
          break;
        case 5:
          if (buf[i++] !== 10) throw new HttpParseError('Chunk data does not end in CRLF.');
          this.state = 0;
          break;
        case 6:
          if (buf[i] === 13) {
            this.state = 8;
            i++;
          } else this.state = 7;
          break;
        case 7: {
          const lf = buf.indexOf(10, i);
          if (lf === -1) return -1;
          i = lf + 1;
          this.state = 6;
          break;
        }
        case 8:
          if (buf[i++] !== 10) throw new HttpParseError('The last chunk does not end in CRLF.');
          this.isDone = true;
          return i;
      }
    }
    return -1;
  }
}

/** Serialises a head; `firstLine` without CRLF. latin1 keeps bytes as they came. */
export function serializeHead(firstLine: string, headers: readonly string[]): string {
  let out = firstLine + '\r\n';
  for (let i = 0; i < headers.length; i += 2) out += headers[i] + ': ' + headers[i + 1] + '\r\n';
  return out + '\r\n';
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
