/**
 * The IPVS client: generic netlink transport for the codec's commands, on npm `netlink@0.3.0` (pinned: its API is
 * not stable). Only the reconciler, the CLI's read-only views and tests call it.
 *
 * Two paths:
 *  - reads (dumps, GET_INFO, GET_CONFIG) go through the library's request(), one message each, several in flight;
 *  - changes go through `exec()`, which frames many requests into one datagram (the kernel's netlink_rcv_skb walks
 *    every message of a datagram in order, within the sendmsg call) and matches the ACKs by sequence number. A table
 *    of 1,000 services × 4 servers is ~40 sendmsg calls instead of 5,000 round trips. Order is preserved: one socket,
 *    one FIFO send queue, and the kernel handles a datagram's messages in sequence.
 * `mutations` counts every change message sent, for the record and the benchmark.
 *
 * The engine does not call it on its own event loop: ipvs-process.ts runs it in a child process (it says why), and
 * the engine holds an IpvsPort, this class's calls over IPC. The CLI and the kernel tests use it directly.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { EngineError } from '../errors.ts';
import { frame, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_ERROR, readErrno } from './attrs.ts';
import {
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  encodeCommand,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  type Command,
} from './codec.ts';
import { errnoName, kernelError } from './kernel-errors.ts';
import { encodeMessages, resultsOf } from './messages.ts';
import { serviceKey, type Info, type ObservedDestination, type ObservedService, type ServiceId, type SyncDaemon, type Timeouts } from './model.ts';
import { parseProcIpVs } from './procfs.ts';

const require = createRequire(import.meta.url);

/**
 * Messages per datagram. Only the last message of a datagram asks for an ACK; the others are answered only when
 * refused (netlink_rcv_skb acks on NLM_F_ACK or error). Since the kernel handles a datagram's messages in order, the
 * last ACK arriving means every earlier refusal has been queued to us already. Each refusal costs ~1 KiB of the
 * receive buffer (skb truesize); 128 stay under the default 208 KiB even when SO_RCVBUF cannot be raised, so no
 * refusal is lost — and the reconciler's re-read would catch one that was.
 */
const BATCH = 128;
/** The kernel answers within sendmsg; 10 s without an ACK means the socket dropped it, not that IPVS is slow. */
const ACK_TIMEOUT_MS = 10_000;
/** A dump of 10,000 services returns in well under a second even in UML; 30 s means the socket is wedged. */
const DUMP_TIMEOUT_MS = 30_000;
/**
 * Reading sockets. The kernel runs one dump per socket at a time, and netlink@0.3.0 assembles one multipart reply at
 * a time ("Multipart message not terminated properly" when two interleave), so parallel dumps need parallel sockets.
 * They matter because a round trip costs a scheduler wake-up (≈5 ms in UML at HZ=100, tens of µs on hardware):
 * reading 1,000 services' destinations over 16 sockets takes 1/16 of the waiting.
 */
const READERS = 16;

const align4 = (n: number) => (n + 3) & ~3;
/** Where each netlink message of a run of messages begins. */
function messageStarts(buf: Buffer): number[] {
  const starts: number[] = [];
  for (let off = 0; off + 16 <= buf.length; off += align4(buf.readUInt32LE(off))) starts.push(off);
  return starts;
}

export interface ExecResult {
  command: Command;
  ok: boolean;
  /** errno name when the kernel refused (or when it answered a harmless EEXIST/ENOENT). */
  errno?: string;
  error?: EngineError;
}

