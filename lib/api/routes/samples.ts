/**
 * Traffic samples for the graphs: one virtual service (or one of its real servers) over the last hour, day, week or
 * year, column-wise with health transitions in the range (lib/samples/series.ts). Samples are keyed by name, so a
 * renamed service or server starts a new history.
 */
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { RANGE_NAMES, readSeries, type RangeName } from '../../samples/series.ts';
import { RESPONSE_CLASSES } from '../../samples/derive.ts';
import { defineRoute } from '../route.ts';

const values = z.array(z.number().nullable());

export const SamplesView = z.object({
  virtualService: z.string(),
  realServer: z.string().nullable(),
  layer: z.number().int(),
  range: z.enum(RANGE_NAMES as [RangeName, ...RangeName[]]),
  stepS: z.number(),
  from: z.string(),
  to: z.string(),
  t: z.array(z.number()),
  connections: values,
  connectionsMax: values,
  newConnectionsPerS: values,
  bytesInPerS: values,
  bytesOutPerS: values,
  requestsPerS: values,
  responsesPerS: z.object(Object.fromEntries(RESPONSE_CLASSES.map((k) => [k, values])) as Record<(typeof RESPONSE_CLASSES)[number], typeof values>),
  latencyMs: values,
  transitions: z.array(z.object({ at: z.string(), realServer: z.string(), previous: z.string(), health: z.string(), message: z.string() })),
});

export const SamplesQuery = z.strictObject({
  range: z.enum(RANGE_NAMES as [RangeName, ...RangeName[]], { error: `Give range as one of ${RANGE_NAMES.join(', ')}.` }).default('hour'),
  realServer: z
    .string({ error: "Give realServer as the id of one of this virtual service's real servers." })
    .min(1, "Give realServer as the id of one of this virtual service's real servers, or leave it out for the whole service.")
    .max(100, 'That is not a real server id.')
    .optional(),
});

export const sampleRoutes = [
  defineRoute({
    method: 'GET',
    path: '/virtual-services/:id/samples',
    response: SamplesView,
    permission: 'config:read',
    tag: 'graphs',
    action: 'samples.read',
    objectType: 'virtual-service',
    summary: 'Traffic of a virtual service or one of its real servers over a range, with its health transitions',
    query: SamplesQuery,
    async handler(ctx) {
      const vs = await db().virtualService.findUnique({
        where: { id: ctx.params.id },
        select: { name: true, layer: true, realServers: { select: { id: true, name: true } } },
      });
      if (!vs) throw new ApiError('API_NOT_FOUND', { what: `Virtual service ${ctx.params.id}` });
      let realServer: string | undefined;
      if (ctx.query.realServer !== undefined) {
        realServer = vs.realServers.find((r) => r.id === ctx.query.realServer)?.name;
        if (!realServer) {
          const message = `Real server ${ctx.query.realServer} is not one of ${vs.name}'s real servers.`;
          throw new ApiError('API_VALIDATION', { summary: `realServer: ${message}` }, { fields: [{ path: 'realServer', message }] });
        }
      }
      const series = await readSeries({ virtualService: vs.name, realServer, range: ctx.query.range, nowMs: Date.now() });
      return { body: { ...series, layer: vs.layer }, headers: { 'cache-control': 'no-store' } };
    },
  }),
];
