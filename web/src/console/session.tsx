// The signed-in user and what their role may do (the API enforces it; the console only hides
// what would be refused).
import { createContext, useContext } from 'react';

type Session = { user: { userId: string; email: string; name: string; role: Role }; tenantId: string; csrfToken: string };
export type Role = 'owner' | 'marketer' | 'support' | 'finance' | 'viewer';
export type Program = { programId: string; name: string };

export const SessionContext = createContext<{ session: Session; program: Program | null } | null>(null);

export function useSession() {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the console');
  return s;
}

export type Area = 'members' | 'program' | 'users' | 'audit' | 'keys' | 'webhooks' | 'jobs' | 'books';

const WRITES: Record<Role, Area[]> = {
  owner: ['members', 'program', 'users', 'keys', 'webhooks', 'jobs', 'books'],
  marketer: ['program'],
  support: ['members'],
  finance: ['books'],
  viewer: [],
};
const READS: Record<Role, Area[]> = {
  owner: ['members', 'program', 'users', 'audit', 'keys', 'webhooks', 'jobs', 'books'],
  marketer: ['members', 'program'],
  support: ['members', 'program'],
  finance: ['members', 'program', 'audit', 'books'],
  viewer: ['members', 'program', 'books'],
};

export const canWrite = (role: Role, area: Area) => WRITES[role].includes(area);
export const canRead = (role: Role, area: Area) => READS[role].includes(area);