interface RawMsg {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}
interface NlSocket {
  request(type: number, data: Buffer[], opts: object): Promise<[RawMsg[], unknown]>;
  generateSeq(): number;
  on(ev: 'message', fn: (m: RawMsg[]) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  off(ev: 'message', fn: (m: RawMsg[]) => void): void;
  /** The library's table of sequence numbers awaited (a reply to one goes to its callback, multipart parts gathered
   * and the closing NLMSG_DONE removed), and the removal from it. */
  makeRef(seq: number, cb: (err: Error | null, msgs: RawMsg[]) => void): number;
  dropRef(seq: number): void;
  requests: Map<number, unknown>;
  socket: { send(b: Buffer, o: object | undefined, cb: (e?: Error) => void): void; ref(): void; unref(): void };
  setRecvBufferSize(n: number): void;
  close(): void;
}

/**
 * What execAndRead reads back after its changes: each service exactly (GET_SERVICE + GET_DEST), or, for a bulk change,
 * tableSummary() limited to these service keys.
 */
export type ReadBack = { services: readonly ServiceId[] } | { summary: ReadonlySet<string> };

/** What the engine calls: an IpvsClient here, or the same calls answered by the IPVS child process. */
export interface IpvsPort {
  readonly mutations: number;
  exec(commands: readonly Command[]): Promise<ExecResult[]>;
  /** exec(), then read back what it changed, in one call: through the helper process one round trip instead of two. */
  execAndRead(commands: readonly Command[], readBack: ReadBack): Promise<{ results: ExecResult[]; observed: ObservedService[] }>;
  services(): Promise<ObservedService[]>;
  service(id: ServiceId): Promise<ObservedService | undefined>;
  destinations(service: ServiceId): Promise<ObservedDestination[]>;
  table(only?: ReadonlySet<string>): Promise<ObservedService[]>;
  tableSummary(only?: ReadonlySet<string>): Promise<ObservedService[]>;
  info(): Promise<Info>;
  timeouts(): Promise<Timeouts>;
  setTimeouts(t: Partial<Timeouts>): Promise<ExecResult>;
  daemons(): Promise<SyncDaemon[]>;
  startDaemon(d: SyncDaemon): Promise<ExecResult>;
  stopDaemon(state: SyncDaemon['state']): Promise<ExecResult>;
  close(): void;
}

export class IpvsClient implements IpvsPort {
  mutations = 0;
  readonly familyId: number;
  private readonly nl: NlSocket;
  private readonly pending = new Map<number, (errno: number) => void>();
  private readonly onMessage = (msgs: RawMsg[]) => {
    for (const m of msgs) {
      if (m.type !== NLMSG_ERROR) continue;
      const done = this.pending.get(m.seq);
      if (done) {
        this.pending.delete(m.seq);
        done(readErrno(m.data));
      }
    }
  };

  /** Socket errors seen (ENOBUFS when answers overran the receive buffer). Without a listener, netlink@0.3.0's
   * 'error' event would throw and take the engine down. */
  socketErrors: Error[] = [];
  private readonly onError = (e: Error) => this.socketErrors.push(e);

  private constructor(nl: NlSocket, familyId: number) {
    this.nl = nl;
    this.familyId = familyId;
    nl.on('message', this.onMessage);
    nl.on('error', this.onError);
  }

  /** Opens the socket and resolves the IPVS family. Throws IPVS_UNAVAILABLE or IPVS_PERMISSION with the reason. */
  static async open(): Promise<IpvsClient> {
    let netlink: typeof import('netlink');
    try {
      netlink = require('netlink');
    } catch (e) {
      throw new EngineError('IPVS_UNAVAILABLE', { reason: `the netlink module does not load: ${(e as Error).message}` });
    }
    let g: ReturnType<typeof netlink.createGenericNetlink>;
    try {
      // No peeking, a 64 KiB buffer: one recvmsg per datagram instead of two (dump datagrams stay under 32 KiB).
      g = netlink.createGenericNetlink({ messagePeeking: false, msgBufferSize: 65536 } as never);
    } catch (e) {
      throw new EngineError('IPVS_UNAVAILABLE', { reason: `cannot open a generic netlink socket: ${(e as Error).message}` });
    }
    try {
      // 5 s: the controller answers at once; a module autoload (Debian loads ip_vs on this lookup) takes < 1 s.
      const [fam] = await g.ctrlRequest(netlink.genl.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, { timeout: 5000 });
      if (!fam?.familyId) throw new Error('no family id');
      const nl = g.socket as unknown as NlSocket;
      try {
        nl.setRecvBufferSize(4 * 1024 * 1024);
      } catch {
        /* capped by net.core.rmem_max; BATCH is sized for the default */
      }
      return new IpvsClient(nl, fam.familyId);
    } catch (e) {
      g.socket.close();
      const msg = (e as Error).message;
      if (/EPERM|EACCES/.test(msg)) throw new EngineError('IPVS_PERMISSION');
      const hasProc = fs.existsSync('/proc/net/ip_vs');
      throw new EngineError('IPVS_UNAVAILABLE', {
        reason: /ENOENT/.test(msg)
          ? hasProc
            ? 'the IPVS netlink family is not registered'
            : 'no ip_vs module in this kernel; CONFIG_IP_VS is unset or the module cannot be loaded'
          : msg,
      });
    }
  }

