/**
 * The engine's API: HTTP/JSON on a Unix socket that only its owner may open (mode 0600).
 *
 *   GET  /v1/capabilities                 which data planes this machine really has, and why not
 *   POST /v1/validate   {config}          parse with the one schema; 422 with field paths when invalid
 *   POST /v1/apply      {version,hash,config,deadline?}   plan, apply, report per service; rollback on failure;
 *                                         idempotent per version; refused unapplied after its deadline
 *   GET  /v1/status[?service=A&service=B][&detail=health]   running version, per-service results, server states
 *                                         and counters; `service` (repeated): those services only; `detail=health`:
 *                                         results, operator states and health only (no counters, no checks)
 *   PUT  /v1/server-state {virtualService, realServer, state}   operator action, at once
 *   GET  /v1/applies?version=N            what became of version N (applied, failed, expired); 404 if never received
 *   GET  /v1/health/transitions?since=N  health transitions still in the engine's log with seq > N, oldest first
 *   PUT  /v1/ha/standby {standby}        {by, reason}: hand this node's service to the peer (the check fails); null: end it
 *   GET  /v1/ha/check                    200 when this node may be the active one, 503 HA_UNHEALTHY with the reasons
 *                                         (keepalived's track script asks it every second; see engine/ha/check.ts)
 *   GET  /v1/views/config                the running configuration as the engine holds it, private keys hidden
 *   GET  /v1/views/l4 | /v1/views/l7     the IPVS table with counters and owners; the proxy's listeners, pools and
 *                                         stick-table sizes (views.ts)
 *   GET  /v1/logs?kind=access|engine&…  recent log lines, newest first, filtered (engine/log/read.ts)
 *   POST /v1/probe/vip-answer {vip,port,mac,interface,source}   does a DR real server take a SYN for the VIP framed
 *                                         to its MAC? (engine/probe/vip-answer.ts; a raw frame, so the engine sends it)
 *   GET  /v1/events                       newline-delimited JSON events until the client goes away; while anyone
 *                                         listens, a 'stats' event carries every service's counters every 2 s
 */
import fs from 'node:fs';
import http from 'node:http';
import { z } from 'zod';
import { OPERATOR_STATES } from '../config/index.ts';
import { EngineError } from '../errors.ts';
import type { Engine, EngineLog } from './engine.ts';
import type { ApplyResponse } from '../api-types.ts';
import { LogQuerySchema, readLogs } from '../log/read.ts';
import { configView, l4View, l7View } from './views.ts';
import { VipAnswerRequestSchema, probeVipAnswer } from '../probe/vip-answer.ts';

const MAX_BODY = 64 * 1024 * 1024;

/** deadline: epoch ms after which the engine refuses the request instead of doing it late (see Engine.apply). */
const Deadline = z.number().int().positive().optional();
const StandbyBody = z.strictObject({ standby: z.strictObject({ by: z.string().min(1).max(200), reason: z.string().min(1).max(500) }).nullable() });
const StateBody = z.strictObject({ virtualService: z.string().min(1), realServer: z.string().min(1), state: z.enum(OPERATOR_STATES), deadline: Deadline });
const ApplyBody = z.strictObject({ version: z.number().int().min(0), hash: z.string().optional(), config: z.unknown(), deadline: Deadline });
const ValidateBody = z.strictObject({ config: z.unknown() });

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: EngineError): void {
  send(res, e.status, { error: { code: e.code, message: e.message, details: e.details } });
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new EngineError('ENGINE_BAD_REQUEST', { reason: `The body is larger than ${MAX_BODY} bytes.` });
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new EngineError('ENGINE_BAD_REQUEST', { reason: 'The body is not valid JSON.' });
  }
}

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new EngineError('ENGINE_BAD_REQUEST', { reason: `${i.path.join('.') || 'body'}: ${i.message}` });
  }
  return r.data;
}

const StatusQuery = z.strictObject({ service: z.array(z.string()).max(10_000).optional(), detail: z.enum(['full', 'health']).optional() });

/**
 * GET /v1/status's query: `service` may repeat; present but empty (`?service=`) asks for no service, since no
 * service has an empty name (the console's page of no services still wants the engine's summary).
 */
function statusQuery(url: string | undefined): { services?: string[]; detail?: 'full' | 'health' } {
  const params = new URL(url ?? '/', 'http://engine').searchParams;
  const q = parse(StatusQuery, {
    ...(params.has('service') ? { service: params.getAll('service') } : {}),
    ...(params.has('detail') ? { detail: params.get('detail') } : {}),
  });
  return { services: q.service, detail: q.detail };
}

/** `logsDir`: where the access and engine logs are (GET /v1/logs); none: it answers no lines. */
/**
 * POST /v1/apply's body handed to the engine, which is then the only holder of it (and lets it go once validated):
 * made apart so that no frame of the request's handler keeps it while the apply awaits the data planes. The body is
 * this request's own and nobody changes it: the engine compares its services by value.
 */
