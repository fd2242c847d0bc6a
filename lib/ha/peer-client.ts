/**
 * Calls to the peer console over the peer link: HTTPS with this console's certificate as the client certificate,
 * and the server's certificate checked against the fingerprint pinned at pairing before a byte of the request is
 * sent (the body can hold users and sealed keys). The certificates are self-signed, so the CA chain is not what is
 * trusted: the pin is. Only pairing calls without a pin; it then proves the peer by the pairing code instead.
 *
 * Every call has a deadline: 5 s for a status (a peer that takes longer is as good as down for the HA page),
 * 60 s for a bundle (the peer applies it to its engine before it answers; an apply may take 15 s).
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { ApiError } from '../errors.ts';
import { identity } from './identity.ts';

export const STATUS_TIMEOUT_MS = 5000;
export const BUNDLE_TIMEOUT_MS = 60_000;
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export interface PeerAnswer<T = any> {
  status: number;
  body: T;
  /** The fingerprint of the certificate the peer presented. */
  serverFingerprint: string;
  /** The address this node used to reach the peer. */
  localAddress: string;
}

export function parsePeerUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ApiError('HA_PEER_URL', { url });
  }
  if (u.protocol !== 'https:' || !u.hostname || u.pathname.replace(/\/+$/, '') !== '' || u.search || u.username) throw new ApiError('HA_PEER_URL', { url });
  return u;
}

/** A body made once the peer's certificate is known (pairing proofs are bound to it). */
export type BodyFor = (seen: { serverFingerprint: string; localAddress: string }) => unknown;

/**
 * One call. `pin` undefined: any certificate (pairing only). A refusal by the peer (4xx/5xx with the API's envelope)
 * is returned, not thrown, so callers can tell "the peer said no" from "the peer is down" (thrown HA_PEER_UNREACHABLE).
 */
export function peerCall<T = any>(o: {
  url: string;
  pin?: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  bodyFor?: BodyFor;
  timeoutMs?: number;
}): Promise<PeerAnswer<T>> {
  const u = parsePeerUrl(o.url);
  const id = identity();
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const hasBody = o.body !== undefined || o.bodyFor !== undefined;
  let payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const timeout = o.timeoutMs ?? STATUS_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let serverFingerprint = '';
    let localAddress = '';
    const fail = (e: unknown) => reject(e instanceof ApiError ? e : new ApiError('HA_PEER_UNREACHABLE', { url: o.url, reason: (e as Error).message }));
    const req = https.request({
      host,
      port: Number(u.port || 9444),
      method: o.method,
      path: o.path,
      agent: false,
      cert: id.cert,
      key: id.key,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...(isIP(host) ? {} : { servername: host }),
      headers: { accept: 'application/json', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeout / 1000} s`)), timeout);
    req.on('socket', (s) => {
      const tls = s as TLSSocket;
      tls.once('secureConnect', () => {
        serverFingerprint = tls.getPeerCertificate()?.fingerprint256 ?? '';
        localAddress = tls.localAddress ?? '';
        if (o.pin !== undefined && serverFingerprint !== o.pin) {
          req.destroy(new ApiError('HA_PEER_NOT_PINNED', { url: o.url, fingerprint: serverFingerprint || 'none' }));
          return;
        }
        if (o.bodyFor) payload = Buffer.from(JSON.stringify(o.bodyFor({ serverFingerprint, localAddress })));
        if (payload) req.setHeader('content-length', String(payload.length));
        req.end(payload);
      });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error('the answer is too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          return fail(new Error(`it answered ${res.statusCode} with something that is not JSON`));
        }
        resolve({ status: res.statusCode ?? 0, body: body as T, serverFingerprint, localAddress });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
  });
}

/** The peer's answer body when it succeeded; its refusal as HA_PEER_REFUSED (with its code in details) otherwise. */
export function expectOk<T>(url: string, a: PeerAnswer<T>): T {
  if (a.status >= 200 && a.status < 300) return a.body;
  const err = (a.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw new ApiError('HA_PEER_REFUSED', { url, reason: err?.message ?? `status ${a.status}` }, { code: err?.code ?? null, status: a.status });
}
