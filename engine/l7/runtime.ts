/**
 * Everything one worker process runs: the listening sockets, the services behind them and their counters. It is
 * driven by messages from the primary (worker.ts), or directly when the data plane runs in-process (workers: 0).
 *
 * Listeners are keyed by address and port and outlive configurations: a reload swaps the service runtime a listener
 * points at, so nothing is re-bound and no connection is dropped. Connections already open keep the runtime they
 * started with until their request ends; the next request on a keep-alive connection uses the new one. A listener
 * no longer wanted stops accepting at once; its keep-alive clients are closed after their request in flight.
 */
import net from 'node:net';
import { EngineError } from '../errors.ts';
import type { ServicePlan } from './plan.ts';
import { HttpSession, type ListenerRef, type Session } from './http-proxy.ts';
import { TcpSession } from './tcp-proxy.ts';
import { H2Session, isH2Preface } from './h2-session.ts';
import { ServiceRuntime, ServiceState } from './service.ts';
import { serverCookieId, type StickEntry, type StickSync } from './persistence.ts';
import type { CounterSnapshot } from './stats.ts';
import type tls from 'node:tls';
import { enableDirectRead, enableDirectReadTls, routeDataEvents } from './reader.ts';
import type { SlotClient } from './slots.ts';
import type { ServerChange } from './messages.ts';

export interface ServiceReport {
  name: string;
  isOk: boolean;
  code?: string;
  message: string;
  /** "address:port" actually bound (useful when the kernel chose). */
  endpoints: string[];
}

interface Listener extends ListenerRef {
  readonly key: string;
  readonly server: net.Server;
  service: string;
}

/** Until a session takes an accepted socket, an error on it only ends it: one function for every socket. */
function ignoreError(): void {}

export class Runtime {
  private readonly listeners = new Map<string, Listener>();
  private readonly services = new Map<string, ServiceState>();
  private readonly runtimes = new Map<string, ServiceRuntime>();
  private readonly planJson = new Map<string, string>();
  /** Removed services whose last exchanges may still be running; close() still has to reach their connections. */
  private readonly retired = new Set<ServiceState>();
  /**
   * Listeners a reload closed while sessions were still open on them (a tunnel, a request in flight): they are no
   * longer in `listeners`, but close() still has to wait for and then cut those sessions. Dropped once empty.
   */
  private readonly closing = new Set<Listener>();
  private ticketKeys: Buffer;
  private readonly sync: StickSync | undefined;
  private readonly slots: SlotClient | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private readonly pendingTls = new WeakMap<net.Socket, [Listener, ServiceRuntime]>();

  /** `slots`: given in a cluster worker, so limited servers count across all workers (slots.ts). */
  constructor(ticketKeys: Buffer, sync?: StickSync, slots?: SlotClient) {
    this.ticketKeys = ticketKeys;
    this.sync = sync;
    this.slots = slots;
    this.sweeper = setInterval(() => {
      for (const s of this.services.values()) for (const t of s.tables.values()) t.sweep();
    }, 30_000);
    this.sweeper.unref();
  }

