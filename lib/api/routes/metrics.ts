/**
 * GET /api/v1/metrics: Prometheus's scrape target (lib/metrics.ts has the metrics, the README their contract). It is
 * an ordinary API route, so a scrape is authenticated and refused exactly as every other read is: an API key
 * (`authorization: { credentials: fk_… }` in the scrape config) or a session, of a role that may read configuration
 * (viewer and up). The console's server also answers it at /metrics, Prometheus's default path (server.ts).
 */
import { metrics, METRICS_CONTENT_TYPE } from '../../metrics.ts';
import { defineRoute } from '../route.ts';

export const metricsRoutes = [
  defineRoute({
    method: 'GET',
    path: '/metrics',
    permission: 'config:read',
    tag: 'metrics',
    action: 'metrics.read',
    objectType: 'metrics',
    summary: 'Counters, health and applies in the Prometheus text exposition format (not JSON)',
    async handler() {
      const text = await metrics().scrape();
      return new Response(text, { status: 200, headers: { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' } });
    },
  }),
];