  close(): void {
    this.nl.off('message', this.onMessage);
    this.nl.close();
    for (const r of this.readers) r.close();
    this.readers = [];
    this.idle = [];
  }

  /**
   * Sends changes in order, many per datagram, and reports each. EEXIST on add and ESRCH/ENOENT on delete count as
   * success. Never throws for a refused command; throws only when the socket itself fails.
   */
  async exec(commands: readonly Command[]): Promise<ExecResult[]> {
    return resultsOf(commands, await this.execMessages(encodeMessages(commands)));
  }

  /**
   * The sending half of exec(), for messages encodeMessages() made (the engine encodes, its IPVS helper sends: bytes
   * cross the process boundary, not 5,000 command objects). Sets each message's family, sequence number and, on the
   * last of each datagram, the ACK flag, in place. Answers the kernel's errno per message (0: done).
   */
  async execMessages(messages: Uint8Array): Promise<Int32Array> {
    const buf = Buffer.from(messages.buffer, messages.byteOffset, messages.byteLength);
    const starts = messageStarts(buf);
    const errnos = new Int32Array(starts.length);
    for (let i = 0; i < starts.length; i += BATCH) {
      const last = Math.min(i + BATCH, starts.length) - 1;
      const seqs: number[] = [];
      for (let k = i; k <= last; k++) {
        const seq = this.nl.generateSeq();
        seqs.push(seq);
        buf.writeUInt16LE(this.familyId, starts[k] + 4);
        buf.writeUInt16LE(NLM_F_REQUEST | (k === last ? NLM_F_ACK : 0), starts[k] + 6);
        buf.writeUInt32LE(seq >>> 0, starts[k] + 8);
      }
      const end = last + 1 < starts.length ? starts[last + 1] : buf.length;
      await this.sendBatch(buf.subarray(starts[i], end), seqs, (k, errno) => {
        errnos[i + k] = errno;
      });
    }
    return errnos;
  }

