/**
 * Every reason the proxy refuses an HTTP/1.x message, in one table: a code (logged with the refusal), the status a
 * client gets when its request is refused, and a sentence naming the rule. A refused *response* is always answered
 * 502 (Bad Gateway) to the client, whatever the row says: the fault is the real server's.
 */

export interface RefusalDef {
  status: number;
  message: string;
}

export const REFUSALS = {
  H1_REQUEST_LINE: { status: 400, message: 'The request line is not "METHOD target HTTP/1.x" with single spaces (RFC 9112 §3).' },
  H1_VERSION: { status: 505, message: 'Only HTTP/1.0 and HTTP/1.1 are spoken here.' },
  H1_CONNECT: { status: 501, message: 'CONNECT is not supported: this is a reverse proxy.' },
  H1_TARGET: { status: 400, message: 'The request target is not a path, an http(s) URI, or "*" for OPTIONS (RFC 9112 §3.2).' },
  H1_TARGET_CHAR: { status: 400, message: 'The request target has a character a URI cannot carry: a control, a space, a non-ASCII byte or "#" (RFC 3986 §2).' },
  H1_USERINFO: { status: 400, message: 'The request target carries user information, which an http URI may not (RFC 9110 §4.2.4).' },
  H1_STATUS_LINE: { status: 502, message: 'The status line is not "HTTP/1.x NNN reason" (RFC 9112 §4).' },
  H1_BARE_LF: { status: 400, message: 'A line ends in a bare LF; HTTP/1.1 lines end in CRLF (RFC 9112 §2.2).' },
  H1_BARE_CR: { status: 400, message: 'A CR that does not end its line (RFC 9112 §2.2).' },
  H1_CONTROL: { status: 400, message: 'A field or status line has a control character such as NUL or VT (RFC 9110 §5.5).' },
  H1_OBS_FOLD: { status: 400, message: 'Obsolete line folding is not accepted (RFC 9112 §5.2).' },
  H1_FIELD_NAME: { status: 400, message: 'A field name is empty, has characters outside the token set, or whitespace before its colon (RFC 9112 §5.1).' },
  H1_NO_COLON: { status: 400, message: 'A field line has no colon (RFC 9112 §5).' },
  H1_FRAMING_NAME: { status: 400, message: 'A field named Content_Length or Transfer_Encoding, which CGI-style servers read as the real one.' },
  H1_CONNECTION_FRAMING: {
    status: 400,
    message: 'Connection names Content-Length, Transfer-Encoding or Host, fields that must reach every recipient (RFC 9110 §7.6.1).',
  },
  H1_CONTENT_LENGTH: { status: 400, message: 'Content-Length is not a decimal number of at most 15 digits (RFC 9110 §8.6).' },
  H1_CONTENT_LENGTH_REPEATED: { status: 400, message: 'Content-Length is given more than once, or as a list (RFC 9110 §8.6).' },
  H1_TE_HTTP10: { status: 400, message: 'Transfer-Encoding in an HTTP/1.0 message: its framing cannot be trusted (RFC 9112 §6.1).' },
  H1_TE_INVALID: { status: 400, message: 'Transfer-Encoding is not a list of codings ending in one "chunked" (RFC 9112 §6.1, §6.3).' },
  H1_TE_UNSUPPORTED: { status: 501, message: 'Only the chunked transfer coding, alone, is accepted (RFC 9112 §6.1).' },
  H1_HOST_REPEATED: { status: 400, message: 'More than one Host field line (RFC 9112 §3.2).' },
  H1_HOST_INVALID: { status: 400, message: 'Host is not host[:port] (RFC 9112 §3.2, RFC 3986 §3.2.2).' },
  H1_HOST_MISMATCH: { status: 400, message: 'The absolute request target names another host than the Host field (RFC 9112 §3.2.2).' },
  H1_CHUNK_SIZE: { status: 400, message: 'A chunk size is missing, malformed or larger than 2^48 (RFC 9112 §7.1).' },
  H1_CHUNK_EXT: { status: 400, message: 'A chunk extension has a control character or is longer than 4096 bytes (RFC 9112 §7.1.1).' },
  H1_CHUNK_CRLF: { status: 400, message: 'A chunk-size line or chunk data does not end in CRLF (RFC 9112 §7.1).' },
  H1_TRAILER: { status: 400, message: 'A trailer field line is malformed, or the trailer section is larger than 16 KiB (RFC 9112 §7.1.2).' },
  H1_UNASKED_101: { status: 502, message: 'The server switched protocols (101) for a request that asked for no upgrade (RFC 9110 §15.2.2).' },
  H1_HEAD_TOO_LARGE: { status: 431, message: 'The request head is larger than this service accepts.' },
  H1_HEAD_TIMEOUT: { status: 408, message: 'The request head did not arrive in time.' },
  H1_BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than this service accepts.' },
  H1_BODY_TOO_SLOW: { status: 408, message: 'The request body came slower than this service accepts (limits.minBodyBytesPerSecond).' },
  H1_RESPONSE_HEAD_TOO_LARGE: { status: 502, message: 'The server sent a response head larger than 64 KiB.' },
} as const satisfies Record<string, RefusalDef>;

export type RefusalCode = keyof typeof REFUSALS;

/** A message the codec refuses. `status` is what the client gets: the table's for a request, 502 for a response. */
export class HttpParseError extends Error {
  readonly code: RefusalCode;
  readonly status: number;
  constructor(code: RefusalCode, isResponse = false) {
    super(REFUSALS[code].message);
    this.code = code;
    this.status = isResponse ? 502 : REFUSALS[code].status;
  }
}
