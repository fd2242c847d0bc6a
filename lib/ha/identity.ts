/**
 * This console as its peer sees it, and the HA pair's settings (read from the environment, like lib/env.ts):
 *
 *   FULCRUM_HA_NODE        this node's name (the engine's HA block uses the same names); default the host name
 *   FULCRUM_PEER_PORT      the peer link's port (mutual TLS, consoles only); default 9444
 *   FULCRUM_PEER_URL       the peer link's address as the peer should call it; default https://<the address this
 *                          node used to reach the peer>:<port>
 *   FULCRUM_PUBLIC_URL     where a person reaches this console (named in "make changes on …"); default
 *                          https://<that same address>:<FULCRUM_PORT>
 *   FULCRUM_HA_HEARTBEAT_MS  how often each side asks the other for its status; default 5000
 *   FULCRUM_HA_RETRY_MS    the first retry after a failed sync (doubling to 60 s); default 1000
 *
 * The peer link uses the console's own TLS material (lib/tls.ts): the same certificate, pinned by the peer at
 * pairing by its SHA-256 fingerprint.
 */
import os from 'node:os';
import { X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { unmappedAddress } from '../../engine/config/index.ts';
import { consoleEnv } from '../env.ts';
import { ensureConsoleCertificate } from '../tls.ts';

export interface Identity {
  name: string;
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
}

const g = globalThis as unknown as { __fulcrumHaIdentity?: { dataDir: string; identity: Identity }; __fulcrumPeerPort?: number };

export function identity(): Identity {
  const { dataDir } = consoleEnv();
  if (g.__fulcrumHaIdentity?.dataDir === dataDir) return g.__fulcrumHaIdentity.identity;
  const tls = ensureConsoleCertificate(dataDir);
  const id: Identity = { name: nodeName(), cert: tls.cert, key: tls.key, fingerprint: new X509Certificate(tls.cert).fingerprint256 };
  g.__fulcrumHaIdentity = { dataDir, identity: id };
  return id;
}

export function nodeName(): string {
  return (process.env.FULCRUM_HA_NODE || os.hostname().split('.')[0] || 'fulcrum').slice(0, 63);
}

function positive(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export const heartbeatMs = () => positive('FULCRUM_HA_HEARTBEAT_MS', 5000);
export const retryBaseMs = () => positive('FULCRUM_HA_RETRY_MS', 1000);
export const RETRY_MAX_MS = 60_000;

export const configuredPeerPort = () => positive('FULCRUM_PEER_PORT', 9444);
/** The port the peer link really listens on (an ephemeral one in tests), set by the peer server once listening. */
export const setListeningPeerPort = (port: number) => void (g.__fulcrumPeerPort = port);
export const peerPort = () => g.__fulcrumPeerPort ?? configuredPeerPort();

const hostPart = (address: string) => (isIPv6(address) ? `[${address}]` : address);

/** This node's peer link as the peer should call it; `localAddress`: the address this node reached the peer from. */
export function ownPeerUrl(localAddress: string): string {
  return process.env.FULCRUM_PEER_URL || `https://${hostPart(unmappedAddress(localAddress))}:${peerPort()}`;
}

export function ownConsoleUrl(localAddress: string): string {
  const env = consoleEnv();
  return process.env.FULCRUM_PUBLIC_URL || `${env.isInsecureHttp ? 'http' : 'https'}://${hostPart(unmappedAddress(localAddress))}:${env.port}`;
}
