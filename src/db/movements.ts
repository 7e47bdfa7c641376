// Tenant-wide lists of recent tier and grade changes (the console's "movements"), newest first,
// a keyset page at a time on (at, history_id): the indexes of migration 0020.
import { sql } from 'kysely';
import type { Db } from './schema.js';

export interface TierMovementFilter {
  programId: string;
  change?: string | undefined;
  /** the tier moved from or to */
  tier?: string | undefined;
  memberId?: string | undefined;
  before: string | null;
  limit: number;
}

export async function tierMovementRows(db: Db, tenantId: string, f: TierMovementFilter) {
  let q = db.selectFrom('tier_history as h')
    .innerJoin('members as m', (j) => j.onRef('m.tenant_id', '=', 'h.tenant_id').onRef('m.member_id', '=', 'h.member_id'))
    .select(['h.history_id', 'h.member_id', 'h.at', 'h.from_tier', 'h.to_tier', 'h.change', 'h.reason', 'h.event_id', 'm.external_id', 'm.card_code'])
    .where('h.tenant_id', '=', tenantId).where('m.program_id', '=', f.programId);
  if (f.change) q = q.where('h.change', '=', f.change as 'up');
  if (f.tier) q = q.where((eb) => eb.or([eb('h.to_tier', '=', f.tier!), eb('h.from_tier', '=', f.tier!)]));
  if (f.memberId) q = q.where('h.member_id', '=', f.memberId);
  if (f.before) q = q.where(sql<boolean>`(h.at, h.history_id) < (select at, history_id from tier_history where tenant_id = ${tenantId} and history_id = ${f.before})`);
  return q.orderBy('h.at', 'desc').orderBy('h.history_id', 'desc').limit(f.limit).execute();
}

export interface GradeMovementFilter {
  programId: string;
  /** the grade moved from or to */
  grade?: string | undefined;
  memberId?: string | undefined;
  before: string | null;
  limit: number;
}

export async function gradeMovementRows(db: Db, tenantId: string, f: GradeMovementFilter) {
  let q = db.selectFrom('grade_history as h')
    .innerJoin('members as m', (j) => j.onRef('m.tenant_id', '=', 'h.tenant_id').onRef('m.member_id', '=', 'h.member_id'))
    .select(['h.history_id', 'h.member_id', 'h.at', 'h.from_grade', 'h.to_grade', 'h.reason', 'm.external_id', 'm.card_code'])
    .where('h.tenant_id', '=', tenantId).where('m.program_id', '=', f.programId);
  if (f.grade) q = q.where((eb) => eb.or([eb('h.to_grade', '=', f.grade!), eb('h.from_grade', '=', f.grade!)]));
  if (f.memberId) q = q.where('h.member_id', '=', f.memberId);
  if (f.before) q = q.where(sql<boolean>`(h.at, h.history_id) < (select at, history_id from grade_history where tenant_id = ${tenantId} and history_id = ${f.before})`);
  return q.orderBy('h.at', 'desc').orderBy('h.history_id', 'desc').limit(f.limit).execute();
}
