/**
 * Every route × every role (and no one): 401 without credentials, 403 for a role without the permission, and
 * neither for a role with it (2xx for reads that need no object). The route table is the source, so a new route
 * is walked without anyone remembering to add it here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { ROUTES } from './router.ts';
import { PERMISSIONS, ROLES, type Role } from '../auth/roles.ts';

let h: Harness;
const clients = new Map<Role | 'anonymous', Client>();

before(async () => {
  h = await startHarness({ withEngine: false });
  const admin = await setupAdmin(h);
  for (const role of ROLES) {
    // API keys per role: no CSRF, and a logout route cannot end the key's access half-way through the walk.
    const k = await admin.req('POST', '/api-keys', { name: `matrix-${role}`, role });
    assert.equal(k.status, 201, k.text);
    const c = new Client(h.baseUrl);
    c.bearer = k.body.key;
    clients.set(role, c);
  }
  clients.set('anonymous', new Client(h.baseUrl));
});
after(async () => {
  await h.close();
});

const concretePath = (p: string) => p.replace(/:(\w+)/g, (_, name: string) => (name === 'id' && p.startsWith('/config-versions') ? '999' : `no-such-${name}`));

for (const route of ROUTES) {
  for (const who of ['anonymous', ...ROLES] as const) {
    test(`${route.method} ${route.path} as ${who}`, async () => {
      const c = clients.get(who)!;
      const r = await c.req(route.method, concretePath(route.path), route.method === 'GET' ? undefined : {});
      if (route.permission === 'public') {
        assert.ok(r.status !== 401 && r.status !== 403, `public route answered ${r.status}`);
        return;
      }
      if (who === 'anonymous') {
        assert.equal(r.status, 401, r.text);
        assert.equal(r.body.error.code, 'AUTH_REQUIRED');
        return;
      }
      const allowed = route.permission === 'authenticated' || (PERMISSIONS[route.permission] as readonly string[]).includes(who);
      if (!allowed) {
        assert.equal(r.status, 403, `${who} should be refused: ${r.text}`);
        assert.equal(r.body.error.code, 'AUTH_FORBIDDEN');
        return;
      }
      assert.ok(r.status !== 401 && r.status !== 403, `${who} should be let through, got ${r.status} ${r.text}`);
      assert.ok(r.status < 500 || r.body?.error?.code?.startsWith('ENGINE_'), `no 500 for a user's request: ${r.status} ${r.text}`);
      if (route.method === 'GET' && !route.path.includes(':')) assert.equal(r.status, 200, r.text);
    });
  }
}

test('every refusal by role is in the audit trail with the role that tried', async () => {
  const admin = clients.get('admin')!;
  const denied = (await admin.req('GET', '/audit?outcome=denied&limit=500')).body.items as { actorRole: string | null; action: string }[];
  const byRole = new Set(denied.map((d) => d.actorRole));
  for (const role of ['operator', 'auditor', 'viewer']) assert.ok(byRole.has(role), `a denial by ${role} is recorded`);
});
