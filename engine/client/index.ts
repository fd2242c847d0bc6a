/**
 * The typed client of the engine's Unix-socket API: the only way the console talks to the engine.
 * Every call has a timeout that says why it is that long; an engine that does not answer is ENGINE_UNREACHABLE.
 */
import type { LogLine } from '../log/read.ts';
import http from 'node:http';
import { EngineError } from '../errors.ts';
import type { Capability, ServiceResult } from '../dataplane.ts';
import type {
  ApplyOutcome,
  ApplyResponse,
  EngineEvent,
  EngineStatus,
  HaStandby,
  HealthTransitionsResponse,
  L4TableView,
  L7RuntimeView,
  RunningConfigView,
} from '../api-types.ts';
import type { OperatorState } from '../config/index.ts';
import type { VipAnswer, VipAnswerRequest } from '../probe/vip-answer.ts';

/** Status and capability reads are local and cheap: 5 s means the engine is stuck. */
const READ_TIMEOUT_MS = 5_000;
/**
 * An apply of 1,000 services × 4 servers takes about half a second in the kernel plus the proxy workers' reload; 15 s
 * means the engine is stuck (paused, swapping). The console then does not guess: the request carries this deadline,
 * the engine refuses it unapplied if its turn comes later, and the console settles the version from the engine's
 * record (outcome()). FULCRUM_ENGINE_APPLY_TIMEOUT_MS overrides it (fault tests use a short one).
 */
const APPLY_TIMEOUT_MS = Number(process.env.FULCRUM_ENGINE_APPLY_TIMEOUT_MS ?? 15_000);
/** One server's state is one small change: 5 s means stuck, as for reads. */
const STATE_TIMEOUT_MS = Number(process.env.FULCRUM_ENGINE_STATE_TIMEOUT_MS ?? 5_000);
/** The VIP probe is at most two nping runs of about 3 s each (its capture's warm-up and wait; nping itself is cut off
 * at 10 s): 25 s means stuck. */
const PROBE_TIMEOUT_MS = 25_000;

/** When an apply sent now must have started in the engine, or not happen at all. */
export const applyDeadline = (now = Date.now()): number => now + APPLY_TIMEOUT_MS;

/** `cursor`: set when the query gave one (read forward: engine/log/read.ts). */
export type LogsResponse = { lines: LogLine[]; isTruncated: boolean; cursor?: string };

export type StatusOptions = { services?: readonly string[]; detail?: 'full' | 'health' };

/** GET /v1/status's query for `opts` (an empty list is `?service=`: no service has an empty name). */
export function statusPath(opts: StatusOptions = {}): string {
  const q = new URLSearchParams();
  if (opts.services) for (const name of opts.services.length > 0 ? opts.services : ['']) q.append('service', name);
  if (opts.detail) q.set('detail', opts.detail);
  const text = q.toString();
  return text ? `/v1/status?${text}` : '/v1/status';
}

export interface EngineClient {
  readonly socketPath: string;
  capabilities(): Promise<Capability[]>;
  /**
   * `services`: the status of those only (an empty list: of none; the summary still comes); `detail: 'health'`:
   * results, operator states and health only (GET /v1/status in engine/daemon/server.ts).
   */
  status(opts?: StatusOptions): Promise<EngineStatus>;
  validate(config: unknown): Promise<{ ok: true }>;
  /** `deadline` (epoch ms, default now + the apply timeout): after it the engine will not apply this version, and
   * the call gives up waiting at it. `configText`: JSON.stringify(config), when the caller has it already (the
   * console stores that text as the version's snapshot): sent as it is, so 1,000 services are not written twice. */
  apply(version: number, hash: string, config: unknown, opts?: { deadline?: number; configText?: string }): Promise<ApplyResponse>;
  setServerState(virtualService: string, realServer: string, state: OperatorState): Promise<{ results: ServiceResult[] }>;
  /** Hand this node's service to the HA peer (`standby` set: the track script fails) or end that (null). */
  setHaStandby(standby: { by: string; reason: string } | null): Promise<{ standby: HaStandby | null }>;
  /** What became of `version` by the engine's own record; null when the engine never received it. */
  outcome(version: number): Promise<ApplyOutcome | null>;
  /** Health transitions the engine still holds with seq > since (oldest first), to catch up after a disconnect. */
  healthTransitions(since?: number): Promise<HealthTransitionsResponse>;
  /** Read-only views of what runs (engine/daemon/views.ts): the running configuration, the IPVS table, the proxy. */
  view(which: 'config'): Promise<RunningConfigView>;
  view(which: 'l4'): Promise<L4TableView>;
  view(which: 'l7'): Promise<L7RuntimeView>;
  /** Recent access or engine log lines, newest first, filtered (engine/log/read.ts; the query as the engine takes it). */
  logs(query: Record<string, string>): Promise<LogsResponse>;
  /** Whether a DR real server takes a SYN for the VIP sent as a frame to its MAC (engine/probe/vip-answer.ts). */
  probeVipAnswer(request: VipAnswerRequest): Promise<VipAnswer>;
  /** Calls onEvent for each event until stop() is called; reconnects every 2 s while the engine is away. */
  subscribe(onEvent: (e: EngineEvent) => void, onConnection?: (isConnected: boolean) => void): { stop(): void };
}

