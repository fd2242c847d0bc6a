/**
 * The engine's IPVS calls, made by a child process (ipvs-child.ts), so a kernel that holds them up never stalls the
 * engine's event loop.
 *
 * Why: a netlink request is answered inside the sendmsg call, and netlink@0.3.0 calls sendmsg on the event loop.
 * IPVS's generic netlink family runs under the kernel's one genl mutex (no parallel_ops), shared by every process
 * and network namespace; starting or stopping a connection sync daemon holds it while the kernel also waits for the
 * RTNL lock and for its threads. On the test kernel, right after a takeover, that took over 3 s — and every IPVS call
 * the engine made meanwhile (the counters of a status, an apply) sat inside sendmsg with the event loop stopped: no
 * answer to keepalived's track script, to the console, to a status. Here only the child waits.
 *
 * One child per engine, shared by everything that opens a port (the layer 4 data plane, the HA sync daemon
 * follower, the running views); it ends when the last port closes, and with the engine (disconnect). Forked on
 * first use; a child that died is forked again by the next call, and the calls it had not answered fail with
 * IPVS_HELPER_ENDED (the reconciler then re-reads the kernel on the next apply). While a call waits, the child keeps
 * the engine alive; idle, it does not.
 *
 * When the helper is bypassed: the seconds-long holder of the genl mutex is a sync daemon start or stop, and on this
 * machine the engine is what starts and stops sync daemons (engine/ha/sync-daemon.ts, through this port). So while
 * none of those is on its way, IPVS calls are made in this process on an IpvsClient of its own (`inProcess`): a call
 * to the helper costs two process switches and the cloning of its answer each way, which in UML was 3 of a one-change
 * apply's 5 ms (bench:l4 `l4-one-change parts`: ipc 0.9, both through the helper 5.0, both in-process 1.9 ms). A daemon
 * start or stop goes to the helper as before, and from the moment it is asked for until it is answered every other
 * call goes there too, so this process never sits in sendmsg behind the engine's own daemon start; it is sent only
 * once the in-process calls already running are answered (a dump's later parts are read under the same mutex). What
 * is left: a daemon start made outside the engine (ipvsadm --start-daemon by hand, keepalived's lvs_sync_daemon) can
 * still stall this process for its length. Host addresses (an rtnetlink dump under the RTNL lock, which a daemon
 * start and keepalived hold) are always read by the helper.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENGINE_ERRORS, EngineError, type EngineErrorCode } from '../errors.ts';
import { IpvsClient, type ExecResult, type IpvsPort } from './client.ts';
import { encodeMessages, resultsOf } from './messages.ts';
import { interfaceAddresses } from './host.ts';
import type { ObservedService } from './model.ts';
import type { IpvsMethod, IpvsReply, IpvsRequest, WireError } from './ipvs-child.ts';

const IS_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_ENTRY = fileURLToPath(new URL(IS_SOURCE ? './ipvs-child.ts' : './ipvs-child.js', import.meta.url));

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** The error the child sent, as the class the engine's code expects (an EngineError when it has one of its codes). */
export function revive(w: WireError): Error {
  if (!w.code || !(w.code in ENGINE_ERRORS)) return Object.assign(new Error(w.message), w.code ? { code: w.code } : {});
  const e = Object.create(EngineError.prototype) as EngineError;
  Object.assign(e, {
    name: 'EngineError',
    message: w.message,
    code: w.code as EngineErrorCode,
    status: w.status ?? ENGINE_ERRORS[w.code as EngineErrorCode].status,
    details: w.details,
  });
  e.stack = `EngineError: ${w.message}\n    (in the engine's IPVS helper process)`;
  return e;
}
const reviveValue = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(reviveValue);
  // An ExecResult (setTimeouts', startDaemon's …): changes the engine sends come back as errnos instead.
  if (v && typeof v === 'object' && 'ok' in v && 'error' in v && v.error) return { ...v, error: revive(v.error as WireError) };
  return v;
};

/** While a call waits for its answer the child keeps this process alive; idle, it does not (the engine's own work does). */
function hold(c: ChildProcess, isBusy: boolean): void {
  const ch = c.channel as { ref?: () => void; unref?: () => void } | undefined;
  if (isBusy) {
    c.ref();
    ch?.ref?.();
  } else {
    c.unref();
    ch?.unref?.();
  }
}

