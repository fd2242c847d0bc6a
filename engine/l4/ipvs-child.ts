/**
 * The engine's IPVS calls, in a child process of the engine (ipvs-process.ts forks it and says why).
 *
 * Protocol (IPC, advanced serialization: Sets and undefined travel): in { id, method, args }; out { ready } or
 * { openError } once, then { id, value } or { id, error } per request. An error, and the error of an ExecResult,
 * travel as their code, sentence and details (an EngineError's class does not cross a process boundary).
 */
import { type ExecResult, IpvsClient, type IpvsPort } from './client.ts';
import { interfaceAddresses } from './host.ts';

/** The IPVS calls (the engine sends changes as encoded messages: execMessages), and the host's addresses per
 * interface (an rtnetlink dump: it waits for the RTNL lock, which a sync daemon start holds too). */
export type IpvsMethod = Exclude<keyof IpvsPort, 'mutations' | 'close'> | 'execMessages' | 'execMessagesAndRead' | 'interfaceAddresses';
export const IPVS_METHODS: readonly IpvsMethod[] = [
  'exec',
  'execAndRead',
  'execMessages',
  'execMessagesAndRead',
  'services',
  'service',
  'destinations',
  'table',
  'tableSummary',
  'info',
  'timeouts',
  'setTimeouts',
  'daemons',
  'startDaemon',
  'stopDaemon',
  'interfaceAddresses',
];
export interface WireError {
  code?: string;
  message: string;
  status?: number;
  details?: unknown;
}
export type IpvsRequest = { id: number; method: IpvsMethod; args: unknown[] };
export type IpvsReply = { ready: true } | { openError: WireError } | { id: number; value: unknown } | { id: number; error: WireError };

const send = (m: IpvsReply) => process.send!(m);
const wire = (e: unknown): WireError => {
  const x = e as { code?: string; message?: string; status?: number; details?: unknown };
  return { code: x.code, message: x.message ?? String(e), status: x.status, details: x.details };
};
/** ExecResults (one, or a list) carry an EngineError each when refused: its fields travel, not the object. */
const wireValue = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(wireValue);
  if (v && typeof v === 'object' && 'ok' in v && 'error' in v && v.error) return { ...v, error: wire(v.error) };
  return v;
};

/** exec's and execAndRead's answers go back without the commands they answer (the engine holds those; it calls
 * execMessages, whose answers are errnos, for its own changes). */
const withoutCommand = ({ command: _, ...rest }: ExecResult) => rest;
const reply = (method: IpvsMethod, value: unknown): unknown => {
  if (method === 'exec') return wireValue((value as ExecResult[]).map(withoutCommand));
  if (method === 'execAndRead') {
    const v = value as { results: ExecResult[]; observed: unknown };
    return { results: wireValue(v.results.map(withoutCommand)), observed: v.observed };
  }
  return wireValue(value);
};

if (process.send) {
  try {
    const ipvs = await IpvsClient.open();
    process.on('message', (m: IpvsRequest) => {
      const call =
        m.method === 'interfaceAddresses'
          ? interfaceAddresses()
          : IPVS_METHODS.includes(m.method)
            ? (ipvs[m.method] as (...a: unknown[]) => Promise<unknown>).apply(ipvs, m.args)
            : Promise.reject(new Error(`no IPVS call named ${String(m.method)}`));
      call.then(
        (value) => send({ id: m.id, value: reply(m.method, value) }),
        (e) => send({ id: m.id, error: wire(e) }),
      );
    });
    // The engine going away ends this process too.
    process.on('disconnect', () => process.exit(0));
    send({ ready: true });
  } catch (e) {
    send({ openError: wire(e) });
    process.exit(0);
  }
}
