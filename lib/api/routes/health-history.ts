/** Health history: the last transitions of one real server, as the engine's health monitor saw them. */
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { healthHistoryOf } from '../../health-history.ts';
import { defineRoute } from '../route.ts';
import { HealthHistoryView } from '../views.ts';

export const HEALTH_HISTORY_MAX = 500;

export const healthHistoryRoutes = [
  defineRoute({
    method: 'GET',
    path: '/real-servers/:id/health-history',
    response: HealthHistoryView,
    permission: 'config:read',
    tag: 'health',
    action: 'health-history.read',
    objectType: 'real-server',
    summary: 'Health transitions of a real server, newest first',
    query: z.strictObject({
      limit: z.coerce
        .number({ error: `Give limit as a whole number from 1 to ${HEALTH_HISTORY_MAX}.` })
        .int()
        .min(1, `Give limit from 1 to ${HEALTH_HISTORY_MAX}.`)
        .max(HEALTH_HISTORY_MAX, `Give limit from 1 to ${HEALTH_HISTORY_MAX}.`)
        .default(50),
    }),
    async handler(ctx) {
      const rs = await db().realServer.findUnique({ where: { id: ctx.params.id }, include: { virtualService: { select: { name: true } } } });
      if (!rs) throw new ApiError('API_NOT_FOUND', { what: `Real server ${ctx.params.id}` });
      const items = await healthHistoryOf(rs.virtualService.name, rs.name, ctx.query.limit);
      return { body: { id: rs.id, virtualService: rs.virtualService.name, realServer: rs.name, items } };
    },
  }),
];
