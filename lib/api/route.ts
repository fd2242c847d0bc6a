/**
 * Every API route is one `defineRoute` call: method, path, the permission it needs, the zod schemas of its input,
 * and a handler. The wrapper (`runRoute`) does the rest the same way for every route: request id, who is asking,
 * role check, CSRF check, body size and JSON parsing, schema validation, auditing of refusals, and mapping errors to
 * the envelope `{ error: { code, message, details } }`. Handlers never see unparsed input.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ApiError, duplicateError, storageError, validationError } from '../errors.ts';
import { EngineError } from '../../engine/errors.ts';
import { writeAuditAlone, type AuditInput } from '../audit.ts';
import { can, PERMISSIONS, type Permission } from '../auth/roles.ts';
import { ANONYMOUS, actorFromSession, checkApiKey, readCookie, SESSION_COOKIE, type Actor } from '../auth/session.ts';
import { log } from '../log.ts';
import { refuseOnSecondary } from '../ha/guard.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export const MAX_BODY_BYTES = 1024 * 1024;

export interface RouteContext<B, Q> {
  req: Request;
  requestId: string;
  sourceAddress: string;
  actor: Actor;
  params: Record<string, string>;
  body: B;
  query: Q;
  /** Fills actor, source, request id. */
  audit(input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>): AuditInput;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteDef<B = unknown, Q = unknown> {
  method: Method;
  /** Below /api/v1, with ":name" parameters. */
  path: string;
  /** 'public': anyone; 'authenticated': any logged-in role. */
  permission: Permission | 'public' | 'authenticated';
  summary: string;
  tag: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** What the OpenAPI document says the route answers (2xx body). */
  response?: z.ZodType;
  /** Answered while the user must first replace a password an admin reset (session, logout, the change itself). */
  isAllowedBeforePasswordChange?: boolean;
  /** Audit action for refusals, e.g. "virtual-service.create". */
  action: string;
  objectType: string;
  handler(ctx: RouteContext<B, Q>): Promise<RouteResult | Response>;
}

export function defineRoute<B = undefined, Q = undefined>(def: RouteDef<B, Q>): RouteDef<B, Q> {
  return def;
}

const isMutation = (m: Method) => m !== 'GET';

export function errorResponse(e: ApiError, requestId: string): Response {
  const body: { error: { code: string; message: string; details?: unknown } } = { error: { code: e.code, message: e.message } };
  if (e.details !== undefined) body.error.details = e.details;
  return Response.json(body, { status: e.status, headers: { 'x-request-id': requestId, ...e.headers } });
}

/** Who is asking, checked afresh on every request (a key's role is its owner's current role at most). */
async function resolveActor(req: Request, sourceAddress: string): Promise<{ actor: Actor; expired?: Date }> {
  const auth = req.headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) return { actor: ANONYMOUS };
    const r = await checkApiKey(m[1], { sourceAddress });
    return r.actor ? { actor: r.actor } : { actor: ANONYMOUS, expired: r.reason === 'expired' ? r.expiresAt : undefined };
  }
  const cookie = readCookie(req.headers.get('cookie'), SESSION_COOKIE);
  return { actor: (cookie && (await actorFromSession(cookie))) || ANONYMOUS };
}

async function readJsonBody(req: Request): Promise<unknown> {
  const length = Number(req.headers.get('content-length') ?? 0);
  if (length > MAX_BODY_BYTES) throw new ApiError('API_BODY_TOO_LARGE', { limit: MAX_BODY_BYTES });
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        throw new ApiError('API_BODY_TOO_LARGE', { limit: MAX_BODY_BYTES });
      }
      chunks.push(value);
    }
  }
  if (size === 0) return undefined;
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new ApiError('API_UNSUPPORTED_MEDIA');
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError('API_MALFORMED_JSON', { reason: jsonSyntaxReason(text, (e as Error).message) }, undefined, undefined, { cause: e });
  }
}

/**
 * V8's JSON.parse message as a sentence that says where: "at line 3, column 2: expected double-quoted property
 * name". V8 gives a character position (or nothing, at the end of the text); lines and columns count from 1.
 */
export function jsonSyntaxReason(text: string, message: string): string {
  const at = /at position (\d+)/.exec(message);
  const token = /^Unexpected token '(.)'/.exec(message);
  const position = at ? Number(at[1]) : token ? firstOutsideStrings(text, token[1]) : text.length;
  const before = text.slice(0, position).split('\n');
  const where = `at line ${before.length}, column ${before.at(-1)!.length + 1}`;
  if (/end of JSON input/i.test(message)) return `${where}: the text ends before the JSON does`;
  const what = message
    .replace(/^JSON\.parse: /, '')
    .replace(/,? ?"[^"]*"? is not valid JSON$/, '')
    .replace(/\s*(in JSON )?at position \d+.*$/, '')
    .replace(/\s*\(line \d+ column \d+\)$/, '');
  return `${where}: ${what.charAt(0).toLowerCase()}${what.slice(1)}`;
}

function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

/** The client's address: set by the console's own server from the socket (any client-sent copy is overwritten). */
export const PEER_HEADER = 'x-fulcrum-peer';