/** A request body already written as JSON text. */
class JsonText {
  constructor(readonly text: string) {}
}

/**
 * The text JSON.stringify({ version, hash, config, deadline }) gives, with the config's text put in as it is: the
 * engine reads the same object (index.test.ts compares the two texts).
 */
export function applyBody(version: number, hash: string, configText: string, deadline: number): JsonText {
  return new JsonText(`{"version":${JSON.stringify(version)},"hash":${JSON.stringify(hash)},"config":${configText},"deadline":${JSON.stringify(deadline)}}`);
}

export function createEngineClient(socketPath: string): EngineClient {
  /** `body`: a value to send as JSON, or a JsonText already written. */
  function call<T>(method: string, path: string, body: unknown, timeoutMs: number, acceptStatuses: number[] = []): Promise<T> {
    return new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body);
      const req = http.request(
        {
          socketPath,
          method,
          path,
          timeout: timeoutMs,
          headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch (e) {
              return reject(
                new EngineError('ENGINE_UNREACHABLE', { socket: socketPath, reason: 'it answered with something that is not JSON' }, undefined, { cause: e }),
              );
            }
            const status = res.statusCode ?? 0;
            if ((status >= 200 && status < 300) || acceptStatuses.includes(status)) return resolve(parsed as T);
            const err = (parsed as { error?: { code: string; message: string; details?: unknown } }).error;
            const e = new EngineError('ENGINE_BAD_REQUEST', { reason: err?.message ?? `status ${status}` }, err?.details);
            if (err?.code) Object.assign(e, { code: err.code, status });
            reject(e);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      // `isDelivered`: false when the socket could not even be opened (the engine cannot have the request); unknown
      // otherwise (it may have it, and act on it: see the deadline on apply).
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e instanceof EngineError) return reject(e);
        const isRefused = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
        reject(new EngineError('ENGINE_UNREACHABLE', { socket: socketPath, reason: e.message }, { isDelivered: isRefused ? false : 'unknown' }, { cause: e }));
      });
      req.end(text);
    });
  }

  return {
    socketPath,
    capabilities: () => call('GET', '/v1/capabilities', undefined, READ_TIMEOUT_MS),
    status: (opts) => call('GET', statusPath(opts), undefined, READ_TIMEOUT_MS),
    validate: (config) => call('POST', '/v1/validate', { config }, READ_TIMEOUT_MS),
    apply: (version, hash, config, opts = {}) => {
      const deadline = opts.deadline ?? applyDeadline();
      const body = opts.configText === undefined ? { version, hash, config, deadline } : applyBody(version, hash, opts.configText, deadline);
      return call<ApplyResponse>('POST', '/v1/apply', body, Math.max(1, deadline - Date.now())).catch((e: unknown) => {
        // A refused apply (502, the error envelope) with what was tried as details: the caller reads it as a result.
        const d = (e as EngineError).details as Omit<ApplyResponse, 'ok' | 'error'> | undefined;
        if (!(e instanceof EngineError) || e.status !== 502 || !Array.isArray(d?.results)) throw e;
        return { ...d, ok: false, error: { code: e.code, message: e.message } };
      });
    },
    outcome: async (version) => {
      try {
        return await call<ApplyOutcome>('GET', `/v1/applies?version=${version}`, undefined, READ_TIMEOUT_MS);
      } catch (e) {
        if ((e as EngineError).code === 'ENGINE_NOT_FOUND') return null;
        throw e;
      }
    },
    setHaStandby: (standby) => call('PUT', '/v1/ha/standby', { standby }, READ_TIMEOUT_MS),
    view: ((which: string) => call('GET', `/v1/views/${which}`, undefined, READ_TIMEOUT_MS)) as EngineClient['view'],
    healthTransitions: (since = 0) => call('GET', `/v1/health/transitions?since=${since}`, undefined, READ_TIMEOUT_MS),
    logs: (query) => call('GET', `/v1/logs?${new URLSearchParams(query)}`, undefined, READ_TIMEOUT_MS),
    probeVipAnswer: (request) => call('POST', '/v1/probe/vip-answer', request, PROBE_TIMEOUT_MS),
    setServerState: (virtualService, realServer, state) =>
      call('PUT', '/v1/server-state', { virtualService, realServer, state, deadline: Date.now() + STATE_TIMEOUT_MS }, STATE_TIMEOUT_MS),
    subscribe(onEvent, onConnection) {
      let isStopped = false;
      let current: http.ClientRequest | undefined;
      let timer: NodeJS.Timeout | undefined;
      const connect = () => {
        if (isStopped) return;
        current = http.get({ socketPath, path: '/v1/events' }, (res) => {
          onConnection?.(true);
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line) {
                try {
                  onEvent(JSON.parse(line) as EngineEvent);
                } catch {
                  /* a torn line from a dying engine: the reconnect's hello resynchronises */
                }
              }
            }
          });
          res.on('close', retry);
        });
        current.on('error', retry);
      };
      const retry = () => {
        if (isStopped || timer) return;
        onConnection?.(false);
        timer = setTimeout(() => {
          timer = undefined;
          connect();
        }, 2000);
      };
      connect();
      return {
        stop() {
          isStopped = true;
          if (timer) clearTimeout(timer);
          current?.destroy();
        },
      };
    },
  };
}
