/**
 * Layer 7 rules compiled once per apply: request matching (content switching and redirects), URL rewriting and
 * header rules. Conditions of one match are ANDed; an empty match matches everything (schema's MatchSchema).
 */
import net from 'node:net';
import { unmappedAddress, type Layer7Options } from '../config/index.ts';
import { deleteHeader, getHeader } from './http-codec.ts';

export interface MatchInput {
  path: string;
  /** Host without port, lower case ('' when absent). */
  host: string;
  headers: readonly string[];
  clientIp: string;
}

export type Matcher = (req: MatchInput) => boolean;
type Match = Layer7Options['routes'][number]['match'];

/** "::ffff:10.0.0.1" (a v4 client on a dual-stack socket) is the v4 address for rules and persistence. */
export function plainIp(address: string | undefined): string {
  if (!address) return '';
  return unmappedAddress(address);
}

function compileMatch(m: Match): Matcher {
  const tests: Matcher[] = [];
  if (m.pathPrefix !== undefined) {
    const p = m.pathPrefix;
    tests.push((r) => r.path.startsWith(p));
  }
  if (m.pathSuffix !== undefined) {
    const s = m.pathSuffix;
    tests.push((r) => r.path.endsWith(s));
  }
  if (m.pathRegex !== undefined) {
    const re = new RegExp(m.pathRegex);
    tests.push((r) => re.test(r.path));
  }
  if (m.host !== undefined) {
    const h = m.host.toLowerCase();
    // "*.example.org" matches any one-or-more label prefix, as in TLS certificate names.
    if (h.startsWith('*.')) {
      const tail = h.slice(1);
      tests.push((r) => r.host.endsWith(tail) && r.host.length > tail.length);
    } else tests.push((r) => r.host === h);
  }
  if (m.header !== undefined) {
    const name = m.header.name.toLowerCase();
    const value = m.header.value;
    tests.push((r) => {
      const v = getHeader(r.headers, name);
      return v !== undefined && (value === undefined || v === value);
    });
  }
  if (m.source !== undefined) {
    const list = new net.BlockList();
    const [addr, prefix] = m.source.split('/');
    const family = addr.includes(':') ? 'ipv6' : 'ipv4';
    list.addSubnet(addr, Number(prefix), family);
    tests.push((r) => {
      const ip = r.clientIp;
      return ip !== '' && list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    });
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (r) => tests.every((t) => t(r));
}

export interface CompiledRules {
  routes: { name: string; group: string; test: Matcher }[];
  redirects: { test: Matcher; location: string; status: number }[];
  rewrites: { re: RegExp; replacement: string }[];
  requestHeaders: Layer7Options['requestHeaders'];
  responseHeaders: Layer7Options['responseHeaders'];
}

export function compileRules(l7: Layer7Options): CompiledRules {
  return {
    routes: l7.routes.map((r) => ({ name: r.name, group: r.group, test: compileMatch(r.match) })),
    redirects: l7.redirects.map((r) => ({ test: compileMatch(r.match), location: r.location, status: r.status })),
    rewrites: l7.urlRewrites.map((r) => ({ re: new RegExp(r.pattern), replacement: r.replacement })),
    requestHeaders: l7.requestHeaders,
    responseHeaders: l7.responseHeaders,
  };
}

/** Rewrites the path part of a request target; the query string is kept as it was. */
export function rewriteTarget(target: string, rewrites: CompiledRules['rewrites']): string {
  if (rewrites.length === 0) return target;
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  for (const r of rewrites) path = path.replace(r.re, r.replacement);
  return q === -1 ? path : path + target.slice(q);
}

/** add appends another header, set replaces all of that name, delete removes all. */
export function applyHeaderRules(headers: string[], rules: Layer7Options['requestHeaders']): void {
  for (const r of rules) {
    if (r.action === 'delete') deleteHeader(headers, r.name.toLowerCase());
    else if (r.action === 'set') {
      deleteHeader(headers, r.name.toLowerCase());
      headers.push(r.name, r.value ?? '');
    } else headers.push(r.name, r.value ?? '');
  }
}

/**
 * A redirect's Location: "${host}", "${path}" and "${query}" are filled from the request so one rule can send
 * every path of a host elsewhere; anything else is used as written.
 */
export function redirectLocation(template: string, host: string, target: string): string {
  if (!template.includes('${')) return template;
  const q = target.indexOf('?');
  return template
    .replaceAll('${host}', host)
    .replaceAll('${path}', q === -1 ? target : target.slice(0, q))
    .replaceAll('${query}', q === -1 ? '' : target.slice(q));
}
