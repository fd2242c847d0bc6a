/**
 * Persistence as an exchange applies it, for both protocols (exchange-rules.ts calls these): which server the client
 * had (source-ip table, the insert cookie with its life and idle limits, an application cookie's table) when the
 * request comes, and what the response teaches (the table entry, a new or refreshed insert cookie, the server's own
 * session cookie) when it goes back. The cookie and key formats are persistence.ts's.
 */
import type { RequestHead } from './http-codec.ts';
import type { Routing } from './exchange-rules.ts';
import { decodeInsertCookie, encodeInsertCookie, readCookie, readSetCookie, sourceKey } from './persistence.ts';
import type { ServerState, ServiceRuntime } from './service.ts';

/** Persistence: which server this client had. */
export function lookupPersistence(rt: ServiceRuntime, head: RequestHead, clientIp: string, into: Routing): void {
  const p = rt.plan.persistence;
  if (p.type === 'source-ip') {
    into.sourceKeyValue = sourceKey(clientIp, p.netmaskPrefix);
    into.persistentName = rt.sourceTable!.get(into.sourceKeyValue);
  } else if (p.type === 'http-cookie') {
    const v = readCookie(head.getAll('cookie'), p.cookieName);
    const c = v === undefined ? undefined : decodeInsertCookie(v);
    const now = Date.now();
    const isValid =
      c !== undefined &&
      (p.maxLifeSeconds === undefined || (c.firstSeen !== undefined && now - c.firstSeen <= p.maxLifeSeconds * 1000)) &&
      (p.maxIdleSeconds === undefined || (c.lastSeen !== undefined && now - c.lastSeen <= p.maxIdleSeconds * 1000));
    if (isValid) {
      into.persistentName = rt.byCookieId.get(c.serverId)?.name;
      into.cookieFirstSeen = c.firstSeen;
      into.cookieLastSeen = c.lastSeen;
    }
  } else if (p.type === 'app-cookie') {
    const v = readCookie(head.getAll('cookie'), p.cookieName);
    if (v !== undefined) into.persistentName = rt.appTable!.get(v);
  }
}

/** Learns persistence from the response fields `out` (server-named ones and ours), adding the insert cookie to them. */
export function learnPersistence(rt: ServiceRuntime, out: string[], isTls: boolean, server: ServerState, r: Routing): void {
  const p = rt.plan.persistence;
  if (server.name === '~fallback') return;
  if (p.type === 'source-ip') {
    if (!r.isPersistent) rt.sourceTable!.set(r.sourceKeyValue, server.name);
  } else if (p.type === 'http-cookie') {
    const now = Date.now();
    const hasTimes = p.maxIdleSeconds !== undefined || p.maxLifeSeconds !== undefined;
    // Refresh the last-seen time once a quarter of the idle limit has passed, not on every response.
    const isStale = p.maxIdleSeconds !== undefined && r.cookieLastSeen !== undefined && now - r.cookieLastSeen > (p.maxIdleSeconds * 1000) / 4;
    if (!r.isPersistent || isStale) {
      const first = r.isPersistent && r.cookieFirstSeen !== undefined ? r.cookieFirstSeen : now;
      const value = encodeInsertCookie(server.cookieId, hasTimes ? first : undefined, hasTimes ? now : undefined);
      let cookie = `${p.cookieName}=${value}; Path=/`;
      if (p.maxLifeSeconds !== undefined) cookie += `; Max-Age=${p.maxLifeSeconds}`;
      if (p.httpOnly) cookie += '; HttpOnly';
      if (p.secure ?? isTls) cookie += '; Secure';
      out.push('Set-Cookie', cookie);
    }
  } else if (p.type === 'app-cookie') {
    for (let i = 0; i < out.length; i += 2) {
      if (out[i].length === 10 && out[i].toLowerCase() === 'set-cookie') {
        const v = readSetCookie(out[i + 1], p.cookieName);
        if (v !== undefined && v !== '') rt.appTable!.set(v, server.name);
      }
    }
  }
}