  /**
   * Runs `plans` and the services named in `same` (kept as they run: the primary saw this worker report them with
   * the plan it would send again); stops every other service. Reports on each of `plans`, and on a `same` service
   * only if this worker does not run it after all (then the primary sends its plan next time).
   */
  async apply(plans: ServicePlan[], same: readonly string[] = []): Promise<ServiceReport[]> {
    const reports: ServiceReport[] = [];
    for (const l of this.closing) if (l.sessions.size === 0) this.closing.delete(l);
    const wanted = new Map<string, string>(); // listener key → service
    const kept = new Set(same);
    for (const l of this.listeners.values()) if (kept.has(l.service)) wanted.set(l.key, l.service);
    for (const name of kept)
      if (!this.runtimes.has(name))
        reports.push({
          name,
          isOk: false,
          code: 'PROXY_WORKER_FAILED',
          message: new EngineError('PROXY_WORKER_FAILED', { reason: 'a worker no longer ran a service it was told to keep' }).message,
          endpoints: [],
        });
    for (const plan of plans) {
      let state = this.services.get(plan.name);
      if (!state) this.services.set(plan.name, (state = new ServiceState(plan.name, this.sync, this.slots)));
      let rt: ServiceRuntime;
      const json = JSON.stringify(plan);
      const previous = this.runtimes.get(plan.name);
      try {
        // The daemon re-applies the whole config on every change; an unchanged service keeps its runtime (and its
        // TLS contexts) as it is.
        rt = previous && this.planJson.get(plan.name) === json ? previous : new ServiceRuntime(plan, state, this.ticketKeys, serverCookieId);
      } catch (err) {
        const e = err as EngineError;
        reports.push({ name: plan.name, isOk: false, code: e.code ?? 'PROXY_CONFIG_INVALID', message: e.message, endpoints: [] });
        // Keep what was running for this service (if anything) rather than take it down.
        for (const l of this.listeners.values()) if (l.service === plan.name) wanted.set(l.key, plan.name);
        continue;
      }
      const endpoints: string[] = [];
      let failure: ServiceReport | undefined;
      for (const port of plan.ports) {
        const key = `${plan.address}|${port}`;
        wanted.set(key, plan.name);
        let l = this.listeners.get(key);
        if (!l) {
          try {
            l = await this.listen(key, plan.address, port, plan.name);
          } catch (err) {
            wanted.delete(key);
            failure = {
              name: plan.name,
              isOk: false,
              code: 'PROXY_LISTEN_FAILED',
              message: new EngineError('PROXY_LISTEN_FAILED', {
                endpoint: `${plan.address}:${port}`,
                reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
              }).message,
              endpoints: [],
            };
            break;
          }
        }
        l.rt = rt;
        l.service = plan.name;
        const a = l.server.address() as net.AddressInfo | null;
        endpoints.push(a ? `${a.address}:${a.port}` : `${plan.address}:${port}`);
      }
      if (failure) {
        reports.push(failure);
        continue;
      }
      this.runtimes.set(plan.name, rt);
      this.planJson.set(plan.name, json);
      reports.push({ name: plan.name, isOk: true, message: `listening on ${endpoints.join(', ')}`, endpoints });
    }
    for (const [key, l] of this.listeners) if (!wanted.has(key)) this.unlisten(l);
    const names = new Set([...plans.map((p) => p.name), ...kept]);
    for (const name of [...this.services.keys()]) {
      if (!names.has(name)) {
        const rt = this.runtimes.get(name);
        if (rt) for (const s of rt.state.servers.values()) s.pool.closeIdle();
        this.retired.add(this.services.get(name)!);
        this.services.delete(name);
        this.runtimes.delete(name);
        this.planJson.delete(name);
      }
    }
    return reports;
  }

  /**
   * Health changes: each server's decision changes in place, in the runtime listeners use now, so nothing is rebuilt
   * (TLS contexts, rules, pools stay). The stored plan follows, so the next full apply sees nothing new.
   */
  updateServers(changes: readonly ServerChange[]): void {
    const touched = new Set<string>();
    for (const c of changes) {
      const rt = this.runtimes.get(c.service);
      const s = rt?.byName.get(c.server);
      if (!rt || !s) continue;
      const plan = { ...s.plan, weight: c.weight, disposition: c.disposition, isHealthDown: c.isHealthDown };
      const i = rt.plan.servers.indexOf(s.plan);
      if (i >= 0) rt.plan.servers[i] = plan;
      s.plan = plan;
      if (plan.disposition === 'remove') {
        s.pool.closeIdle();
        for (const t of [...s.tunnels]) t.destroy();
      }
      touched.add(c.service);
    }
    for (const name of touched) {
      const rt = this.runtimes.get(name)!;
      this.planJson.set(name, JSON.stringify(rt.plan));
      // A server back in rotation may take clients queued while every server was full or out.
      for (let n = rt.state.queue.length; n > 0; n--) rt.state.wakeOne();
    }
  }

