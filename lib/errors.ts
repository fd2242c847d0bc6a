/**
 * The console's error table: the engine's codes plus the console's own. One row per failure: HTTP status and a
 * sentence a person can act on. Route handlers throw ApiError; the route wrapper turns it into the envelope
 * `{ error: { code, message, details } }`. Anything else thrown is logged in full and answered with a generic 500.
 */
import { checkFilled, ENGINE_ERRORS, type EngineError, fieldIssues as engineFieldIssues, fillMessage, type ErrorDef } from '../engine/errors.ts';
import { HA_ERRORS } from './ha/errors.ts';

export const CONSOLE_ERRORS = {
  AUTH_REQUIRED: { status: 401, message: 'Log in first (or send an API key as "Authorization: Bearer <key>").' },
  AUTH_INVALID_CREDENTIALS: { status: 401, message: 'The username or password is not right.' },
  AUTH_THROTTLED: { status: 429, message: 'Too many failed logins; try again in {seconds} s.' },
  AUTH_KEY_EXPIRED: { status: 401, message: 'This API key expired at {at}; ask an admin for a new key.' },
  AUTH_FORBIDDEN: { status: 403, message: 'Your role ({role}) may not {action}; ask an {needed}.' },
  AUTH_CSRF: { status: 403, message: "This request did not carry the console's CSRF token; reload the page and try again." },
  AUTH_PASSWORD_CHANGE_REQUIRED: { status: 403, message: 'An admin reset your password: choose your own first, on your account page (/account).' },
  AUTH_SESSION_ONLY: { status: 403, message: 'To {action}, log in with your password; an API key cannot.' },
  AUTH_SETUP_DONE: { status: 409, message: 'Setup is already complete; log in instead.' },
  AUTH_SETUP_TOKEN: { status: 403, message: 'The setup token is not right; it is in {path}.' },
  API_NOT_FOUND: { status: 404, message: '{what} was not found.' },
  API_ROUTE_NOT_FOUND: { status: 404, message: 'There is no {method} {path} in this API; see /api/v1/openapi.json.' },
  API_METHOD_NOT_ALLOWED: { status: 405, message: '{path} does not accept {method}; it accepts {allowed}.' },
  API_MALFORMED_JSON: { status: 400, message: 'The body is not valid JSON: {reason}.' },
  API_UNSUPPORTED_MEDIA: { status: 415, message: 'Send the body as application/json.' },
  API_BODY_TOO_LARGE: { status: 413, message: 'The body is larger than {limit} bytes.' },
  API_VALIDATION: { status: 422, message: '{summary}' },
  API_CONFLICT: { status: 409, message: '{reason}' },
  API_DUPLICATE: { status: 409, message: 'There is already {what} with this {field}; choose another {field}.' },
  API_VERSION_CONFLICT: {
    status: 409,
    message: '{what} was changed by someone else since you loaded it (your version {yours}, now {current}); reload and apply your edit again.',
  },
  API_PRECONDITION_REQUIRED: {
    status: 428,
    message: 'Send the version you edited as If-Match (the ETag of the GET), so a concurrent edit is not overwritten.',
  },
  API_NOTHING_TO_APPLY: { status: 409, message: 'There are no pending changes to apply.' },
  ENGINE_APPLY_PENDING: {
    status: 503,
    message:
      "The engine did not answer within {seconds} s, so version {version} is pending: the engine will not start it after {deadline}, and the console settles it from the engine's own record as soon as the engine answers (see History). Check the engine (its log is logs/engine.log in the data directory, also on the Logs page).",
  },
  AUDIT_KEY_MISSING: {
    status: 503,
    message:
      'The audit key {path} is missing, so no change can be audited and none is made. Restore the file from where you keep it (it is never in backups); a new key would make every earlier row fail verification.',
  },
  API_STORAGE_FULL: {
    status: 507,
    message: 'The disk holding the data directory is full, so nothing was changed; free space on it (old logs and backups are the usual cause) and try again.',
  },
  API_DATABASE_BUSY: {
    status: 503,
    message: 'The database is locked by another program (a backup, or an sqlite3 shell left open), so nothing was changed; try again in a few seconds.',
  },
  API_INTERNAL: { status: 500, message: 'Something went wrong on the console; it is logged with request id {requestId}.' },
} as const satisfies Record<string, ErrorDef>;

