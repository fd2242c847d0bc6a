'use client';
/** Why this user may not do an HA action, in words for beside the disabled control; null when they may. */
import { can, PERMISSIONS, type Permission } from '@/lib/auth/roles.ts';
import { useSession } from '../session';

const article = (w: string) => (/^[aeio]/.test(w) ? 'an' : 'a');

export function useHaWhyNot(permission: Permission): string | null {
  const { role } = useSession();
  if (can(role, permission)) return null;
  const roles = PERMISSIONS[permission] as readonly string[];
  const list = roles.length > 1 ? `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}` : roles[0];
  return `Needs ${article(list)} ${list}; you are ${article(role)} ${role}.`;
}
