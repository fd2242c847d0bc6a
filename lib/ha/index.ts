/**
 * The console's side of the HA pair (issue 12; the engine's side is engine/ha/). Started once per console process
 * (server.ts, and the two-console tests): the peer link, the sync loop, and the failover history recorder.
 *
 *   file             what
 *   identity.ts      this node's name, certificate and fingerprint, addresses, settings
 *   pairing-code.ts  one-time codes and the proofs bound to both certificates (pure)
 *   pairing.ts       pairing and unpairing, both sides
 *   peer-client.ts   mutual TLS calls to the peer, pinned
 *   peer-server.ts   the peer link listener and its routes
 *   bundle.ts        what a sync sends: the running version (same hash), sealed keys, users and API keys
 *   sync.ts          push after applies, heartbeat, catch-up, backoff
 *   state.ts         the stored peer, this node's status, the peer's last status, warnings
 *   guard.ts         the secondary refuses edits
 *   handover.ts      "move the service to the peer"
 *   history.ts       failover history from the engine's HA events
 */
import type https from 'node:https';
import { startPeerServer } from './peer-server.ts';
import { syncWorker } from './sync.ts';
import { startHaHistory } from './history.ts';

export async function startHa(opts: { host: string; port: number }): Promise<{ server: https.Server; close(): void }> {
  const server = await startPeerServer(opts);
  const stopHistory = startHaHistory();
  syncWorker().start();
  return {
    server,
    close() {
      syncWorker().close();
      stopHistory();
      server.close();
      server.closeAllConnections?.();
    },
  };
}
