'use client';
import { createContext, useContext } from 'react';

export interface SessionUser {
  name: string;
  role: 'admin' | 'operator' | 'auditor' | 'viewer';
}

export const SessionContext = createContext<SessionUser>({ name: '', role: 'viewer' });
export const useSession = () => useContext(SessionContext);

/** Mirrors lib/auth/roles.ts for showing or hiding controls; the API enforces the real rule on every route. */
const CAN: Record<string, SessionUser['role'][]> = {
  'config:write': ['admin'],
  'server:state': ['admin', 'operator'],
  'config:apply': ['admin', 'operator'],
  'audit:read': ['admin', 'auditor'],
  'users:read': ['admin', 'auditor'],
  'users:write': ['admin'],
};
export function useCan(permission: keyof typeof CAN): boolean {
  return CAN[permission].includes(useSession().role);
}
