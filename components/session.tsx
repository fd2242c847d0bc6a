'use client';
import { createContext, useContext } from 'react';
import { can, rolesWith, type Permission, type Role } from '@/lib/auth/roles.ts';

export interface SessionUser {
  name: string;
  role: Role;
  /** An admin reset the password: the shell sends the user to their account page until they choose their own. */
  mustChangePassword?: boolean;
}

export const SessionContext = createContext<SessionUser>({ name: '', role: 'viewer' });
export const useSession = () => useContext(SessionContext);

/** For showing or hiding controls; the API enforces the same table on every route. */
export function useCan(permission: Permission): boolean {
  return can(useSession().role, permission);
}

/**
 * Why this user may not do something, in words to put beside a disabled control ("Needs an admin or operator; you
 * are a viewer."), or null when they may. From the same table the API enforces.
 */
export function useWhyNot(permission: Permission): string | null {
  const { role } = useSession();
  return can(role, permission) ? null : whyNot(role, permission);
}

export function whyNot(role: Role, permission: Permission): string {
  const roles = rolesWith(permission);
  const list = roles.length > 1 ? `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}` : roles[0];
  return `Needs ${/^[aeio]/.test(list) ? 'an' : 'a'} ${list}; you are ${/^[aeio]/.test(role) ? 'an' : 'a'} ${role}.`;
}
