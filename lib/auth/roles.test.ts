/** An API key's effective role: the largest role within both the key's role and its owner's current role. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { can, effectiveRole, isRoleWithin, PERMISSIONS, ROLES, type Permission, type Role } from './roles.ts';

test('the table in roles.ts', () => {
  const table: Record<Role, Record<Role, Role>> = {
    admin: { admin: 'admin', operator: 'operator', auditor: 'auditor', viewer: 'viewer' },
    operator: { admin: 'operator', operator: 'operator', auditor: 'viewer', viewer: 'viewer' },
    auditor: { admin: 'auditor', operator: 'viewer', auditor: 'auditor', viewer: 'viewer' },
    viewer: { admin: 'viewer', operator: 'viewer', auditor: 'viewer', viewer: 'viewer' },
  };
  for (const key of ROLES) for (const owner of ROLES) assert.equal(effectiveRole(key, owner), table[key][owner], `key ${key}, owner ${owner}`);
});

test('never a permission the owner lacks, nor one the key lacks', () => {
  for (const key of ROLES) {
    for (const owner of ROLES) {
      const r = effectiveRole(key, owner);
      assert.ok(isRoleWithin(r, key) && isRoleWithin(r, owner));
      for (const p of Object.keys(PERMISSIONS) as Permission[]) if (can(r, p)) assert.ok(can(key, p) && can(owner, p));
    }
  }
});
