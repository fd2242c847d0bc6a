/**
 * Layer 7 stick tables sent to the HA peer, so a client keeps its real server after a failover (issue 12 item 3):
 * what the layer 7 workers learn (source-IP, application-cookie and RDP-cookie persistence; inserted cookies need
 * nothing, the client carries them) goes over the HA link to the other nodes, which keep it for when they take the
 * VIPs. The IPVS sync daemon does the same for layer 4 connections; HAProxy's `peers` section for its stick tables.
 *
 *   l7 workers ─ stick ─► primary (engine/l7) ─ onStick ─► StickReplicator ═ UDP ═► peer's StickReplicator
 *                                                                                      └► peer's l7 mergeStick
 *
 * Wire format: one UDP datagram per batch (flushed FLUSH_MS after its first entry, or when the next entry would pass
 * MAX_DATAGRAM), JSON:
 *
 *   { "v": 1, "entries": [[table, key, server, ttlMs], …] }       table "<service>/source" | "/app" | "/rdp"
 *   { "v": 1, "resync": true }                                   "send me everything you hold"
 *
 * The remaining lifetime travels, not the expiry time, so the nodes' clocks need not agree. UDP because an entry
 * lost is only a refresh late (the workers send one again after a quarter of the timeout) and a peer that is down
 * must cost the sender nothing; the same choice as the kernel's IPVS sync. Bound to this node's own address on the
 * HA interface and answering only datagrams from the configured peers' addresses: the trust of the HA link, as for
 * VRRPv3 adverts and the sync daemon (engine/ha/README.md). Every datagram is parsed by StickDatagramSchema; one
 * that fails, or comes from elsewhere, is dropped and counted, and the first of each kind is logged.
 *
 * Full resync on join, as HAProxy's peers do: a node that opens its link asks every peer for what it holds; a peer
 * asked sends its whole table (`entries()`: the layer 7 primary's live entries) to that peer alone, in batches, a
 * few at a time so a large table does not overrun the peer's socket buffer. A request lost on the way costs only what
 * the workers' refreshes bring back within a quarter of each timeout.
 */
import dgram from 'node:dgram';
import { z } from 'zod';
import type { StickEntry } from '../l7/persistence.ts';
import { canonical } from '../l4/addr.ts';
import type { Log } from './supervisor.ts';

/** Next to the IPVS sync daemon's 8848; FULCRUM_STICK_SYNC_PORT for tests that run two nodes on one host. */
export const STICK_SYNC_PORT = 8850;
export const stickSyncPort = () => Number(process.env.FULCRUM_STICK_SYNC_PORT) || STICK_SYNC_PORT;
/** Below the payload of a 1500-byte MTU, so a batch is never fragmented on the HA link. */
export const MAX_DATAGRAM = 1400;
/** Entries made together (a burst of new clients) travel together; 100 ms is far inside any persistence timeout. */
const FLUSH_MS = 100;

const ResyncSchema = z.strictObject({ v: z.literal(1), resync: z.literal(true) });
const BatchSchema = z.strictObject({
  v: z.literal(1),
  entries: z
    .array(
      z.tuple([
        z.string().min(1).max(300),
        z.string().min(1).max(8192),
        z.string().min(1).max(300),
        z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 3600_000),
      ]),
    )
    .min(1)
    .max(1000),
});
const StickDatagramSchema = z.union([BatchSchema, ResyncSchema]);
/** The bytes of a batch around its entries: `{"v":1,"entries":[` and `]}`. */
const ENVELOPE = Buffer.byteLength('{"v":1,"entries":[]}');
/** Datagrams of a resync sent per turn of the event loop: the peer's receive buffer drains between turns. */
const RESYNC_BURST = 16;

export interface StickReplicatorOptions {
  /** This node's own address on the HA interface: bound, and the source of what it sends. */
  address: string;
  /** The other nodes' addresses: where entries go, and the only sources accepted. */
  peers: string[];
  port?: number;
  /** An entry from a peer, with its expiry on this node's clock. */
  onEntry(table: string, key: string, entry: StickEntry): void;
  /** Every live entry this node holds, for a peer that asks for a resync (none: it answers with nothing). */
  entries?: () => Iterable<[string, string, StickEntry]>;
  log: Log;
  now?: () => number;
}

export interface StickSyncStatus {
  address: string;
  port: number;
  peers: string[];
  /** Entries sent and received, and datagrams dropped (from an address that is no peer, or not well formed). */
  sent: number;
  received: number;
  refused: number;
  /** Resyncs: asked of the peers when this link opened, and answered to a peer that asked (entries sent in them count in `sent`). */
  resyncsAsked: number;
  resyncsAnswered: number;
}

export class StickReplicator {
  private readonly socket: dgram.Socket;
  private readonly port: number;
  private readonly peers: Set<string>;
  private readonly now: () => number;
  private batch: [string, string, string, number][] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly counts = { sent: 0, received: 0, refused: 0, resyncsAsked: 0, resyncsAnswered: 0 };
  private readonly logged = new Set<string>();
  private isClosed = false;

