/**
 * Pairing two consoles, once (the codes and proofs are in pairing-code.ts):
 *
 *   primary (HA page)        POST /api/v1/ha/pairing-code       → a code, good once for CODE_TTL_MS, shown to the admin
 *   secondary (HA page)      POST /api/v1/ha/pair {url, code}   → calls the primary's peer link:
 *   secondary → primary      POST /peer/v1/pair {nonce, proof, name, url, consoleUrl}
 *   primary                  finds the code the proof was made with, claims it (single use), pins the client cert,
 *                            answers {name, consoleUrl, proof, pairKey}; the secondary checks the proof and pins the
 *                            primary's certificate. Both audit it. From then on every call is mutual TLS on the pins.
 *
 * A wrong code is refused and counted: after MAX_WRONG wrong proofs in a row every live code is burnt (a new one
 * must be made), so a code cannot be guessed on line either.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { db } from '../db.ts';
import { ApiError, type ErrorCode } from '../errors.ts';
import { mutate } from '../api/mutate.ts';
import { writeAuditAlone, type AuditInput } from '../audit.ts';
import { identity, ownConsoleUrl, ownPeerUrl } from './identity.ts';
import { isProofValid, newNonce, newPairingCode, pairingCodeHash, pairingProof } from './pairing-code.ts';
import { expectOk, parsePeerUrl, peerCall } from './peer-client.ts';
import { loadPeer, publishHa, sealPairKey } from './state.ts';

export const CODE_TTL_MS = 10 * 60_000;
const MAX_WRONG = 5;
/** Codes are looked for this far back, so an old one is refused as expired or used rather than as wrong. */
const CODE_MEMORY_MS = 24 * 3600_000;

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

const g = globalThis as unknown as { __fulcrumWrongCodes?: number };

async function refuseIfPaired(): Promise<void> {
  const peer = await loadPeer();
  if (peer) throw new ApiError('HA_ALREADY_PAIRED', { peer: peer.peerName, role: peer.role });
}

/** On the primary: a new one-time code. The code itself is answered once and never stored (only its hash). */
export async function createPairingCode(opts: { actor: string; audit: AuditFor }) {
  await refuseIfPaired();
  const code = newPairingCode();
  const expiresAt = new Date(Date.now() + CODE_TTL_MS);
  const row = await mutate(
    (tx) => tx.haPairingCode.create({ data: { codeHash: pairingCodeHash(code), createdBy: opts.actor, expiresAt } }),
    (r) => opts.audit({ action: 'ha.pairing-code', objectType: 'ha-pair', objectId: r.id, after: { expiresAt: expiresAt.toISOString() }, outcome: 'success' }),
    { isCandidateChange: false },
  );
  publishHa('pairing');
  return { code, expiresAt: row.expiresAt, fingerprint: identity().fingerprint, name: identity().name };
}

export const PairRequest = z.strictObject({
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  proof: z.string().regex(/^[0-9a-f]{64}$/),
  name: z.string().min(1).max(63),
  url: z.string().max(300),
  consoleUrl: z.string().max(300),
});

/** On the primary, for the peer link: the secondary's pairing request. `clientFingerprint`: the cert it presented. */
export async function acceptPairing(body: z.infer<typeof PairRequest>, seen: { clientFingerprint: string; localAddress: string; sourceAddress: string }) {
  const own = identity();
  const audit = (outcome: AuditInput['outcome'], message: string, after?: unknown): AuditInput => ({
    actor: `peer ${body.name}`,
    actorRole: null,
    sourceAddress: seen.sourceAddress,
    requestId: `peer-${newNonce()}`,
    action: 'ha.pair',
    objectType: 'ha-pair',
    objectId: null,
    outcome,
    message,
    after: after ?? { peer: body.name, fingerprint: seen.clientFingerprint },
  });
  const refuse = async (code: ErrorCode, params: Record<string, unknown> = {}) => {
    const err = new ApiError(code, params);
    await writeAuditAlone(audit('denied', err.message));
    throw err;
  };
  const existing = await loadPeer();
  if (existing) return refuse('HA_ALREADY_PAIRED', { peer: existing.peerName, role: existing.role });
  parsePeerUrl(body.url);
  const codes = await db().haPairingCode.findMany({ where: { createdAt: { gt: new Date(Date.now() - CODE_MEMORY_MS) } } });
  const hit = codes.find((c) => isProofValid(pairingProof(c.codeHash, 'secondary', own.fingerprint, seen.clientFingerprint, body.nonce), body.proof));
  if (!hit) {
    g.__fulcrumWrongCodes = (g.__fulcrumWrongCodes ?? 0) + 1;
    if (g.__fulcrumWrongCodes >= MAX_WRONG) {
      g.__fulcrumWrongCodes = 0;
      await db().haPairingCode.updateMany({ where: { usedAt: null }, data: { usedAt: new Date() } });
    }
    return refuse('HA_PAIRING_CODE_INVALID', { minutes: CODE_TTL_MS / 60_000 });
  }
  if (hit.usedAt) return refuse('HA_PAIRING_CODE_USED', { at: hit.usedAt.toISOString() });
  if (hit.expiresAt.getTime() <= Date.now()) return refuse('HA_PAIRING_CODE_EXPIRED', { at: hit.expiresAt.toISOString() });
  g.__fulcrumWrongCodes = 0;
  const pairKey = randomBytes(32);
  const consoleUrl = ownConsoleUrl(seen.localAddress);
  await mutate(
    async (tx) => {
      const claimed = await tx.haPairingCode.updateMany({ where: { id: hit.id, usedAt: null }, data: { usedAt: new Date() } });
      if (claimed.count !== 1) throw new ApiError('HA_PAIRING_CODE_USED', { at: new Date().toISOString() });
      await tx.haPeer.create({
        data: {
          id: 1,
          role: 'primary',
          localName: own.name,
          peerName: body.name,
          peerUrl: body.url,
          peerConsoleUrl: body.consoleUrl,
          peerFingerprint: seen.clientFingerprint,
          pairKey: sealPairKey(pairKey),
        },
      });
    },
    () =>
      audit('success', `Paired with ${body.name} (${body.url}) as its primary; its certificate ${seen.clientFingerprint} is pinned.`, {
        peer: body.name,
        url: body.url,
        fingerprint: seen.clientFingerprint,
        role: 'primary',
      }),
    { isCandidateChange: false },
  );
  publishHa('pairing');
  return {
    name: own.name,
    consoleUrl,
    proof: pairingProof(hit.codeHash, 'primary', own.fingerprint, seen.clientFingerprint, body.nonce),
    pairKey: pairKey.toString('base64'),
  };
}

