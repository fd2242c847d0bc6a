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

export interface MessageHead {
  /** name, value, name, value … in arrival order. */
  headers: string[];
  /** HTTP/1.<minor>. */
  minor: number;
  /** -1 when absent. */
  contentLength: number;
  isChunked: boolean;
  /** Connection header tokens, lower case. */
  connection: string[];
}

export interface RequestHead extends MessageHead {
  method: string;
  target: string;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

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

/** Optional whitespace around a field value (space and tab only). */
function owsTrim(s: string, from: number): string {
  let a = from;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === from && b === s.length ? s.slice(from) : s.slice(a, b);
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// Hand-written scanning rather than regular expressions: this runs for every request and every response.
function parseHeaderLines(lines: string[], head: MessageHead, isRequest: boolean): void {
  const headers = head.headers;
  let te: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) {
      if (line.length > 0 && (line[0] === ' ' || line[0] === '\t')) throw new HttpParseError('Obsolete header line folding is not accepted.');
      throw new HttpParseError('A header line has no name.');
    }
    if (!isToken(line, 0, colon)) {
      if (line[0] === ' ' || line[0] === '\t') throw new HttpParseError('Obsolete header line folding is not accepted.');
      throw new HttpParseError('A header name has characters outside the token set.');
    }
    const name = line.slice(0, colon);
    const value = owsTrim(line, colon + 1);
    headers.push(name, value);
    const lower = colon === 14 || colon === 17 || colon === 10 ? name.toLowerCase() : '';
    if (lower === 'content-length') {
      if (!isDigits(value)) throw new HttpParseError('Content-Length is not a number.');
      const n = Number(value);
      if (head.contentLength !== -1 && head.contentLength !== n) throw new HttpParseError('Content-Length is given twice with different values.');
      head.contentLength = n;
    } else if (lower === 'transfer-encoding') {
      te = te === undefined ? value : `${te}, ${value}`;
    } else if (lower === 'connection') {
      if (value.indexOf(',') === -1) {
        if (value !== '') head.connection.push(value.toLowerCase());
      } else for (const t of value.split(',')) {
        const token = t.trim().toLowerCase();
        if (token) head.connection.push(token);
      }
    }
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
  const text = buf.toString('latin1', 0, end);
  const lines = text.split('\r\n');
  const first = lines[0];
  const sp1 = first.indexOf(' ');
  const sp2 = first.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) throw new HttpParseError('The request line is not "METHOD target HTTP/1.x".');
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  const version = first.slice(sp2 + 1);
  if (!isToken(method, 0, method.length) || target.length === 0 || target.includes(' ')) throw new HttpParseError('The request line is not "METHOD target HTTP/1.x".');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new HttpParseError('Only HTTP/1.0 and HTTP/1.1 are spoken here.', 505);
  const head: RequestHead = { method, target, minor: version === 'HTTP/1.1' ? 1 : 0, headers: [], contentLength: -1, isChunked: false, connection: [] };
  parseHeaderLines(lines, head, true);
  return head;
}

export function parseResponseHead(buf: Buffer, end: number): ResponseHead {
  const text = buf.toString('latin1', 0, end);
  const lines = text.split('\r\n');
  const first = lines[0];
  // "HTTP/1.x NNN reason"
  const minor = first.charCodeAt(7) - 48;
  const d0 = first.charCodeAt(9) - 48;
  const d1 = first.charCodeAt(10) - 48;
  const d2 = first.charCodeAt(11) - 48;
  if (
    !first.startsWith('HTTP/1.') ||
    (minor !== 0 && minor !== 1) ||
    first.charCodeAt(8) !== 32 ||
    !(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
    (first.length > 12 && first.charCodeAt(12) !== 32)
  ) {
    throw new HttpParseError('The server sent a status line that is not HTTP/1.x.', 502);
  }
  const head: ResponseHead = {
    status: d0 * 100 + d1 * 10 + d2,
    reason: first.length > 13 ? first.slice(13) : '',
    minor,
    headers: [],
    contentLength: -1,
    isChunked: false,
    connection: [],
  };
  parseHeaderLines(lines, head, false);
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