export const ERRORS = { ...ENGINE_ERRORS, ...CONSOLE_ERRORS, ...HA_ERRORS } as const;
export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;
  /** Set once the refusal is in the audit trail, so the route wrapper does not write it twice. */
  isAudited = false;
  /** `options.cause`: the error this one reports (kept for the log; never sent to a person). */
  constructor(code: ErrorCode, params: Record<string, unknown> = {}, details?: unknown, headers?: Record<string, string>, options?: ErrorOptions) {
    super(fillMessage(ERRORS[code].message, params), options);
    checkFilled(this, code, ERRORS[code].message, params);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
    this.headers = headers;
  }

  /** The engine's error as the API answers it; a code the table does not know keeps its message and status. */
  static from(e: EngineError): ApiError {
    const known = (e.code as string) in ERRORS;
    // The engine's message is already filled and replaces the template's below (so no parameter is missing).
    const err = new ApiError(known ? e.code : 'ENGINE_BAD_REQUEST', {}, e.details, undefined, { cause: e });
    (err as { message: string }).message = e.message;
    if (!known) Object.assign(err, { code: e.code, status: e.status });
    return err;
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** zod issues as `{ path: "realServers.1.port", message }`, the shape forms use to place errors at fields. */
export function fieldIssues(issues: Parameters<typeof engineFieldIssues>[0]): FieldIssue[] {
  return engineFieldIssues(issues);
}

export function validationError(issues: Parameters<typeof fieldIssues>[0]): ApiError {
  const fields = fieldIssues(issues);
  const first = fields[0];
  const summary = first
    ? `${first.path ? `${first.path}: ` : ''}${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`
    : 'The input is not valid.';
  return new ApiError('API_VALIDATION', { summary }, { fields });
}

/**
 * A unique constraint the database enforced (a race two requests ran, each having checked first) as the 409 a person
 * can act on, naming the field; undefined for any other error. Prisma's P2002 carries the fields either as
 * `meta.target` (its own engines) or in the driver adapter's cause (better-sqlite3).
 */
export function duplicateError(e: unknown): ApiError | undefined {
  const err = e as { code?: unknown; meta?: { modelName?: unknown; target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: unknown } } } } };
  if (!err || typeof err !== 'object' || err.code !== 'P2002') return undefined;
  const raw = err.meta?.driverAdapterError?.cause?.constraint?.fields ?? err.meta?.target;
  const fields = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).map(String).map((f) => f.replace(/^.*\./, ''));
  // A compound key (virtualServiceId, name) is named by its last part: the parent's id is not the person's choice.
  const field = fields.filter((f) => !/Id$/.test(f)).at(-1) ?? fields.at(-1) ?? 'value';
  const model = typeof err.meta?.modelName === 'string' ? err.meta.modelName : '';
  const words = model.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() || 'an object';
  // "a user", "an object": the u- words here sound like "you".
  const what = model ? `${/^[aeio]/.test(words) ? 'an' : 'a'} ${words}` : words;
  return new ApiError('API_DUPLICATE', { what, field }, { fields: [{ path: field, message: `This ${field} is taken.` }] });
}

/**
 * SQLite refusals that are not a bug in the console: a full disk (SQLITE_FULL) and a lock another process held past
 * the busy timeout (SQLITE_BUSY). The transaction was rolled back, so the answer can say nothing changed. The driver
 * adapter's error may be wrapped; its code or its message is looked for down the `cause` chain.
 */
export function storageError(e: unknown): ApiError | undefined {
  // Where SQLite's code can be: the error itself, its causes, or Prisma's meta.driverAdapterError.cause
  // ({ originalCode: 'SQLITE_BUSY', originalMessage: 'database is locked' } under a P1008 "timed out").
  const seen: unknown[] = [];
  const visit = (x: unknown, depth: number) => {
    if (!x || typeof x !== 'object' || depth > 5 || seen.includes(x)) return;
    seen.push(x);
    const o = x as { cause?: unknown; meta?: { driverAdapterError?: unknown } };
    visit(o.cause, depth + 1);
    visit(o.meta?.driverAdapterError, depth + 1);
  };
  visit(e, 0);
  for (const x of seen as { code?: unknown; message?: unknown; originalCode?: unknown; originalMessage?: unknown }[]) {
    const text = [x.code, x.message, x.originalCode, x.originalMessage].map((v) => String(v ?? '')).join(' ');
    if (/SQLITE_FULL|database or disk is full/.test(text)) return new ApiError('API_STORAGE_FULL');
    if (/SQLITE_BUSY|database is locked/.test(text)) return new ApiError('API_DATABASE_BUSY', {}, undefined, { 'retry-after': '2' });
  }
  return undefined;
}