  private constructor(private readonly opts: StickReplicatorOptions) {
    this.port = opts.port ?? stickSyncPort();
    this.peers = new Set(opts.peers.map(canonical));
    this.now = opts.now ?? Date.now;
    this.socket = dgram.createSocket({ type: opts.address.includes(':') ? 'udp6' : 'udp4' });
    this.socket.on('message', (msg, from) => this.receive(msg, from.address));
    this.socket.on('error', (e) => opts.log('error', `stick-table sync: ${e.message}`));
  }

  /** Bound to `address` (ip_nonlocal_bind lets it bind before the address is up, as layer 7's listeners do). */
  static async open(opts: StickReplicatorOptions): Promise<StickReplicator> {
    const r = new StickReplicator(opts);
    await new Promise<void>((resolve, reject) => {
      r.socket.once('error', reject);
      r.socket.bind(r.port, opts.address, () => {
        r.socket.off('error', reject);
        resolve();
      });
    });
    r.askResync();
    return r;
  }

  /** Joining: every peer is asked for its whole table. */
  private askResync(): void {
    const ask = Buffer.from(JSON.stringify({ v: 1, resync: true }));
    for (const peer of this.peers) {
      this.counts.resyncsAsked++;
      this.socket.send(ask, this.port, peer, (e) => e && this.once(`send ${peer}`, `stick-table sync: could not send to ${peer}: ${e.message}`));
    }
  }

  /** A peer joined: everything live here goes to it alone, RESYNC_BURST datagrams per turn of the event loop. */
  private answerResync(peer: string): void {
    this.counts.resyncsAnswered++;
    const now = this.now();
    const datagrams: Buffer[] = [];
    let batch: [string, string, string, number][] = [];
    let bytes = 0;
    const close = () => {
      if (batch.length) datagrams.push(Buffer.from(JSON.stringify({ v: 1, entries: batch })));
      this.counts.sent += batch.length;
      batch = [];
      bytes = 0;
    };
    for (const [table, key, e] of this.opts.entries?.() ?? []) {
      const ttl = Math.round(e.expiresAt - now);
      if (ttl <= 0) continue;
      const item: [string, string, string, number] = [table, key, e.server, ttl];
      const size = Buffer.byteLength(JSON.stringify(item)) + 1;
      if (batch.length > 0 && (ENVELOPE + bytes + size > MAX_DATAGRAM || batch.length === 1000)) close();
      batch.push(item);
      bytes += size;
    }
    close();
    const sendSome = (from: number) => {
      for (const d of datagrams.slice(from, from + RESYNC_BURST))
        this.socket.send(d, this.port, peer, (e) => e && this.once(`send ${peer}`, `stick-table sync: could not send to ${peer}: ${e.message}`));
      if (from + RESYNC_BURST < datagrams.length) setImmediate(() => !this.isClosed && sendSome(from + RESYNC_BURST));
    };
    sendSome(0);
  }

  /** Same address, port and peers: nothing to rebind. */
  isFor(address: string, peers: string[]): boolean {
    return address === this.opts.address && peers.length === this.peers.size && peers.every((p) => this.peers.has(canonical(p)));
  }

  /** An entry this node made or refreshed: batched to every peer. */
  send(table: string, key: string, entry: StickEntry): void {
    const ttl = Math.round(entry.expiresAt - this.now());
    if (ttl <= 0) return;
    const item: [string, string, string, number] = [table, key, entry.server, ttl];
    const bytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (this.batch.length > 0 && ENVELOPE + this.batchBytes + bytes > MAX_DATAGRAM) this.flush();
    this.batch.push(item);
    this.batchBytes += bytes;
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const data = Buffer.from(JSON.stringify({ v: 1, entries: this.batch }));
    this.counts.sent += this.batch.length;
    this.batch = [];
    this.batchBytes = 0;
    for (const peer of this.peers)
      this.socket.send(data, this.port, peer, (e) => e && this.once(`send ${peer}`, `stick-table sync: could not send to ${peer}: ${e.message}`));
  }

  private receive(msg: Buffer, from: string): void {
    if (!this.peers.has(canonical(from))) {
      this.counts.refused++;
      return this.once(`from ${from}`, `stick-table sync: dropped a datagram from ${from}, which is no peer of this node`);
    }
    let parsed: z.infer<typeof StickDatagramSchema>;
    try {
      parsed = StickDatagramSchema.parse(JSON.parse(msg.toString('utf8')));
    } catch (e) {
      this.counts.refused++;
      return this.once(
        `bad ${from}`,
        `stick-table sync: dropped a datagram from ${from} that is not a batch of entries (${(e as Error).message.slice(0, 200)})`,
      );
    }
    if ('resync' in parsed) return this.answerResync(canonical(from));
    const now = this.now();
    for (const [table, key, server, ttl] of parsed.entries) this.opts.onEntry(table, key, { server, expiresAt: now + ttl });
    this.counts.received += parsed.entries.length;
  }

  /** Logs the first problem of each kind only: a misconfigured peer sends one every few milliseconds. */
  private once(kind: string, message: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.opts.log('warn', message);
  }

  status(): StickSyncStatus {
    return { address: this.opts.address, port: this.port, peers: [...this.peers], ...this.counts };
  }

  /** Closes; a batch not yet sent is dropped (the node is leaving: its peers keep what they had). */
  close(): Promise<void> {
    this.isClosed = true;
    clearTimeout(this.timer);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
