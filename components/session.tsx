'use client';
import { createContext, useContext } from 'react';
import { can, type Permission, type Role } from '@/lib/auth/roles.ts';

export interface SessionUser {
  name: string;
  role: Role;
}

export const SessionContext = createContext<SessionUser>({ name: '', role: 'viewer' });
export const useSession = () => useContext(SessionContext);

/** For showing or hiding controls; the API enforces the same table on every route. */
export function useCan(permission: Permission): boolean {
  return can(useSession().role, permission);
}