  /** One datagram: refusals arrive by sequence number; the last message's ACK closes it. */
  private async sendBatch(datagram: Buffer, seqs: readonly number[], answer: (index: number, errno: number) => void): Promise<void> {
    seqs.forEach((seq, k) => {
      if (k < seqs.length - 1) this.pending.set(seq, (errno) => answer(k, errno));
    });
    const lastSeq = seqs[seqs.length - 1];
    const closed = new Promise<number>((resolve) => this.pending.set(lastSeq, resolve));
    this.nl.socket.ref();
    const errorsBefore = this.socketErrors.length;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => this.nl.socket.send(datagram, undefined, (err) => (err ? reject(err) : resolve())));
      this.mutations += seqs.length;
      const lastErrno = await Promise.race([
        closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new EngineError('IPVS_KERNEL', {
                  operation: 'waiting for the kernel to acknowledge changes',
                  errno: `no answer in ${ACK_TIMEOUT_MS / 1000} s`,
                }),
              ),
            ACK_TIMEOUT_MS,
          );
        }),
      ]);
      answer(seqs.length - 1, lastErrno);
      if (this.socketErrors.length > errorsBefore) {
        // A refusal may have been dropped: the outcome of this batch is unknown, so nothing is reported as done.
        throw new EngineError('IPVS_KERNEL', {
          operation: "reading the kernel's answers",
          errno: `${this.socketErrors[this.socketErrors.length - 1].message}; the next apply re-reads the kernel and repairs`,
        });
      }
    } finally {
      clearTimeout(timer);
      for (const s of seqs) this.pending.delete(s);
      this.nl.socket.unref();
    }
  }

  /** execMessages() then the reads of execAndRead(), for the helper process. One service to read back and changes
   * that fit one datagram (a one-change apply): everything in one datagram (changeAndReadOne). */
  async execMessagesAndRead(messages: Uint8Array, readBack: ReadBack): Promise<{ errnos: Int32Array; observed: ObservedService[] }> {
    if ('services' in readBack && readBack.services.length === 1) {
      const buf = Buffer.from(messages.buffer, messages.byteOffset, messages.byteLength);
      const starts = messageStarts(buf);
      if (starts.length < BATCH) return this.changeAndReadOne(buf, starts, readBack.services[0]);
    }
    const errnos = messages.byteLength ? await this.execMessages(messages) : new Int32Array(0);
    return { errnos, observed: await this.readBack(readBack) };
  }

  /**
   * A one-service change and its confirming read in one datagram on the changing socket, one sendmsg:
   *
   *   [ change 1 … change n (the last asks for an ACK) | GET_SERVICE (no ACK: the answer is its reply) | GET_DEST, dump ]
   *
   * The kernel handles a datagram's messages in order within the sendmsg call (netlink_rcv_skb; a dump request
   * answers with its first part and the walk goes on), so the reads see every change, and all answers are queued
   * before sendmsg returns: one wake-up of the event loop reads them, where the two-step way (write, ACK, then two
   * reads on two reading sockets) took three sendmsg calls and as many turns of the loop. Only one dump can run on a
   * socket at a time, hence one service. The answers: refusals and the last change's ACK by sequence number (as
   * sendBatch), the service's reply (or ESRCH: not there) and the destinations' parts until NLMSG_DONE, matched by
   * sequence number through the library's request table (it strips the DONE and hands over the parts).
   */
  private async changeAndReadOne(buf: Buffer, starts: readonly number[], id: ServiceId): Promise<{ errnos: Int32Array; observed: ObservedService[] }> {
    const errnos = new Int32Array(starts.length);
    const seqs: number[] = [];
    for (let k = 0; k < starts.length; k++) {
      const seq = this.nl.generateSeq();
      seqs.push(seq);
      buf.writeUInt16LE(this.familyId, starts[k] + 4);
      buf.writeUInt16LE(NLM_F_REQUEST | (k === starts.length - 1 ? NLM_F_ACK : 0), starts[k] + 6);
      buf.writeUInt32LE(seq >>> 0, starts[k] + 8);
    }
    const readFrame = (c: Command, flags: number, seq: number) => {
      const e = encodeCommand(c);
      return frame({ type: this.familyId, flags, seq, pid: 0, cmd: e.cmd, version: IPVS_GENL_VERSION, attrs: e.attrs });
    };
    const svcSeq = this.nl.generateSeq();
    const destSeq = this.nl.generateSeq();
    const datagram = Buffer.concat([
      buf,
      readFrame({ cmd: 'get-service', service: id }, NLM_F_REQUEST, svcSeq),
      readFrame({ cmd: 'get-dests', service: id }, NLM_F_REQUEST | NLM_F_DUMP, destSeq),
    ]);
    const changes = new Map<number, number>(seqs.map((s, k) => [s, k]));
    const answered = (seq: number) =>
      new Promise<RawMsg[]>((resolve, reject) => this.nl.makeRef(seq, (err: Error | null, msgs: RawMsg[]) => (err ? reject(err) : resolve(msgs))));
    for (const [seq, k] of changes) this.pending.set(seq, (errno) => (errnos[k] = errno));
    const svcAnswer = answered(svcSeq);
    const destAnswer = answered(destSeq);
    const errorsBefore = this.socketErrors.length;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => this.nl.socket.send(datagram, undefined, (err) => (err ? reject(err) : resolve())));
      this.mutations += seqs.length;
      const [svcMsgs, destMsgs] = await Promise.race([
        Promise.all([svcAnswer, destAnswer]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new EngineError('IPVS_KERNEL', {
                  operation: 'waiting for the kernel to answer changes and their read-back',
                  errno: `no answer in ${ACK_TIMEOUT_MS / 1000} s`,
                }),
              ),
            ACK_TIMEOUT_MS,
          );
        }),
      ]);
      // The reads come after the changes in the datagram, so their answers come after every change's answer.
      if (seqs.length && this.pending.has(seqs[seqs.length - 1]))
        throw new EngineError('IPVS_KERNEL', { operation: "reading the kernel's answers", errno: 'the changes were answered out of order' });
      if (this.socketErrors.length > errorsBefore) {
        throw new EngineError('IPVS_KERNEL', {
          operation: "reading the kernel's answers",
          errno: `${this.socketErrors[this.socketErrors.length - 1].message}; the next apply re-reads the kernel and repairs`,
        });
      }
      const payloads = (c: Command, msgs: RawMsg[]): Buffer[] => {
        const out: Buffer[] = [];
        for (const m of msgs) {
          if (m.type === NLMSG_ERROR) {
            const errno = readErrno(m.data);
            if (errno !== 0 && ['ESRCH', 'ENOENT'].includes(errnoName(errno))) return [];
            if (errno !== 0) throw kernelError(c, errno);
            continue;
          }
          if (m.type === this.familyId) out.push(m.data.subarray(4));
        }
        return out;
      };
      const [p] = payloads({ cmd: 'get-service', service: id }, svcMsgs);
      const s = p ? decodeService(p) : undefined;
      if (s)
        s.destinations = payloads({ cmd: 'get-dests', service: id }, destMsgs)
          .map((x) => decodeDestination(x, id.family))
          .filter((d): d is ObservedDestination => !!d);
      return { errnos, observed: s ? [s] : [] };
    } finally {
      clearTimeout(timer);
      for (const seq of seqs) this.pending.delete(seq);
      for (const seq of [svcSeq, destSeq]) if (this.nl.requests.has(seq)) this.nl.dropRef(seq);
    }
  }

  /** The reads start once the last change is acknowledged, so they see every change. Services the kernel does not
   * have are left out of `observed`. */
  async execAndRead(commands: readonly Command[], readBack: ReadBack): Promise<{ results: ExecResult[]; observed: ObservedService[] }> {
    const results = commands.length ? await this.exec(commands) : [];
    return { results, observed: await this.readBack(readBack) };
  }

  private async readBack(readBack: ReadBack): Promise<ObservedService[]> {
    if ('summary' in readBack) {
      const only = readBack.summary;
      return (await this.tableSummary(only)).filter((s) => only.has(serviceKey(s)));
    }
    const got = await Promise.all(readBack.services.map((id) => this.service(id)));
    return got.filter((s): s is ObservedService => !!s);
  }

  /** One request that answers with data (a dump or GET_INFO/GET_CONFIG): the payloads after the genl header. */
  private readers: NlSocket[] = [];
  private idle: NlSocket[] = [];
  private waiting: ((s: NlSocket) => void)[] = [];

  /** A reading socket for one request; returned to the pool after. Opened lazily, at most READERS. */
  private async withReader<T>(fn: (nl: NlSocket) => Promise<T>): Promise<T> {
    let nl = this.idle.pop();
    if (!nl && this.readers.length < READERS) {
      const netlink = require('netlink');
      nl = netlink.createGenericNetlink({ messagePeeking: false, msgBufferSize: 65536 }).socket as NlSocket;
      nl.on('error', this.onError);
      this.readers.push(nl);
    }
    if (!nl) nl = await new Promise<NlSocket>((resolve) => this.waiting.push(resolve));
    try {
      return await fn(nl);
    } finally {
      const next = this.waiting.shift();
      if (next) next(nl);
      else this.idle.push(nl);
    }
  }

  private read(c: Command): Promise<Buffer[]> {
    return this.withReader((nl) => this.readOn(nl, c));
  }

  private async readOn(nl: NlSocket, c: Command): Promise<Buffer[]> {
    const e = encodeCommand(c);
    const header = Buffer.from([e.cmd, IPVS_GENL_VERSION, 0, 0]);
    const [msgs] = await nl.request(this.familyId, [header, ...e.attrs], { flags: e.isDump ? NLM_F_DUMP : 0, checkError: false, timeout: DUMP_TIMEOUT_MS });
    const out: Buffer[] = [];
    for (const m of msgs) {
      if (m.type === NLMSG_ERROR) {
        const errno = readErrno(m.data);
        // A service that is not there is an answer, not a failure, when we asked for exactly that service.
        if (errno !== 0 && (c.cmd === 'get-service' || c.cmd === 'get-dests') && ['ESRCH', 'ENOENT'].includes(errnoName(errno))) return [];
        if (errno !== 0) throw kernelError(c, errno);
        continue;
      }
      if (m.type === this.familyId) out.push(m.data.subarray(4));
    }
    return out;
  }

  async services(): Promise<ObservedService[]> {
    return (await this.read({ cmd: 'get-services' })).map((p) => decodeService(p)).filter((s): s is ObservedService => !!s);
  }

  /** One service with its destinations, or undefined when the kernel has no such service. */
  async service(id: ServiceId): Promise<ObservedService | undefined> {
    // Both reads at once, on two sockets: one wake-up instead of two.
    const [[p], dests] = await Promise.all([this.read({ cmd: 'get-service', service: id }), this.destinations(id)]);
    const s = p ? decodeService(p) : undefined;
    if (s) s.destinations = dests;
    return s;
  }

  async destinations(service: ServiceId): Promise<ObservedDestination[]> {
    return (await this.read({ cmd: 'get-dests', service })).map((p) => decodeDestination(p, service.family)).filter((d): d is ObservedDestination => !!d);
  }

  /** Every service, with its destinations; `only` (service keys, model.ts serviceKey) limits the destination reads. */
  async table(only?: ReadonlySet<string>): Promise<ObservedService[]> {
    const svcs = await this.services();
    const wanted = only ? svcs.filter((s) => only.has(serviceKey(s))) : svcs;
    await Promise.all(wanted.map(async (s) => (s.destinations = await this.destinations(s))));
    return svcs;
  }

  /**
   * Like table(), but destinations of address/port services come from /proc/net/ip_vs in one read (summary: no
   * thresholds or tunnel settings); firewall-mark services are still read over netlink. For confirming bulk changes.
   */
  async tableSummary(only?: ReadonlySet<string>): Promise<ObservedService[]> {
    const [svcs, text] = await Promise.all([this.services(), fs.promises.readFile('/proc/net/ip_vs', 'utf8')]);
    const byKey = parseProcIpVs(text);
    await Promise.all(
      (only ? svcs.filter((s) => only.has(serviceKey(s))) : svcs).map(async (s) => {
        const fromProc = s.fwmark === undefined ? byKey.get(serviceKey(s)) : undefined;
        s.destinations = fromProc ?? (await this.destinations(s));
      }),
    );
    return svcs;
  }

  async info(): Promise<Info> {
    const [p] = await this.read({ cmd: 'get-info' });
    return decodeInfo(p);
  }

  async timeouts(): Promise<Timeouts> {
    const [p] = await this.read({ cmd: 'get-config' });
    return decodeTimeouts(p);
  }

  async setTimeouts(t: Partial<Timeouts>): Promise<ExecResult> {
    return (await this.exec([{ cmd: 'set-config', timeouts: t }]))[0];
  }

  async daemons(): Promise<SyncDaemon[]> {
    return (await this.read({ cmd: 'get-daemons' })).map((p) => decodeDaemon(p)).filter((d): d is SyncDaemon => !!d);
  }

  async startDaemon(d: SyncDaemon): Promise<ExecResult> {
    return (await this.exec([{ cmd: 'new-daemon', daemon: d }]))[0];
  }

  async stopDaemon(state: SyncDaemon['state']): Promise<ExecResult> {
    return (await this.exec([{ cmd: 'del-daemon', state }]))[0];
  }
}
