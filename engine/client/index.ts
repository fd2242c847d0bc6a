/**
 * The typed client of the engine's Unix-socket API: the only way the console talks to the engine.
 * Every call has a timeout that says why it is that long; an engine that does not answer is ENGINE_UNREACHABLE.
 */
import http from 'node:http';
import { EngineError } from '../errors.ts';
import type { Capability, ServiceResult } from '../dataplane.ts';
import type { ApplyResponse, EngineEvent, EngineStatus, HealthTransitionsResponse } from '../api-types.ts';
import type { OperatorState } from '../config/index.ts';

/** Status and capability reads are local and cheap: 5 s means the engine is stuck. */
const READ_TIMEOUT_MS = 5_000;
/** An apply of thousands of IPVS services plus proxy workers reloading can take a while; 120 s means it is stuck. */
const APPLY_TIMEOUT_MS = 120_000;

export interface EngineClient {
  readonly socketPath: string;
  capabilities(): Promise<Capability[]>;
  status(): Promise<EngineStatus>;
  validate(config: unknown): Promise<{ ok: true }>;
  apply(version: number, hash: string, config: unknown): Promise<ApplyResponse>;
  setServerState(virtualService: string, realServer: string, state: OperatorState): Promise<{ results: ServiceResult[] }>;
  /** Health transitions the engine still holds with seq > since (oldest first), to catch up after a disconnect. */
  healthTransitions(since?: number): Promise<HealthTransitionsResponse>;
  /** Calls onEvent for each event until stop() is called; reconnects every 2 s while the engine is away. */
  subscribe(onEvent: (e: EngineEvent) => void, onConnection?: (isConnected: boolean) => void): { stop(): void };
}

export function createEngineClient(socketPath: string): EngineClient {
  function call<T>(method: string, path: string, body: unknown, timeoutMs: number, acceptStatuses: number[] = []): Promise<T> {
    return new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        { socketPath, method, path, timeout: timeoutMs, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new EngineError('ENGINE_UNREACHABLE', { socket: socketPath, reason: 'it answered with something that is not JSON' }));
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
      req.on('error', (e) => reject(e instanceof EngineError ? e : new EngineError('ENGINE_UNREACHABLE', { socket: socketPath, reason: (e as Error).message })));
      req.end(text);
    });
  }

  return {
    socketPath,
    capabilities: () => call('GET', '/v1/capabilities', undefined, READ_TIMEOUT_MS),
    status: () => call('GET', '/v1/status', undefined, READ_TIMEOUT_MS),
    validate: (config) => call('POST', '/v1/validate', { config }, READ_TIMEOUT_MS),
    apply: (version, hash, config) => call('POST', '/v1/apply', { version, hash, config }, APPLY_TIMEOUT_MS, [502]),
    healthTransitions: (since = 0) => call('GET', `/v1/health/transitions?since=${since}`, undefined, READ_TIMEOUT_MS),
    setServerState: (virtualService, realServer, state) => call('PUT', '/v1/server-state', { virtualService, realServer, state }, APPLY_TIMEOUT_MS),
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
