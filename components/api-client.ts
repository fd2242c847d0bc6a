'use client';
/** The browser's API client: same-origin fetch with the session's CSRF token, errors as the API's envelope. */

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: { fields?: { path: string; message: string }[]; [k: string]: unknown };
}

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
  /** Field errors keyed by path ("realServers.1.port"). */
  get fields(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of this.body.details?.fields ?? []) out[f.path] ??= f.message;
    return out;
  }
}

let csrfToken = '';
export function setCsrfToken(t: string) {
  csrfToken = t;
}

export async function api<T = any>(method: string, path: string, body?: unknown, opts: { ifMatch?: number } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.ifMatch !== undefined) headers['if-match'] = `"${opts.ifMatch}"`;
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => ({ error: { code: 'API_INTERNAL', message: `The console answered ${res.status} without a readable body.` } }));
  if (!res.ok) {
    if (res.status === 401 && typeof window !== 'undefined' && !path.startsWith('/session') && !path.startsWith('/setup')) window.location.href = '/login';
    throw new ApiCallError(res.status, json.error);
  }
  return json as T;
}
