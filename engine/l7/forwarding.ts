/**
 * The fields that name the client to a real server — X-Forwarded-For, X-Forwarded-Proto and Forwarded (RFC 7239) —
 * each in one of the schema's modes (engine/config/schema.ts, ForwardingSchema), compiled once per service runtime.
 *
 *   mode            the client's own lines of that name     the real server gets
 *   off (false)     forwarded as they came                  nothing added
 *   append          removed, their values kept              one line: their values, then this hop's
 *   replace         removed                                 one line: this hop's value
 *   trusted         as append for a peer in trustedProxies, as replace for any other peer
 *
 * "The peer" is the address the connection came from, never a value read from a header: a client outside the
 * trusted networks cannot make the proxy keep a chain it wrote itself. `trusted` is resolved per request to append
 * or replace (forPeer), so the head builder (forward-head.ts) knows only the three plain modes.
 */
import net from 'node:net';
import type { Layer7Options } from '../config/index.ts';

export const FWD_OFF = 0;
export const FWD_APPEND = 1;
export const FWD_REPLACE = 2;
export type ForwardMode = typeof FWD_OFF | typeof FWD_APPEND | typeof FWD_REPLACE;

/** What to do with each field for one request. */
export interface Forwarding {
  readonly xff: ForwardMode;
  readonly xfp: ForwardMode;
  readonly forwarded: ForwardMode;
}

type Field = Layer7Options['xForwardedFor'];
type Options = Pick<Layer7Options, 'xForwardedFor' | 'xForwardedProto' | 'forwarded' | 'trustedProxies'>;

/** `true` keeps each field's old meaning: append for X-Forwarded-For and Forwarded, replace for X-Forwarded-Proto. */
function modeFor(field: Field, whenTrue: ForwardMode, isTrustedPeer: boolean): ForwardMode {
  if (field === false) return FWD_OFF;
  if (field === true) return whenTrue;
  if (field.mode === 'append') return FWD_APPEND;
  if (field.mode === 'replace') return FWD_REPLACE;
  return isTrustedPeer ? FWD_APPEND : FWD_REPLACE;
}

export class ForwardingPolicy {
  /** The modes for a peer in trustedProxies, and for any other (the same object when no field trusts). */
  readonly trusted: Forwarding;
  readonly untrusted: Forwarding;
  private readonly networks: net.BlockList | null;
  /** One-entry memo: a keep-alive connection, or the one proxy in front, asks for the same address again and again. */
  private lastIp = '';
  private lastModes: Forwarding;

  constructor(l7: Options) {
    const of = (isTrustedPeer: boolean): Forwarding => ({
      xff: modeFor(l7.xForwardedFor, FWD_APPEND, isTrustedPeer),
      xfp: modeFor(l7.xForwardedProto, FWD_REPLACE, isTrustedPeer),
      forwarded: modeFor(l7.forwarded, FWD_APPEND, isTrustedPeer),
    });
    this.untrusted = of(false);
    const trusted = of(true);
    const isTrusting = trusted.xff !== this.untrusted.xff || trusted.xfp !== this.untrusted.xfp || trusted.forwarded !== this.untrusted.forwarded;
    this.trusted = isTrusting ? trusted : this.untrusted;
    this.networks = isTrusting && l7.trustedProxies.length > 0 ? blockList(l7.trustedProxies) : null;
    this.lastModes = this.untrusted;
  }

  /** The modes for a request whose connection came from `ip` (a plain address: rules.ts plainIp). */
  forPeer(ip: string): Forwarding {
    const list = this.networks;
    if (list === null) return this.untrusted;
    if (ip === this.lastIp) return this.lastModes;
    const isTrusted = ip !== '' && net.isIP(ip) !== 0 && list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    this.lastIp = ip;
    this.lastModes = isTrusted ? this.trusted : this.untrusted;
    return this.lastModes;
  }
}

function blockList(cidrs: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/');
    list.addSubnet(address, Number(prefix), address.includes(':') ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** RFC 9110 §5.6.2 tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A Forwarded parameter value: as a token when it is one, else a quoted-string with `"` and `\` escaped (RFC 7239 §4). */
export function forwardedValue(v: string): string {
  return TOKEN.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * A node (RFC 7239 §6): an IPv4 address as it is; an IPv6 address in brackets, and therefore quoted (":" and "[" are
 * not token characters), as in `for="[2001:db8:cafe::17]"`; "unknown" when the address is not known (§6.2).
 */
export function forwardedNode(ip: string): string {
  if (ip === '') return 'unknown';
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/** This hop's Forwarded element: `for=<client>;proto=<http|https>;host=<the Host it asked for>` (RFC 7239 §5.2-5.4). */
export function forwardedElement(clientIp: string, isTls: boolean, host: string): string {
  return `for=${forwardedNode(clientIp)};proto=${isTls ? 'https' : 'http'};host=${forwardedValue(host)}`;
}
