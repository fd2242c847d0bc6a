/**
 * Persistence: which real server a returning client goes back to.
 *
 *   source-ip   client address (masked to netmaskPrefix) → server, idle timeout; shared by all workers
 *   http-cookie the proxy inserts a cookie naming the server (opaque id, first-seen and last-seen times for max life
 *               and max idle); nothing to share: the client carries it
 *   app-cookie  the application's own session cookie (JSESSIONID …) is learnt from Set-Cookie → server; shared
 *   rdp-cookie  "Cookie: mstshash=<user>" in the RDP connection request → server; shared
 *
 * Shared tables are kept per worker and synchronised through the primary (like HAProxy's peers): a worker that
 * creates or refreshes an entry tells the primary, which tells the others. Two workers may place one new client at
 * the same moment; the last word wins everywhere, which is the same race HAProxy's peers accept.
 */
import { addressBytes, addressFromBytes } from '../config/address.ts';
import { hash32 } from './scheduler.ts';

export interface StickEntry {
  server: string;
  /** ms since epoch. */
  expiresAt: number;
}

export type StickSync = (table: string, key: string, entry: StickEntry) => void;

export class StickTable {
  readonly name: string;
  private readonly entries = new Map<string, StickEntry>();
  readonly timeoutMs: number;
  private readonly sync: StickSync | undefined;
  private readonly now: () => number;

  constructor(name: string, timeoutMs: number, sync?: StickSync, now: () => number = Date.now) {
    this.name = name;
    this.timeoutMs = timeoutMs;
    this.sync = sync;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The server this key sticks to, or undefined (expired entries are dropped). Refreshes the idle timer. */
  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    // Refresh locally at once; tell the others only when a quarter of the timeout has gone, to keep IPC quiet.
    const fresh = now + this.timeoutMs;
    if (fresh - e.expiresAt > this.timeoutMs / 4) {
      e.expiresAt = fresh;
      this.sync?.(this.name, key, { ...e });
    }
    return e.server;
  }

  set(key: string, server: string): void {
    const e = { server, expiresAt: this.now() + this.timeoutMs };
    const old = this.entries.get(key);
    this.entries.set(key, e);
    if (!old || old.server !== server || e.expiresAt - old.expiresAt > this.timeoutMs / 4) this.sync?.(this.name, key, { ...e });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** An entry learnt from another worker. */
  merge(key: string, entry: StickEntry): void {
    const old = this.entries.get(key);
    if (!old || old.server !== entry.server || entry.expiresAt > old.expiresAt) this.entries.set(key, { ...entry });
  }

  /** Drops expired entries; called on a slow timer. */
  sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }

  dump(): [string, StickEntry][] {
    return [...this.entries];
  }
}

/** The persistence key of a client address: masked to `prefix` bits (IPVS netmask semantics). */
export function sourceKey(ip: string, prefix: number | undefined): string {
  if (prefix === undefined) return ip;
  if (!ip.includes(':')) {
    if (prefix >= 32) return ip;
    const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const m = (n & mask) >>> 0;
    return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${prefix}`;
  }
  if (prefix >= 128) return ip;
  // IPv6: keep the first `prefix` bits of the 16 bytes; the key is the network in canonical form ("2001:db8:1::/48").
  // A zone id (only a link-local client has one) names the interface, not the client, so it is not part of the key.
  const zone = ip.indexOf('%');
  let bytes: number[];
  try {
    bytes = addressBytes(zone < 0 ? ip : ip.slice(0, zone));
  } catch {
    return ip;
  }
  const masked = bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & (0xff << (8 - bits)) & 0xff;
  });
  return `${addressFromBytes(masked)}/${prefix}`;
}

/** An opaque, stable id for a server in a cookie: the name is not shown to the client. */
export function serverCookieId(service: string, server: string): string {
  return hash32(`${service}\u0000${server}`).toString(36);
}

/**
 * Inserted cookie value: "<server id>" or, with max idle / max life, "<server id>.<first seen>.<last seen>" in
 * base-36 seconds. The times travel with the client so every worker (and a restarted proxy) can judge them.
 */
export function encodeInsertCookie(serverId: string, firstSeen: number | undefined, lastSeen: number | undefined): string {
  if (firstSeen === undefined || lastSeen === undefined) return serverId;
  return `${serverId}.${Math.floor(firstSeen / 1000).toString(36)}.${Math.floor(lastSeen / 1000).toString(36)}`;
}

export interface InsertCookie {
  serverId: string;
  firstSeen?: number;
  lastSeen?: number;
}

export function decodeInsertCookie(value: string): InsertCookie | undefined {
  const parts = value.split('.');
  if (parts.length === 1 && /^[0-9a-z]{1,8}$/.test(parts[0])) return { serverId: parts[0] };
  if (parts.length !== 3 || !parts.every((p) => /^[0-9a-z]{1,10}$/.test(p))) return undefined;
  return { serverId: parts[0], firstSeen: parseInt(parts[1], 36) * 1000, lastSeen: parseInt(parts[2], 36) * 1000 };
}

/**
 * The value of one cookie in a Cookie request header (several headers are joined first). Hand-written on purpose:
 * it stops at the name it wants and decodes nothing, and bench/cookie-read.ts measured the `cookie` package's
 * parseCookie 1.8× (one cookie) to 3.7× (31 cookies) slower per request on this hot path.
 */
export function readCookie(cookieHeaders: readonly string[], name: string): string | undefined {
  for (const h of cookieHeaders) {
    let i = 0;
    while (i < h.length) {
      let end = h.indexOf(';', i);
      if (end === -1) end = h.length;
      const eq = h.indexOf('=', i);
      if (eq !== -1 && eq < end && h.slice(i, eq).trim() === name) return h.slice(eq + 1, end).trim();
      i = end + 1;
    }
  }
  return undefined;
}

/** The value set for `name` by a Set-Cookie header, or undefined when that header sets another cookie. */
export function readSetCookie(setCookie: string, name: string): string | undefined {
  const eq = setCookie.indexOf('=');
  if (eq === -1 || setCookie.slice(0, eq).trim() !== name) return undefined;
  const semi = setCookie.indexOf(';', eq);
  return setCookie.slice(eq + 1, semi === -1 ? undefined : semi).trim();
}

/**
 * The mstshash cookie of an RDP connection request (MS-RDPBCGR 2.2.1.1): a TPKT header (03 00 len), an X.224
 * Connection Request, then "Cookie: mstshash=<name>\r\n". Returns undefined when the bytes are not that (yet).
 */
export function readRdpCookie(buf: Buffer): string | undefined {
  if (buf.length < 11 || buf[0] !== 3 || buf[1] !== 0) return undefined;
  const text = buf.toString('latin1', 11, Math.min(buf.length, buf.readUInt16BE(2)));
  const m = /^Cookie: mstshash=([^\r\n]*)\r\n/.exec(text);
  return m ? m[1] : undefined;
}
