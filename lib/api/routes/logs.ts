/**
 * The access, engine and console logs, as the engine reads them from its data directory (engine/log/read.ts): recent lines,
 * newest first, with the viewer's filters. The query is parsed by the engine's own schema here, so a mistake is
 * refused with its field before the engine is asked. Who may read them: admin and auditor (roles.policy.ts, "read
 * audit"): an access log names clients and paths.
 */
import { z } from 'zod';
import { LogQuerySchema } from '../../../engine/log/read.ts';
import { EngineError } from '../../../engine/errors.ts';
import { engine } from '../../engine.ts';
import { defineRoute } from '../route.ts';

export const LogsView = z.object({
  lines: z.array(z.object({ time: z.string(), level: z.string(), msg: z.string() }).passthrough()),
  isTruncated: z.boolean(),
  /** Set when the engine could not be asked (it reads the files): no lines, and why, rather than an error page. */
  problem: z.string().optional(),
});

export const logRoutes = [
  defineRoute({
    method: 'GET',
    path: '/logs',
    response: LogsView,
    permission: 'audit:read',
    tag: 'logs',
    action: 'logs.read',
    objectType: 'log',
    summary: 'Recent access, engine or console log lines, newest first, filtered',
    query: LogQuerySchema,
    async handler(ctx) {
      const q: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.query)) if (v !== undefined) q[k] = String(v);
      try {
        return { body: await engine().logs(q) };
      } catch (e) {
        if (!(e instanceof EngineError) || e.code !== 'ENGINE_UNREACHABLE') throw e;
        return { body: { lines: [], isTruncated: false, problem: e.message } };
      }
    },
  }),
];
