/**
 * The API's route table and dispatcher. The Next catch-all route (app/api/v1/[...path]/route.ts) and the tests'
 * plain HTTP server both hand requests here, so the API behaves the same under Next and in-process.
 */
import { ApiError } from '../errors.ts';
import { errorResponse, runRoute, type RouteDef } from './route.ts';
import { authRoutes } from './routes/auth.ts';
import { virtualServiceRoutes } from './routes/virtual-services.ts';
import { configRoutes } from './routes/config.ts';
import { auditRoutes } from './routes/audit.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { healthHistoryRoutes } from './routes/health-history.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { wizardRoutes } from './routes/wizard.ts';
import { backupRoutes } from './routes/backup.ts';
import { sampleRoutes } from './routes/samples.ts';
import { haRoutes } from './routes/ha.ts';
import { haSettingsRoutes } from './routes/ha-settings.ts';
import { syslogRoutes } from './routes/syslog.ts';
import { alertRoutes } from './routes/alerts.ts';
import { hostRoutes } from './routes/hosts.ts';
import { logRoutes } from './routes/logs.ts';
import { runningRoutes } from './routes/running.ts';
import { overviewRoutes } from './routes/overview.ts';
import { openApiDocument } from './openapi.ts';

export const API_PREFIX = '/api/v1';

const openApiRoute: RouteDef<unknown, unknown> = {
  method: 'GET',
  path: '/openapi.json',
  permission: 'public',
  tag: 'meta',
  action: 'openapi.read',
  objectType: 'meta',
  summary: 'This API described as OpenAPI 3.1',
  async handler() {
    return { body: openApiDocument(ROUTES) };
  },
};

export const ROUTES: RouteDef<unknown, unknown>[] = [
  ...(authRoutes as RouteDef<unknown, unknown>[]),
  ...(virtualServiceRoutes as RouteDef<unknown, unknown>[]),
  ...(configRoutes as RouteDef<unknown, unknown>[]),
  ...(auditRoutes as RouteDef<unknown, unknown>[]),
  ...(certificateRoutes as RouteDef<unknown, unknown>[]),
  ...(healthHistoryRoutes as RouteDef<unknown, unknown>[]),
  ...(metricsRoutes as RouteDef<unknown, unknown>[]),
  ...(wizardRoutes as RouteDef<unknown, unknown>[]),
  ...(backupRoutes as RouteDef<unknown, unknown>[]),
  ...(sampleRoutes as RouteDef<unknown, unknown>[]),
  ...(haRoutes as RouteDef<unknown, unknown>[]),
  ...(haSettingsRoutes as RouteDef<unknown, unknown>[]),
  ...(syslogRoutes as RouteDef<unknown, unknown>[]),
  ...(alertRoutes as RouteDef<unknown, unknown>[]),
  ...(hostRoutes as RouteDef<unknown, unknown>[]),
  ...(logRoutes as RouteDef<unknown, unknown>[]),
  ...(runningRoutes as RouteDef<unknown, unknown>[]),
  ...(overviewRoutes as RouteDef<unknown, unknown>[]),
  openApiRoute,
];

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) {
      if (!b[i]) return undefined;
      params[a[i].slice(1)] = decodeURIComponent(b[i]);
    } else if (a[i] !== b[i]) return undefined;
  }
  return params;
}

export async function handleApi(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, '').slice(API_PREFIX.length) || '/';
  const candidates = ROUTES.map((r) => ({ r, params: matchPath(r.path, path) })).filter((x) => x.params);
  const hit = candidates.find((x) => x.r.method === req.method);
  if (hit) return runRoute(hit.r, req, hit.params!);
  const requestId = crypto.randomUUID();
  if (candidates.length) {
    const allowed = candidates.map((x) => x.r.method).join(', ');
    return errorResponse(new ApiError('API_METHOD_NOT_ALLOWED', { path: url.pathname, method: req.method, allowed }, undefined, { allow: allowed }), requestId);
  }
  return errorResponse(new ApiError('API_ROUTE_NOT_FOUND', { method: req.method, path: url.pathname }), requestId);
}
