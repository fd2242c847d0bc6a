/**
 * Header names and name/value lists: hop-by-hop names, comparisons made in place on a head's text, and the list
 * helpers header rules use. No framing here (http-codec.ts has it).
 */

/** Headers a proxy must not forward (RFC 9110 §7.6.1), lower case. Transfer-Encoding is kept: bodies pass verbatim. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/**
 * Compares s[from, from + lower.length) with a lower-case name of letters, digits and '-', ignoring case. Only for
 * ranges already known to be tokens: there, `| 0x20` lower-cases letters and leaves '-' and digits as they are.
 */
export function equalsLower(s: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((s.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** Whether raw[from…] is `lower` with "_" where `lower` has "-" (Content_Length …), ignoring case. */
export function isUnderscoreTwin(raw: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const want = lower.charCodeAt(i);
    const c = raw.charCodeAt(from + i);
    if (want === 45 ? c !== 95 : (c | 0x20) !== want) return false;
  }
  return true;
}

/** s[from, to) without optional whitespace around it (space and tab only). */
export function owsTrim(s: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
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

/** The first value of a header (case-insensitive), or undefined. */
export function getHeader(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lowerName.length && headers[i].toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
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
