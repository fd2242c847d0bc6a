/**
 * Every route × every role (and no one): 401 without credentials, 403 for a role the policy does not let do the
 * route's activity, and neither for a role it does (2xx for reads that need no object). Expectations come from the
 * policy written for this test (roles.policy.ts, in words), never from the table the code enforces
 * (lib/auth/roles.ts), so a grant the policy does not make fails here. The route table is walked, so a new route
 * nobody placed in the policy fails too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { ROUTES } from './router.ts';
import { ROLES, type Role } from '../auth/roles.ts';
import { ACTIVITIES, POLICY, ROUTE_ACTIVITY, type Activity } from './roles.policy.ts';

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

test('the policy names every activity once for each role', () => {
  for (const role of ROLES) {
    const named = [...POLICY[role].may, ...POLICY[role].mayNot].sort();
    assert.deepEqual(named, Object.keys(ACTIVITIES).sort(), `${role}: may + may not = every activity, each once`);
  }
});

test('every route is placed in the policy', () => {
  const unplaced = ROUTES.map((r) => `${r.method} ${r.path}`).filter((k) => !(k in ROUTE_ACTIVITY));
  assert.deepEqual(unplaced, [], 'say in lib/api/roles.policy.ts which activity these routes are');
});

const mayDo = (who: Role | 'anonymous', activity: Activity) =>
  who === 'anonymous' ? activity === 'use without logging in' : POLICY[who].may.includes(activity);

for (const route of ROUTES) {
  const activity = ROUTE_ACTIVITY[`${route.method} ${route.path}`];
  if (!activity) continue; // failed above, by name
  for (const who of ['anonymous', ...ROLES] as const) {
    test(`${route.method} ${route.path} (${activity}) as ${who}`, async () => {
      const c = clients.get(who)!;
      const r = await c.req(route.method, concretePath(route.path), route.method === 'GET' ? undefined : {});
      if (who === 'anonymous' && !mayDo(who, activity)) {
        assert.equal(r.status, 401, `no one logged in should be asked to: ${r.text}`);
        assert.equal(r.body.error.code, 'AUTH_REQUIRED');
        return;
      }
      const allowed = mayDo(who, activity);
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
