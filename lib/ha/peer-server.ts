/**
 * The peer link: the HTTPS listener (FULCRUM_PEER_PORT, 9444) the other console of the pair calls, apart from the
 * browser port so that browsers are never asked for a client certificate. Mutual TLS with the console's own
 * certificate; a request is served only if the client's certificate is the one pinned at pairing, except the pairing
 * request itself, which proves itself with the pairing code (pairing.ts). Any other certificate is refused (403,
 * audited). Errors use the API's envelope and codes.
 *
 *   POST /peer/v1/pair     (no pin)  the secondary pairs with this primary
 *   GET  /peer/v1/status             this node's version, role, VRRP state, last sync
 *   GET  /peer/v1/bundle             the primary's running version, certificates and users (the secondary catching up)
 *   POST /peer/v1/bundle             the primary pushes them to this secondary; answered after this engine applied it
 *   POST /peer/v1/unpair             the peer forgot the pair
 *   POST /peer/v1/notice             the peer tells of an HA action (a hand-over) so it is audited here too
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { z } from 'zod';
import { ApiError, validationError } from '../errors.ts';
import { writeAuditAlone } from '../audit.ts';
import { log } from '../log.ts';
import { identity, setListeningPeerPort } from './identity.ts';
import { acceptPairing, acceptUnpair, PairRequest } from './pairing.ts';
import { buildBundle } from './bundle.ts';
import { receiveBundle } from './sync.ts';
import { loadPeer, localStatus, openPairKey, publishHa } from './state.ts';
import { newNonce } from './pairing-code.ts';

const MAX_BODY = 64 * 1024 * 1024;
/** Before a caller is known (pairing), and for small notices: a pairing request is a few hundred bytes. */
const MAX_SMALL_BODY = 16 * 1024;
const Notice = z.strictObject({ action: z.enum(['ha.handover', 'ha.handover-end']), actor: z.string().max(200), message: z.string().max(1000) });

async function readJson(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new ApiError('API_BODY_TOO_LARGE', { limit });
    chunks.push(c as Buffer);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new ApiError('API_MALFORMED_JSON', { reason: (e as Error).message });
  }
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
};

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw validationError(r.error.issues);
  return r.data;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const socket = req.socket as TLSSocket;
  const fingerprint = socket.getPeerCertificate?.()?.fingerprint256;
  const sourceAddress = socket.remoteAddress ?? 'unknown';
  const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
  try {
    if (!fingerprint) throw new ApiError('HA_PEER_CERT_REQUIRED');
    if (route === 'POST /peer/v1/pair') {
      const body = parse(PairRequest, await readJson(req, MAX_SMALL_BODY));
      return send(res, 200, await acceptPairing(body, { clientFingerprint: fingerprint, localAddress: socket.localAddress ?? '', sourceAddress }));
    }
    const peer = await loadPeer();
    if (!peer || peer.peerFingerprint !== fingerprint) {
      const err = new ApiError('HA_PEER_UNKNOWN', { fingerprint });
      await writeAuditAlone({
        actor: 'peer link',
        actorRole: null,
        sourceAddress,
        requestId: `peer-${newNonce()}`,
        action: 'ha.peer-link',
        objectType: 'ha-pair',
        objectId: null,
        outcome: 'denied',
        message: `${route}: ${err.message}`,
        after: { fingerprint },
      });
      throw err;
    }
    switch (route) {
      case 'GET /peer/v1/status':
        return send(res, 200, await localStatus());
      case 'GET /peer/v1/bundle':
        if (peer.role !== 'primary') throw new ApiError('HA_NOT_PRIMARY', { primary: peer.peerName });
        return send(res, 200, await buildBundle(peer.localName, openPairKey(peer)));
      case 'POST /peer/v1/bundle':
        return send(res, 200, await receiveBundle(await readJson(req), sourceAddress));
      case 'POST /peer/v1/unpair':
        await acceptUnpair(peer, sourceAddress);
        return send(res, 200, { ok: true });
      case 'POST /peer/v1/notice': {
        const n = parse(Notice, await readJson(req, MAX_SMALL_BODY));
        await writeAuditAlone({
          actor: `peer ${peer.peerName}`,
          actorRole: null,
          sourceAddress,
          requestId: `peer-${newNonce()}`,
          action: n.action,
          objectType: 'ha-pair',
          objectId: '1',
          outcome: 'success',
          message: `On ${peer.peerName}, ${n.actor}: ${n.message}`,
        });
        publishHa('handover');
        return send(res, 200, { ok: true });
      }
      default:
        throw new ApiError('API_ROUTE_NOT_FOUND', { method: req.method, path: req.url });
    }
  } catch (e) {
    if (e instanceof ApiError)
      return send(res, e.status, { error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
    const requestId = newNonce();
    log('error', 'unexpected error on the peer link', { route, requestId, error: (e as Error).stack });
    send(res, 500, { error: { code: 'API_INTERNAL', message: new ApiError('API_INTERNAL', { requestId }).message } });
  }
}

/** Listens on `port` (0: an ephemeral one, tests) and `host`; answers the server once it listens. */
export async function startPeerServer(opts: { port: number; host: string }): Promise<https.Server> {
  const id = identity();
  const server = https.createServer(
    { cert: id.cert, key: id.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (req, res) => void handle(req, res),
  );
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  setListeningPeerPort((server.address() as { port: number }).port);
  return server;
}
