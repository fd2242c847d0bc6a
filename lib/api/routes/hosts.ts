/** Hosts: a real server's address across every service, for patch-night drain / halt / online (lib/hosts/). */
import { z } from 'zod';
import { IpAddressSchema, OPERATOR_STATES } from '../../../engine/config/index.ts';
import { ApiError, validationError } from '../../errors.ts';
import { defineRoute } from '../route.ts';
import { listHosts } from '../../hosts/find.ts';
import { previewHost } from '../../hosts/preview.ts';
import { setHostState } from '../../hosts/state.ts';

const tag = 'hosts';

/** The :address parameter, by the shared schema; a refusal names the field "address". */
function parseAddress(raw: string): string {
  const r = IpAddressSchema.safeParse(raw);
  if (!r.success) throw validationError(r.error.issues.map((i) => ({ ...i, path: ['address'] })));
  return r.data;
}

export const hostRoutes = [
  defineRoute({
    method: 'GET',
    path: '/hosts',
    permission: 'config:read',
    tag,
    action: 'host.list',
    objectType: 'host',
    summary: 'List hosts (real server addresses) with the services and server names at each; search by address or name',
    query: z.object({ search: z.string().max(200, { error: 'Search for at most 200 characters.' }).optional() }),
    async handler(ctx) {
      return { body: await listHosts(ctx.query.search ?? '') };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/hosts/:address',
    permission: 'config:read',
    tag,
    action: 'host.read',
    objectType: 'host',
    summary: 'Preview a host: every service and real server at the address, stored and running state, open connections',
    async handler(ctx) {
      const address = parseAddress(ctx.params.address);
      const preview = await previewHost(address);
      if (preview.servers.length === 0) throw new ApiError('API_NOT_FOUND', { what: `A real server at ${address}` });
      return { body: preview };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/hosts/:address/state',
    permission: 'server:state',
    tag,
    action: 'host.state',
    objectType: 'host',
    summary: 'Set every real server at an address online, drain or halt, in every service (takes effect at once)',
    body: z.strictObject({ state: z.enum(OPERATOR_STATES, { error: 'Choose online, drain or halt.' }) }),
    async handler(ctx) {
      const address = parseAddress(ctx.params.address);
      return { body: await setHostState(address, ctx.body.state, ctx.audit) };
    },
  }),
];
