// Member queries of the scheduled jobs: welcomes still due.
import { sql } from 'kysely';
import type { Db } from './schema.js';

export interface DueMember {
  tenantId: string;
  programId: string;
  memberId: string;
}

/** Where a keyset walk over (tenant, member) stands: the last row done. */
export type After = { tenantId: string; memberId: string } | null;

/** Members whose welcome is due by `now`, after `after` in (tenant, member) order. */
export async function dueWelcomes(db: Db, now: Date, limit: number, after: After): Promise<DueMember[]> {
  let q = db.selectFrom('members').select(['tenant_id', 'program_id', 'member_id'])
    .where('welcome_due_at', 'is not', null).where('welcome_due_at', '<=', now);
  if (after) q = q.where(sql<boolean>`(tenant_id, member_id) > (${after.tenantId}::uuid, ${after.memberId}::uuid)`);
  const rows = await q.orderBy('tenant_id').orderBy('member_id').limit(limit).execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, programId: r.program_id, memberId: r.member_id }));
}

/** The member's welcome is done (recorded, or not to be sent): nothing more is due. */
export async function markWelcomed(db: Db, tenantId: string, memberId: string): Promise<void> {
  await db.updateTable('members').set({ welcome_due_at: null })
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).where('welcome_due_at', 'is not', null).execute();
}

export async function postponeWelcome(db: Db, tenantId: string, memberId: string, until: Date): Promise<void> {
  await db.updateTable('members').set({ welcome_due_at: until })
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).where('welcome_due_at', 'is not', null).execute();
}
