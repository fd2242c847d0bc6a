/**
 * The HA pair's settings (lib/ha-settings.ts): the engine's `ha` block, staged until applied like any other change.
 * Writing them is configuration (config:write, an admin's). Tagged 'ha-settings', not 'ha': the secondary of a pair
 * refuses them like every edit (lib/ha/guard.ts) and takes them from the primary's applies instead.
 */
import { HaSchema } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { defineRoute } from '../route.ts';
import { mutate } from '../mutate.ts';
import { haSettingsView, stagedHa, writeHa } from '../../ha-settings.ts';

export const haSettingsRoutes = [
  defineRoute({
    method: 'GET',
    path: '/ha/settings',
    permission: 'config:read',
    tag: 'ha-settings',
    action: 'ha-settings.read',
    objectType: 'ha-settings',
    summary: "The HA pair's settings as staged (null: a single node), as running, the defaults, and the VRRP instances they make",
    async handler() {
      return { body: await haSettingsView() };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/ha/settings',
    permission: 'config:write',
    tag: 'ha-settings',
    action: 'ha-settings.update',
    objectType: 'ha-settings',
    summary: "Stage the HA pair's settings (the engine's `ha` block; applied with the next apply)",
    body: HaSchema,
    async handler(ctx) {
      await mutate(
        (tx) => writeHa(tx, ctx.body),
        (r) => ctx.audit({ action: 'ha-settings.update', objectType: 'ha-settings', objectId: '1', before: r.before, after: r.after, outcome: 'success' }),
      );
      return { body: await haSettingsView() };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/ha/settings',
    permission: 'config:write',
    tag: 'ha-settings',
    action: 'ha-settings.delete',
    objectType: 'ha-settings',
    summary: 'Stage a single node: no `ha` block (keepalived stops at the next apply)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const was = await stagedHa(tx);
          if (!was) throw new ApiError('API_NOT_FOUND', { what: 'HA settings' });
          await tx.haSettings.delete({ where: { id: 1 } });
          return was.ha;
        },
        (before) => ctx.audit({ action: 'ha-settings.delete', objectType: 'ha-settings', objectId: '1', before, after: null, outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
];