class IpvsHelper {
  private child: ChildProcess | undefined;
  private ready: Promise<ChildProcess> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  users = 0;
  /** This process's own IPVS client, and when it may be used (the header says). */
  private gate = new InProcessGate(() => IpvsClient.open());

  private start(): Promise<ChildProcess> {
    return new Promise<ChildProcess>((resolve, reject) => {
      const hasLoader = process.execArgv.some((a) => a.includes('tsx')) || (process.env.NODE_OPTIONS ?? '').includes('tsx');
      const c = fork(CHILD_ENTRY, [], {
        execArgv: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), ...(IS_SOURCE && !hasLoader ? ['--import', 'tsx'] : [])],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      c.on('message', (m: IpvsReply) => {
        if ('ready' in m) {
          if (this.pending.size === 0) hold(c, false);
          return resolve(c);
        }
        if ('openError' in m) return reject(revive(m.openError));
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) hold(c, false);
        if ('error' in m) p.reject(revive(m.error));
        else p.resolve(reviveValue(m.value));
      });
      // Every time, not once: a send to a child that just died is an 'error' event too, and an unheard one would end
      // the engine. The exit handler below fails the calls still waiting.
      c.on('error', reject);
      c.once('exit', (code, signal) => {
        if (this.child === c) {
          this.child = undefined;
          this.ready = undefined;
        }
        const why = new EngineError('IPVS_HELPER_ENDED', { reason: signal ?? `exit code ${code}` });
        reject(why);
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(why);
        }
      });
      this.child = c;
    });
  }

  /** Resolves when the child has opened IPVS; rejects with its reason (IPVS_UNAVAILABLE, IPVS_PERMISSION …). */
  async open(): Promise<void> {
    await (this.ready ??= this.start());
  }

  async call(method: IpvsMethod, args: unknown[]): Promise<unknown> {
    const c = await (this.ready ??= this.start());
    const id = this.nextId++;
    hold(c, true);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      c.send({ id, method, args } satisfies IpvsRequest);
    });
  }

  inProcess<T>(fn: (c: IpvsClient) => Promise<T>, viaChild: () => Promise<T>): Promise<T> {
    return this.gate.run(fn, viaChild);
  }

  /** A sync daemon start or stop: through the child, once no call runs in this process (see the header). */
  daemonCall(method: 'startDaemon' | 'stopDaemon', args: unknown[]): Promise<unknown> {
    return this.gate.exclusive(() => this.call(method, args));
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
    this.ready = undefined;
    this.gate.close();
    this.gate = new InProcessGate(() => IpvsClient.open());
  }
}

/**
 * When a call may be made on this process's own client (`C`, opened on first use by `open`): `run` makes it there
 * unless an `exclusive` call (a sync daemon start or stop) has been asked for and not answered, or the client
 * cannot be opened; then it takes `viaChild`. `exclusive` waits until every call running on the client is answered,
 * and while it waits or runs, new calls take `viaChild`. The check and the start of a call are one synchronous step,
 * so an exclusive call asked for after it waits for it. ipvs-process.test.ts checks these rules.
 */
export class InProcessGate<C extends { close(): void }> {
  private client: Promise<C | null> | undefined;
  private exclusiveCalls = 0;
  private running = 0;
  private drained: (() => void)[] = [];

  constructor(private readonly open: () => Promise<C>) {}

  async run<T>(fn: (c: C) => Promise<T>, viaChild: () => Promise<T>): Promise<T> {
    if (this.exclusiveCalls > 0) return viaChild();
    this.running++;
    try {
      const c = await (this.client ??= this.open().catch(() => null));
      // An exclusive call asked for while the client opened: this one goes to the child too.
      if (!c || this.exclusiveCalls > 0) return await viaChild();
      return await fn(c);
    } finally {
      if (--this.running === 0) for (const f of this.drained.splice(0)) f();
    }
  }

  async exclusive<T>(send: () => Promise<T>): Promise<T> {
    this.exclusiveCalls++;
    try {
      while (this.running > 0) await new Promise<void>((r) => this.drained.push(r));
      return await send();
    } finally {
      this.exclusiveCalls--;
    }
  }

  /** Closes the client once the calls running on it are answered (closing under one would leave it to its timeout). */
  close(): void {
    const client = this.client;
    this.client = undefined;
    const close = () => void client?.then((c) => c?.close());
    if (this.running > 0) this.drained.push(close);
    else close();
  }
}