function applyBody(engine: Engine, raw: unknown): Promise<ApplyResponse> {
  const body = parse(ApplyBody, raw);
  return engine.apply(body.version, body.config, { deadline: body.deadline, isOwned: true });
}

export function createEngineServer(engine: Engine, log: EngineLog, logsDir?: string): http.Server {
  return http.createServer(async (req, res) => {
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    try {
      switch (route) {
        case 'GET /v1/capabilities':
          return send(res, 200, (await engine.status()).capabilities);
        case 'GET /v1/status':
          return send(res, 200, await engine.status(statusQuery(req.url)));
        case 'POST /v1/validate': {
          const { config } = parse(ValidateBody, await readBody(req));
          const { error } = engine.validate(config, true);
          if (error) throw error;
          return send(res, 200, { ok: true });
        }
        case 'POST /v1/apply': {
          const result = await applyBody(engine, await readBody(req));
          if (result.ok) return send(res, 200, result);
          // A refused apply answers in the error envelope like every other refusal; what was tried and what still
          // runs are its details (the client turns them back into an ApplyResponse).
          const { error, ok: _ok, ...tried } = result;
          return send(res, 502, { error: { code: error?.code ?? 'ENGINE_APPLY_FAILED', message: error?.message ?? 'The apply failed.', details: tried } });
        }
        case 'PUT /v1/server-state': {
          const b = parse(StateBody, await readBody(req));
          return send(res, 200, { results: await engine.setServerState(b.virtualService, b.realServer, b.state, { deadline: b.deadline }) });
        }
        case 'GET /v1/applies': {
          const version = Number(new URL(req.url ?? '/', 'http://engine').searchParams.get('version'));
          if (!Number.isInteger(version) || version < 0) throw new EngineError('ENGINE_BAD_REQUEST', { reason: 'version: give a whole number of 0 or more.' });
          const outcome = engine.outcome(version);
          if (!outcome) throw new EngineError('ENGINE_NOT_FOUND', { what: `An apply of version ${version}` });
          return send(res, 200, outcome);
        }
        case 'GET /v1/health/transitions': {
          const since = Number(new URL(req.url ?? '/', 'http://engine').searchParams.get('since') ?? '0');
          if (!Number.isInteger(since) || since < 0) throw new EngineError('ENGINE_BAD_REQUEST', { reason: 'since: give a whole number of 0 or more.' });
          return send(res, 200, { engineStartedAt: engine.startedAt, transitions: engine.healthTransitions(since) });
        }
        case 'PUT /v1/ha/standby': {
          const b = parse(StandbyBody, await readBody(req));
          return send(res, 200, { standby: engine.setHaStandby(b.standby) });
        }
        case 'GET /v1/ha/check': {
          const { problems } = engine.haCheck();
          if (problems.length > 0) throw new EngineError('HA_UNHEALTHY', { problems: problems.join('; ') }, { problems });
          return send(res, 200, { ok: true });
        }
        case 'GET /v1/views/config':
          return send(res, 200, configView(engine));
        case 'GET /v1/views/l4':
          return send(res, 200, await l4View(engine));
        case 'GET /v1/views/l7':
          return send(res, 200, await l7View(engine));
        case 'GET /v1/logs': {
          const q = parse(LogQuerySchema, Object.fromEntries(new URL(req.url ?? '/', 'http://engine').searchParams));
          return send(res, 200, logsDir ? readLogs(logsDir, q) : { lines: [], isTruncated: false });
        }
        case 'POST /v1/probe/vip-answer':
          return send(res, 200, await probeVipAnswer(parse(VipAnswerRequestSchema, await readBody(req))));
        case 'GET /v1/events': {
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
          const status = await engine.status();
          res.write(JSON.stringify({ type: 'hello', at: new Date().toISOString(), startedAt: status.startedAt, running: status.running }) + '\n');
          const onEvent = (e: unknown) => res.write(JSON.stringify(e) + '\n');
          engine.on('event', onEvent);
          req.on('close', () => engine.off('event', onEvent));
          return;
        }
        default:
          throw new EngineError('ENGINE_NOT_FOUND', { what: route });
      }
    } catch (e) {
      if (e instanceof EngineError) return sendError(res, e);
      log('error', 'unexpected error in engine API', { route, error: (e as Error).stack });
      sendError(res, new EngineError('ENGINE_INTERNAL'));
    }
  });
}

/** Listens on the socket path, replacing a stale socket file, readable and writable by the owner only. */
export async function listenOnSocket(server: http.Server, socketPath: string): Promise<void> {
  if (fs.existsSync(socketPath)) {
    const isLive = await new Promise<boolean>((resolve) => {
      const probe = http.get({ socketPath, path: '/v1/capabilities', timeout: 1000 }, (r) => {
        r.resume();
        resolve(true);
      });
      probe.on('error', () => resolve(false));
      probe.on('timeout', () => {
        probe.destroy();
        resolve(false);
      });
    });
    if (isLive) throw new Error(`another engine is already answering on ${socketPath}`);
    fs.unlinkSync(socketPath);
  }
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  fs.chmodSync(socketPath, 0o600);
}
