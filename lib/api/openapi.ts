/** The OpenAPI 3.1 document, generated from the route table and the zod schemas (never written by hand). */
import { z } from 'zod';
import { PERMISSIONS } from '../auth/roles.ts';
import type { RouteDef } from './route.ts';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): unknown {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  } catch {
    return {};
  }
}

const ErrorEnvelope = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
};

export function openApiDocument(routes: RouteDef<unknown, unknown>[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = '/api/v1' + r.path.replace(/:(\w+)/g, '{$1}');
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {}))
        params.push({ name, in: 'query', required: (q.required ?? []).includes(name) && !(schema as { default?: unknown }).default, schema } as never);
    }
    const roles =
      r.permission === 'public'
        ? 'anyone'
        : r.permission === 'authenticated'
          ? 'any logged-in role'
          : (PERMISSIONS[r.permission] as readonly string[]).join(', ');
    paths[p] ??= {};
    paths[p][r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      description: `Roles: ${roles}.${r.method !== 'GET' && r.permission !== 'public' ? ' Cookie sessions send X-CSRF-Token.' : ''}`,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[/:-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
      security: r.permission === 'public' ? [] : [{ session: [] }, { apiKey: [] }],
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: r.response ? jsonSchema(r.response, 'output') : {} } } },
        '4XX': { description: 'A refusal naming the field and what would be accepted', content: { 'application/json': { schema: ErrorEnvelope } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Fulcrum API',
      version: '1',
      description: 'Load-balancer appliance: virtual services, real servers, staged changes, apply, audit, health history.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'hosts', description: 'A real server address across every service: preview, then drain, halt or bring online everywhere at once.' },
      {
        name: 'logs',
        description:
          "The layer 7 access log (a line per request, HAProxy's fields and termination codes) and the engine log: recent lines, filtered; admin and auditor.",
      },
      {
        name: 'running',
        description:
          'What the engine runs, read from it: the running configuration (no private keys), the IPVS table with counters and owners, the layer 7 listeners, pools and stick tables.',
      },
    ],
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'fulcrum_session' },
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key "fk_…" created under API keys.' },
      },
    },
    paths,
  };
}