export async function runRoute(def: RouteDef<unknown, unknown>, req: Request, params: Record<string, string>): Promise<Response> {
  const requestId = req.headers.get('x-request-id')?.match(/^[A-Za-z0-9-]{8,64}$/)?.[0] ?? randomUUID();
  const sourceAddress = req.headers.get(PEER_HEADER) ?? 'unknown';
  let actor: Actor = ANONYMOUS;
  const refusal = (outcome: 'denied' | 'invalid', message: string, extra: Partial<AuditInput> = {}): AuditInput => ({
    actor: actor.name,
    actorRole: actor.role ?? null,
    sourceAddress,
    requestId,
    action: def.action,
    objectType: def.objectType,
    objectId: params.id ?? null,
    outcome,
    message,
    ...extra,
  });
  try {
    const who = await resolveActor(req, sourceAddress);
    actor = who.actor;
    if (def.permission !== 'public') {
      if (actor.kind === 'anonymous') {
        if (isMutation(def.method)) await writeAuditAlone(refusal('denied', who.expired ? 'API key expired' : 'not logged in'));
        throw who.expired ? new ApiError('AUTH_KEY_EXPIRED', { at: who.expired.toISOString() }) : new ApiError('AUTH_REQUIRED');
      }
      if (def.permission !== 'authenticated' && !can(actor.role!, def.permission)) {
        const needed = (PERMISSIONS[def.permission] as readonly string[]).join(' or ');
        const err = new ApiError('AUTH_FORBIDDEN', { role: actor.role, action: def.summary.toLowerCase(), needed });
        await writeAuditAlone(refusal('denied', err.message));
        err.isAudited = true;
        throw err;
      }
      if (actor.mustChangePassword && !def.isAllowedBeforePasswordChange) throw new ApiError('AUTH_PASSWORD_CHANGE_REQUIRED');
      if (isMutation(def.method) && actor.kind === 'user') {
        const sent = req.headers.get('x-csrf-token');
        if (!sent || sent !== actor.csrfToken) {
          await writeAuditAlone(refusal('denied', 'missing or wrong CSRF token'));
          throw Object.assign(new ApiError('AUTH_CSRF'), { isAudited: true });
        }
      }
    }
    // The secondary of an HA pair refuses edits and names the primary (lib/ha/guard.ts); audited below like any refusal.
    if (isMutation(def.method)) await refuseOnSecondary(def);

    let body: unknown;
    let query: unknown;
    try {
      const raw = isMutation(def.method) ? await readJsonBody(req) : undefined;
      if (def.body) {
        const parsed = def.body.safeParse(raw ?? {});
        if (!parsed.success) throw validationError(parsed.error.issues);
        body = parsed.data;
      } else if (raw !== undefined && !(typeof raw === 'object' && raw && Object.keys(raw).length === 0)) {
        throw new ApiError('API_VALIDATION', { summary: 'This request takes no body.' }, { fields: [{ path: '', message: 'Send no body.' }] });
      }
      const q = queryObject(new URL(req.url));
      if (def.query) {
        const parsed = def.query.safeParse(q);
        if (!parsed.success) throw validationError(parsed.error.issues);
        query = parsed.data;
      }
    } catch (e) {
      if (e instanceof ApiError && isMutation(def.method)) {
        await writeAuditAlone(refusal('invalid', e.message, { after: { details: e.details ?? null } }));
        e.isAudited = true;
      }
      throw e;
    }

    const ctx: RouteContext<unknown, unknown> = {
      req,
      requestId,
      sourceAddress,
      actor,
      params,
      body,
      query,
      audit: (input) => ({ ...input, actor: actor.name, actorRole: actor.role ?? null, sourceAddress, requestId }),
    };
    const result = await def.handler(ctx);
    if (result instanceof Response) {
      result.headers.set('x-request-id', requestId);
      return result;
    }
    const status = result.status ?? 200;
    const headers = { 'x-request-id': requestId, 'cache-control': 'no-store', ...result.headers };
    if (status === 204) return new Response(null, { status, headers });
    let payload: unknown = result.body ?? {};
    if (def.response && status < 300) {
      // Through JSON first, so dates are the strings the client receives; unknown keys are dropped by the schema.
      const out = def.response.safeParse(JSON.parse(JSON.stringify(payload)));
      if (!out.success) throw new Error(`response of ${def.method} ${def.path} does not match its schema: ${JSON.stringify(out.error.issues.slice(0, 3))}`);
      payload = out.data;
    }
    return Response.json(payload, { status, headers });
  } catch (caught) {
    // An engine refusal that a handler did not translate still has its code, status and sentence; a unique
    // constraint the database enforced (two requests raced past the handler's own check) is a 409 naming the field;
    // a full disk or a database another program holds locked says so (storageError), never a 500.
    const e = caught instanceof EngineError ? ApiError.from(caught) : (duplicateError(caught) ?? storageError(caught) ?? caught);
    if (e instanceof ApiError) {
      // A refusal by the handler (validation across services, version conflict, engine refusal) is audited too.
      // A refusal for a full disk or a locked database cannot be written either: it is logged instead.
      const isStorage = e.code === 'API_STORAGE_FULL' || e.code === 'API_DATABASE_BUSY';
      if (isStorage) log('error', e.message, { requestId, route: `${def.method} ${def.path}` });
      if (!e.isAudited && !isStorage && isMutation(def.method) && e.status >= 400 && e.status !== 401) {
        await writeAuditAlone({
          ...refusal(e.status === 403 ? 'denied' : 'invalid', e.message),
          ...(e.status >= 500 ? { outcome: 'failed' as const } : {}),
        }).catch(() => undefined);
      }
      return errorResponse(e, requestId);
    }
    log('error', 'unexpected error in API route', { requestId, route: `${def.method} ${def.path}`, error: e instanceof Error ? e.stack : String(e) });
    return errorResponse(new ApiError('API_INTERNAL', { requestId }), requestId);
  }
}

/** Where `ch` first occurs outside a JSON string (V8 names the unexpected token but not always its position). */
function firstOutsideStrings(text: string, ch: string): number {
  let isInString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (isInString) {
      if (c === '\\') i++;
      else if (c === '"') isInString = false;
    } else if (c === ch) return i;
    else if (c === '"') isInString = true;
  }
  return text.length;
}
