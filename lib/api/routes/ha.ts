/**
 * The HA pair in the console's API (lib/ha/): status of both nodes, pairing, sync, hand-over, failover history.
 * Pairing and unpairing are an admin's (config:write); a sync and a hand-over are operational (config:apply).
 * These routes work on a secondary too (lib/ha/guard.ts lets the `ha` tag through).
 */
import { z } from 'zod';
import { defineRoute } from '../route.ts';
import { identity } from '../../ha/identity.ts';
import { loadPeer, localStatus, pairWarnings, peerView } from '../../ha/state.ts';
import { createPairingCode, pairWith, unpair, CODE_TTL_MS } from '../../ha/pairing.ts';
import { normalisePairingCode } from '../../ha/pairing-code.ts';
import { syncWorker } from '../../ha/sync.ts';
import { endStandby, handOver, handoverState } from '../../ha/handover.ts';
import { haHistory } from '../../ha/history.ts';
import { ApiError } from '../../errors.ts';

async function haView() {
  const [local, peer] = await Promise.all([localStatus(), loadPeer()]);
  const view = peerView();
  return {
    local: { ...local, fingerprint: identity().fingerprint },
    pair: peer
      ? {
          role: peer.role,
          peerName: peer.peerName,
          peerUrl: peer.peerUrl,
          peerConsoleUrl: peer.peerConsoleUrl,
          peerFingerprint: peer.peerFingerprint,
          pairedAt: peer.pairedAt,
          lastSyncAt: peer.lastSyncAt,
          lastSyncHash: peer.lastSyncHash,
          lastSyncError: peer.lastSyncError,
        }
      : null,
    peer: peer ? { status: view.status ?? null, seenAt: view.seenAt ?? null, error: view.error ?? null } : null,
    // Unknown (null) while the peer does not answer: what it said last may be out of date.
    isInSync:
      peer && view.status && !view.error
        ? (view.status.running?.hash ?? null) === (local.running?.hash ?? null) &&
          view.status.usersHash === local.usersHash &&
          view.status.statesHash === local.statesHash
        : null,
    warnings: pairWarnings(local, view, peer),
    handover: handoverState(),
    pairingCodeMinutes: CODE_TTL_MS / 60_000,
  };
}

const PairBody = z.strictObject({
  url: z
    .string({ error: "Give the primary's peer address, such as https://fulcrum-a:9444." })
    .min(1, "Give the primary's peer address, such as https://fulcrum-a:9444.")
    .max(300),
  code: z
    .string({ error: 'Give the pairing code shown on the primary.' })
    .refine((c) => normalisePairingCode(c) !== undefined, 'A pairing code is 12 letters and digits, such as 7K2M-Q9PX-4D1R; read it again from the primary.'),
});

export const haRoutes = [
  defineRoute({
    method: 'GET',
    path: '/ha',
    permission: 'config:read',
    tag: 'ha',
    action: 'ha.read',
    objectType: 'ha-pair',
    summary: 'Both nodes of the HA pair: roles, versions, VRRP states, sync status and warnings',
    async handler() {
      return { body: await haView() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/pairing-code',
    permission: 'config:write',
    tag: 'ha',
    action: 'ha.pairing-code',
    objectType: 'ha-pair',
    summary: 'Make a one-time pairing code on the node that becomes the primary',
    async handler(ctx) {
      const r = await createPairingCode({ actor: ctx.actor.name, audit: ctx.audit });
      return { status: 201, body: r };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/pair',
    permission: 'config:write',
    tag: 'ha',
    action: 'ha.pair',
    objectType: 'ha-pair',
    summary: 'Pair this node, as the secondary, with the primary that showed the code',
    body: PairBody,
    async handler(ctx) {
      await pairWith({ url: ctx.body.url.trim().replace(/\/+$/, ''), code: ctx.body.code, audit: ctx.audit });
      // Catch up at once: the primary's configuration, certificates and users.
      await syncWorker().runOnce();
      return { status: 201, body: await haView() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/unpair',
    permission: 'config:write',
    tag: 'ha',
    action: 'ha.unpair',
    objectType: 'ha-pair',
    summary: 'Forget the peer (on both nodes when the peer answers)',
    body: z.strictObject({ confirm: z.literal(true, { error: 'Confirm unpairing with "confirm": true.' }) }),
    async handler(ctx) {
      return { body: await unpair({ audit: ctx.audit }) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/sync',
    permission: 'config:apply',
    tag: 'ha',
    action: 'ha.sync',
    objectType: 'ha-pair',
    summary: 'Compare with the peer now and send (primary) or fetch (secondary) what differs',
    async handler() {
      if (!(await loadPeer())) throw new ApiError('HA_NOT_PAIRED');
      await syncWorker().runOnce();
      return { body: await haView() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/handover',
    permission: 'config:apply',
    tag: 'ha',
    action: 'ha.handover',
    objectType: 'ha-pair',
    summary: 'Move the service to the peer: this node gives up its virtual IPs and stands by',
    body: z.strictObject({
      confirm: z.literal(true, { error: 'Confirm the hand-over with "confirm": true.' }),
      reason: z.string().trim().min(1, 'Say why (it goes in the audit trail on both nodes).').max(500),
    }),
    async handler(ctx) {
      const state = await handOver({ actor: ctx.actor.name, reason: ctx.body.reason, audit: ctx.audit });
      return { status: 202, body: state };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/ha/handover/end',
    permission: 'config:apply',
    tag: 'ha',
    action: 'ha.handover-end',
    objectType: 'ha-pair',
    summary: 'End standing by: this node may be active again',
    async handler(ctx) {
      return { body: { handover: await endStandby({ actor: ctx.actor.name, audit: ctx.audit }) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/ha/history',
    permission: 'config:read',
    tag: 'ha',
    action: 'ha.history',
    objectType: 'ha-pair',
    summary: 'Failover history: VRRP state changes and keepalived events on this node, newest first',
    query: z.strictObject({
      limit: z.coerce.number().int().min(1, 'Give limit from 1 to 500.').max(500, 'Give limit from 1 to 500.').default(100),
      before: z.coerce.number().int().optional(),
    }),
    async handler(ctx) {
      return { body: { items: await haHistory(ctx.query) } };
    },
  }),
];