const PairAnswer = z.strictObject({ name: z.string().min(1).max(63), consoleUrl: z.string(), proof: z.string(), pairKey: z.string() });

/** On the secondary: pair with the primary at `url` using the code its HA page shows. */
export async function pairWith(opts: { url: string; code: string; audit: AuditFor }) {
  await refuseIfPaired();
  const own = identity();
  const codeHash = pairingCodeHash(opts.code);
  const nonce = newNonce();
  let sentFrom = '';
  const answer = await peerCall({
    url: opts.url,
    method: 'POST',
    path: '/peer/v1/pair',
    bodyFor: ({ serverFingerprint, localAddress }) => {
      sentFrom = localAddress;
      return {
        nonce,
        proof: pairingProof(codeHash, 'secondary', serverFingerprint, own.fingerprint, nonce),
        name: own.name,
        url: ownPeerUrl(localAddress),
        consoleUrl: ownConsoleUrl(localAddress),
      };
    },
  });
  if (answer.status >= 400) {
    // The primary's own refusal (a wrong, expired or used code) keeps its code and sentence.
    const e = (answer.body as { error?: { code?: string; message?: string } })?.error;
    const known = e?.code && /^HA_/.test(e.code) ? (e.code as ErrorCode) : undefined;
    if (!known) expectOk(opts.url, answer);
    const err = new ApiError(known!, {});
    (err as { message: string }).message = e!.message ?? err.message;
    throw err;
  }
  const a = PairAnswer.safeParse(answer.body);
  if (!a.success || !isProofValid(pairingProof(codeHash, 'primary', answer.serverFingerprint, own.fingerprint, nonce), a.data.proof)) {
    throw new ApiError('HA_PAIRING_PROOF', { url: opts.url });
  }
  const row = await mutate(
    (tx) =>
      tx.haPeer.create({
        data: {
          id: 1,
          role: 'secondary',
          localName: own.name,
          peerName: a.data.name,
          peerUrl: opts.url,
          peerConsoleUrl: a.data.consoleUrl,
          peerFingerprint: answer.serverFingerprint,
          pairKey: sealPairKey(Buffer.from(a.data.pairKey, 'base64')),
        },
      }),
    (r) =>
      opts.audit({
        action: 'ha.pair',
        objectType: 'ha-pair',
        objectId: String(r.id),
        after: { peer: r.peerName, url: r.peerUrl, fingerprint: r.peerFingerprint, role: 'secondary', from: sentFrom },
        outcome: 'success',
        message: `Paired with ${r.peerName} (${r.peerUrl}) as its secondary; its certificate ${r.peerFingerprint} is pinned.`,
      }),
    { isCandidateChange: false },
  );
  publishHa('pairing');
  return row;
}

/** Forgets the peer here, and tells the peer to forget this node (best effort: it may be gone for good). */
export async function unpair(opts: { audit: AuditFor }) {
  const peer = await loadPeer();
  if (!peer) throw new ApiError('HA_NOT_PAIRED');
  await mutate(
    (tx) => tx.haPeer.delete({ where: { id: 1 } }),
    () =>
      opts.audit({
        action: 'ha.unpair',
        objectType: 'ha-pair',
        objectId: '1',
        before: { peer: peer.peerName, url: peer.peerUrl, role: peer.role },
        outcome: 'success',
      }),
    { isCandidateChange: false },
  );
  publishHa('pairing');
  const told = await peerCall({ url: peer.peerUrl, pin: peer.peerFingerprint, method: 'POST', path: '/peer/v1/unpair', body: {} }).then(
    (a) => a.status < 300,
    () => false,
  );
  return { peer: peer.peerName, isPeerTold: told };
}

/** On either node, for the peer link: the peer forgot this pair. */
export async function acceptUnpair(peer: { peerName: string; peerUrl: string; role: string }, sourceAddress: string) {
  await mutate(
    (tx) => tx.haPeer.deleteMany({ where: { id: 1 } }),
    () => ({
      actor: `peer ${peer.peerName}`,
      actorRole: null,
      sourceAddress,
      requestId: `peer-${newNonce()}`,
      action: 'ha.unpair',
      objectType: 'ha-pair',
      objectId: '1',
      before: { peer: peer.peerName, url: peer.peerUrl, role: peer.role },
      outcome: 'success',
      message: `${peer.peerName} unpaired the nodes.`,
    }),
    { isCandidateChange: false },
  );
  publishHa('pairing');
}
