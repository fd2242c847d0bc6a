/**
 * The heads the proxy sends on: the lines that came, less hop-by-hop ones (and those the Connection header names)
 * and the framing fields the codec replaced (MessageHead.skip), plus the codec's replacements (MessageHead.added)
 * and the proxy's own fields. Kept lines are sliced out of the head's text in runs, so a usual message costs a slice
 * or two, not a string per field; header rules work on a name/value list instead.
 */
import { HOP_BY_HOP, isHopByHopName, isName, isNameIn, type MessageHead, type RequestHead, type ResponseHead, serializeHead } from './http-codec.ts';
import { applyHeaderRules } from './rules.ts';
import { forwardedElement, FWD_APPEND, FWD_OFF, type Forwarding } from './forwarding.ts';
import type { Layer7Options } from '../config/index.ts';

/** 1 at the lengths of the header names the proxy treats specially (hop-by-hop, X-Forwarded-*, Forwarded). */
const SPECIAL_LENGTH = (() => {
  const a = new Uint8Array(64);
  for (const n of [...HOP_BY_HOP, 'x-forwarded-for', 'x-forwarded-proto', 'forwarded']) a[n.length] = 1;
  return a;
})();

/** A comma-separated list with `v` added last; an empty value adds nothing (RFC 9110 §5.6.1 ignores empty elements). */
function joined(list: string | undefined, v: string): string | undefined {
  return v === '' ? list : list === undefined ? v : `${list}, ${v}`;
}

/** What the request head needs to know about the client's connection (the http session). */
export interface RequestClient {
  readonly clientIp: string;
  readonly isTls: boolean;
  /** Host to name when the request has none (an HTTP/1.0 client need not send one): the address it connected to. */
  vipHost(): string;
}

/** The protocol a request asks to upgrade to (its Upgrade field, when Connection names it), or undefined. */
export function upgradeOf(head: RequestHead): string | undefined {
  return head.connection.includes('upgrade') ? head.get('upgrade') : undefined;
}

/**
 * The request head for the server, with its final CRLF. `target` is the (rewritten) origin-form target; `fwd` says
 * what becomes of the client-naming fields (forwarding.ts), `rules` are the service's request header rules.
 */
export function requestHeadText(
  head: RequestHead,
  target: string,
  fwd: Forwarding,
  rules: Layer7Options['requestHeaders'],
  client: RequestClient,
  upgrade: string | undefined,
): string {
  const drop = head.connection;
  const hasRules = rules.length > 0;
  const out: string[] = [];
  const { raw, lines, skip } = head;
  const isLineKept = head.minor !== 0 && target === head.target && !head.isAbsoluteForm;
  // An HTTP/1.0 client cannot read chunked bodies: ask the server in HTTP/1.0 too (keep-alive, for the pool), so
  // it answers with a length or by closing.
  let text =
    head.minor === 0
      ? `${head.method} ${target} HTTP/1.0\r\nConnection: keep-alive\r\n`
      : isLineKept
        ? raw.slice(0, head.headerStart)
        : `${head.method} ${target} HTTP/1.1\r\n`;
  if (head.headerStart === raw.length && isLineKept) text += '\r\n';
  // HTTP/1.1 servers may refuse a request without Host: name the VIP.
  if (head.host === undefined) text += `Host: ${client.vipHost()}\r\n`;
  // The client's values of fields in append mode (undefined: none, or not appending).
  let xff: string | undefined;
  let xfp: string | undefined;
  let fwdList: string | undefined;
  let run = -1; // start of the current run of kept lines
  for (let i = 0; i < lines.length; i += 3) {
    const from = lines[i];
    const colon = lines[i + 1];
    let isKept = true;
    if (drop.length > 0 || SPECIAL_LENGTH[colon - from] === 1 || skip !== null) {
      if (isHopByHopName(raw, from, colon) || isNameIn(raw, from, colon, drop) || head.isSkipped(i)) isKept = false;
      else if (fwd.xff !== FWD_OFF && isName(raw, from, colon, 'x-forwarded-for')) {
        if (fwd.xff === FWD_APPEND) xff = joined(xff, head.valueAt(i));
        isKept = false;
      } else if (fwd.xfp !== FWD_OFF && isName(raw, from, colon, 'x-forwarded-proto')) {
        if (fwd.xfp === FWD_APPEND) xfp = joined(xfp, head.valueAt(i));
        isKept = false;
      } else if (fwd.forwarded !== FWD_OFF && isName(raw, from, colon, 'forwarded')) {
        if (fwd.forwarded === FWD_APPEND) fwdList = joined(fwdList, head.valueAt(i));
        isKept = false;
      }
    }
    if (hasRules) {
      if (isKept) out.push(raw.slice(from, colon), head.valueAt(i));
    } else if (isKept) {
      if (run === -1) run = from;
    } else if (run !== -1) {
      text += raw.slice(run, from);
      run = -1;
    }
  }
  if (run !== -1) text += raw.slice(run) + '\r\n';
  if (head.added !== null) out.push(...head.added);
  if (fwd.xff !== FWD_OFF) out.push('X-Forwarded-For', joined(xff, client.clientIp) ?? '');
  if (fwd.xfp !== FWD_OFF) out.push('X-Forwarded-Proto', joined(xfp, client.isTls ? 'https' : 'http')!);
  if (fwd.forwarded !== FWD_OFF) out.push('Forwarded', joined(fwdList, forwardedElement(client.clientIp, client.isTls, head.host ?? client.vipHost()))!);
  if (upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgrade);
  if (hasRules) applyHeaderRules(out, rules);
  for (let i = 0; i < out.length; i += 2) text += out[i] + ': ' + out[i + 1] + '\r\n';
  return text + '\r\n';
}