let helper: IpvsHelper | undefined;
/**
 * Where IPVS cannot be opened (a kernel without it, no CAP_NET_ADMIN), the reason is given again for a minute
 * without forking a child each time: every status asks for the capabilities, and a fork costs a process start. After
 * that the next open tries again (someone may have loaded ip_vs).
 */
const OPEN_RETRY_MS = 60_000;
let openFailure: { error: Error; until: number } | undefined;

/**
 * A port onto the engine's IPVS helper process, forking it if none runs. Rejects with the child's reason when it
 * cannot open IPVS. `mutations` counts the change messages this port's exec calls sent (as IpvsClient's does).
 * `inProcess` (true): calls other than daemon starts and stops are made in this process while no daemon start or stop
 * is on its way (the header says why); false sends every call to the helper (the bench times both).
 */
export async function openIpvsProcess(opts: { inProcess?: boolean } = {}): Promise<IpvsPort> {
  if (openFailure && performance.now() < openFailure.until) throw openFailure.error;
  const h = (helper ??= new IpvsHelper());
  h.users++;
  try {
    if (!fs.existsSync('/proc/net/ip_vs')) {
      // IPVS is not loaded: ask in this process, which answers at once with the reason (no module, no permission) or
      // loads it (Debian autoloads ip_vs on the family lookup). No sync daemon can hold the kernel up before IPVS exists.
      (await IpvsClient.open()).close();
    }
    await h.open();
    openFailure = undefined;
  } catch (e) {
    if (e instanceof EngineError && (e.code === 'IPVS_UNAVAILABLE' || e.code === 'IPVS_PERMISSION'))
      openFailure = { error: e, until: performance.now() + OPEN_RETRY_MS };
    release(h);
    throw e;
  }
  let mutations = 0;
  let isClosed = false;
  const isInProcess = opts.inProcess ?? true;
  // The same method on this process's client or on the child's (ipvs-child.ts answers with IpvsClient's own).
  const call = <T>(method: Exclude<IpvsMethod, 'interfaceAddresses'>, ...args: unknown[]): Promise<T> => {
    const viaChild = () => h.call(method, args) as Promise<T>;
    if (!isInProcess) return viaChild();
    return h.inProcess((c) => (c[method] as (...a: unknown[]) => Promise<T>).apply(c, args), viaChild);
  };
  return {
    get mutations() {
      return mutations;
    },
    // Changes cross to the child as netlink bytes and come back as an errno each (client.ts encodeMessages,
    // resultsOf): cloning 5,000 command objects each way cost more than encoding them.
    exec: async (commands) => {
      if (!commands.length) return [];
      const errnos = await call<Int32Array>('execMessages', encodeMessages(commands));
      mutations += commands.length;
      return resultsOf(commands, errnos);
    },
    execAndRead: async (commands, readBack) => {
      const r = await call<{ errnos: Int32Array; observed: ObservedService[] }>('execMessagesAndRead', encodeMessages(commands), readBack);
      mutations += commands.length;
      return { results: resultsOf(commands, r.errnos), observed: r.observed };
    },
    services: () => call('services'),
    service: (id) => call('service', id),
    destinations: (service) => call('destinations', service),
    table: (only) => call('table', only),
    tableSummary: (only) => call('tableSummary', only),
    info: () => call('info'),
    timeouts: () => call('timeouts'),
    setTimeouts: async (t) => {
      const r = await call<ExecResult>('setTimeouts', t);
      mutations += 1;
      return r;
    },
    daemons: () => call('daemons'),
    startDaemon: (d) => h.daemonCall('startDaemon', [d]) as Promise<ExecResult>,
    stopDaemon: (state) => h.daemonCall('stopDaemon', [state]) as Promise<ExecResult>,
    close: () => {
      if (isClosed) return;
      isClosed = true;
      release(h);
    },
  };
}

/**
 * The host's addresses per interface, read by the helper (an rtnetlink dump waits for the RTNL lock, which a sync
 * daemon start or keepalived's address changes hold; here only the helper waits). Where the helper cannot run
 * (no IPVS: then nothing of IPVS holds that lock either), read in this process.
 */
export async function helperInterfaceAddresses(): Promise<Map<string, string[]>> {
  let port: IpvsPort;
  try {
    port = await openIpvsProcess();
  } catch {
    return interfaceAddresses();
  }
  try {
    return (await helper!.call('interfaceAddresses', [])) as Map<string, string[]>;
  } finally {
    port.close();
  }
}

function release(h: IpvsHelper): void {
  if (--h.users > 0) return;
  h.stop();
  if (helper === h) helper = undefined;
}