  private listen(key: string, address: string, port: number, service: string): Promise<Listener> {
    return new Promise((resolve, reject) => {
      // Paused on accept so a plain socket can be switched to direct reads (reader.ts) before its first byte.
      const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
      const l: Listener = { key, address, port, server, service, rt: null, isClosed: false, sessions: new Set<Session>() };
      server.on('connection', (socket) => this.accept(l, socket));
      server.once('error', reject);
      server.listen({ host: address, port }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        this.listeners.set(key, l);
        resolve(l);
      });
    });
  }

  private accept(l: Listener, socket: net.Socket): void {
    const rt = l.rt;
    if (rt === null || l.isClosed) {
      socket.destroy();
      return;
    }
    socket.on('error', ignoreError);
    if (rt.tlsServer === null) {
      this.session(l, rt, socket, false);
      return;
    }
    // Hand the raw socket to the service's TLS server; it emits the secure socket once the handshake is done, and
    // that socket's _parent is our raw one, which says which listener and runtime it belongs to.
    const tlsServer = rt.tlsServer;
    if (tlsServer.listenerCount('secureConnection') === 0) {
      tlsServer.on('secureConnection', (ts: tls.TLSSocket) => {
        const raw = (ts as unknown as { _parent: net.Socket })._parent;
        const owner = this.pendingTls.get(raw);
        raw.setTimeout(0);
        if (owner) this.session(owner[0], owner[1], ts, true);
        else ts.destroy();
      });
      tlsServer.on('tlsClientError', (_err, ts) => ts.destroy());
    }
    this.pendingTls.set(socket, [l, rt]);
    // A client that never finishes its handshake must not hold the socket forever.
    socket.setTimeout(rt.plan.layer7.timeouts.httpRequestMs, () => socket.destroy());
    tlsServer.emit('connection', socket);
  }

  private session(l: Listener, rt: ServiceRuntime, socket: net.Socket, isTls: boolean): void {
    socket.setTimeout(0);
    if (isTls) {
      if (rt.plan.mode === 'http' && (socket as tls.TLSSocket).alpnProtocol === 'h2') {
        new H2Session(socket, l, true, rt);
        return;
      }
      if (rt.plan.mode === 'http') {
        // A TLS session reads direct once its reader is set: what came with the handshake goes to it first.
        new HttpSession(socket, l, isTls, rt);
        if (!enableDirectReadTls(socket)) routeDataEvents(socket);
      } else {
        // A tcp tunnel sets its reader only once its server is connected; until then bytes wait in the stream.
        routeDataEvents(socket);
        new TcpSession(socket, l, rt);
      }
      return;
    }
    if (rt.plan.mode === 'http' && rt.plan.layer7.http2.cleartext) return this.sniffH2c(l, rt, socket);
    // Reading starts before the session exists, but no byte can arrive before this function returns.
    enableDirectRead(socket);
    if (rt.plan.mode === 'http') new HttpSession(socket, l, isTls, rt);
    else new TcpSession(socket, l, rt);
  }

  /**
   * h2c by prior knowledge (RFC 9113 §3.3): the first chunk says which protocol the client speaks. Only services that
   * allow h2c pay for the look; others go straight to the HTTP/1.1 session's direct reads.
   */
  private sniffH2c(l: Listener, rt: ServiceRuntime, socket: net.Socket): void {
    // A client that sends nothing is timed out as a head that never comes would be.
    socket.setTimeout(rt.plan.layer7.timeouts.httpRequestMs, () => socket.destroy());
    const onEnd = () => socket.destroy();
    socket.once('end', onEnd);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.off('end', onEnd);
      if (isH2Preface(first)) {
        socket.unshift(first);
        new H2Session(socket, l, false, rt);
        return;
      }
      enableDirectRead(socket);
      new HttpSession(socket, l, false, rt).onData(first);
    });
    socket.resume();
  }

  private unlisten(l: Listener): void {
    l.isClosed = true;
    this.listeners.delete(l.key);
    l.server.close();
    for (const s of [...l.sessions]) s.closeIfIdle();
    if (l.sessions.size > 0) this.closing.add(l);
  }

  /** Every stick-table entry of every service, as [table, key, entry]. */
  stickDump(): [string, string, StickEntry][] {
    const out: [string, string, StickEntry][] = [];
    for (const s of this.services.values()) for (const [table, t] of s.tables) for (const [k, e] of t.dump()) out.push([table, k, e]);
    return out;
  }

  mergeStick(table: string, key: string, entry: StickEntry): void {
    const service = table.slice(0, table.lastIndexOf('/'));
    this.services.get(service)?.tables.get(table)?.merge(key, entry);
  }

  /** The primary says a slot of `key` is free again (in any worker): clear the server's full mark, wake a waiter. */
  slotFreed(key: string): void {
    const i = key.indexOf('\u0000');
    const state = this.services.get(key.slice(0, i));
    const server = state?.servers.get(key.slice(i + 1));
    if (!state || !server) return;
    server.isClusterFull = false;
    if (state.queue.length > 0) state.wakeOne();
  }

  setTicketKeys(keys: Buffer): void {
    this.ticketKeys = keys;
  }

  snapshot(): CounterSnapshot {
    const out: CounterSnapshot = {};
    for (const [name, state] of this.services) {
      const servers: CounterSnapshot[string]['servers'] = {};
      for (const s of state.servers.values()) {
        if (s.name === '~fallback') continue;
        servers[s.name] = { ...s.counters, responses: { ...s.counters.responses }, activeConnections: s.active };
        s.counters.latencySumMs = 0;
        s.counters.latencyCount = 0;
      }
      out[name] = { service: { ...state.counters, responses: { ...state.counters.responses } }, servers };
      state.counters.latencySumMs = 0;
      state.counters.latencyCount = 0;
    }
    return out;
  }

  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
  async close(graceMs = 5000): Promise<void> {
    clearInterval(this.sweeper);
    for (const l of [...this.listeners.values()]) this.unlisten(l);
    // Every listener with sessions left, including those an earlier reload closed.
    const all = [...this.closing];
    this.closing.clear();
    const deadline = Date.now() + graceMs;
    while (all.some((l) => l.sessions.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const l of all) for (const s of [...l.sessions]) s.destroy();
    for (const state of [...this.services.values(), ...this.retired]) for (const s of state.servers.values()) s.pool.closeAll();
  }
}