/** A head's header lines, each with its CRLF, less hop-by-hop ones, those its Connection header names and skipped ones; then the codec's replacements. */
export function keptLines(head: MessageHead): string {
  const { raw, lines, connection, skip } = head;
  let text = '';
  let run = -1; // start of the current run of kept lines
  for (let i = 0; i < lines.length; i += 3) {
    const from = lines[i];
    const colon = lines[i + 1];
    const isKept = !isHopByHopName(raw, from, colon) && !isNameIn(raw, from, colon, connection) && (skip === null || !head.isSkipped(i));
    if (isKept) {
      if (run === -1) run = from;
    } else if (run !== -1) {
      text += raw.slice(run, from);
      run = -1;
    }
  }
  if (run !== -1) text += raw.slice(run) + '\r\n';
  const added = head.added;
  if (added !== null) for (let i = 0; i < added.length; i += 2) text += added[i] + ': ' + added[i + 1] + '\r\n';
  return text;
}

/** A head's fields as a name/value list, less hop-by-hop ones (and those its Connection header names) and skipped ones; then the replacements. */
export function forwardedFields(head: MessageHead): string[] {
  const { lines, connection } = head;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += 3) {
    const name = head.raw.slice(lines[i], lines[i + 1]);
    if (connection.length > 0 || SPECIAL_LENGTH[name.length] === 1 || head.skip !== null) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || connection.includes(lower) || head.isSkipped(i)) continue;
    }
    out.push(name, head.valueAt(i));
  }
  if (head.added !== null) out.push(...head.added);
  return out;
}

/** An interim (1xx) response's fields: no hop-by-hop ones, and no framing fields, which a 1xx cannot have. */
export function interimFields(head: MessageHead): string[] {
  const out = forwardedFields(head);
  for (let i = out.length - 2; i >= 0; i -= 2) {
    const lower = out[i].toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') out.splice(i, 2);
  }
  return out;
}

/**
 * A response head as it goes to an HTTP/1.1 client. `out` holds the fields: all of them when `isListed` (header rules
 * or application cookies needed the list, responseFields), else only the proxy's own, which follow the server's lines
 * forwarded as they came (less hop-by-hop ones); an HTTP/1.0 status line is sent as HTTP/1.1's.
 */
export function responseHeadText(res: ResponseHead, out: string[], isListed: boolean): string {
  if (isListed) return serializeHead(`HTTP/1.1 ${res.status} ${res.reason}`, out);
  const raw = res.raw;
  let text = res.minor === 1 ? (res.headerStart === raw.length ? raw + '\r\n' : raw.slice(0, res.headerStart)) : `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  text += keptLines(res);
  for (let i = 0; i < out.length; i += 2) text += out[i] + ': ' + out[i + 1] + '\r\n';
  return text + '\r\n';
}
