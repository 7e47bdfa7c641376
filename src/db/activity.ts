// Member activity (migration 0008): what tiers and grades measure, one row per event that moved a
// member's qualifying points, spend or visits. Sums over a window are one index range scan.
import { sql } from 'kysely';
import type { Db } from './schema.js';

export interface Activity {
  eventId: string;
  programId: string;
  memberId: string;
  occurredAt: Date;
  qualifyingPoints: bigint;
  spend: bigint;
  visits: number;
}

export interface ActivityTotals {
  qualifyingPoints: bigint;
  spend: bigint;
  visits: bigint;
}

/** The event's activity as a `member_activity` row; none when it moved nothing a tier or grade measures. */
export const activityRows = (tenantId: string, a: Activity) => (a.qualifyingPoints === 0n && a.spend === 0n && a.visits === 0 ? [] : [{
  tenant_id: tenantId, event_id: a.eventId, program_id: a.programId, member_id: a.memberId, occurred_at: a.occurredAt,
  qualifying_points: a.qualifyingPoints, spend: a.spend, visits: a.visits,
}]);

/** A member's activity in [start, end); null bounds are open. */
export async function activityTotals(db: Db, tenantId: string, memberId: string, period: { start: Date | null; end: Date | null }): Promise<ActivityTotals> {
  const row = await db.selectFrom('member_activity')
    .select([
      sql<string>`coalesce(sum(qualifying_points), 0)`.as('points'),
      sql<string>`coalesce(sum(spend), 0)`.as('spend'),
      sql<string>`coalesce(sum(visits), 0)`.as('visits'),
    ])
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId)
    .$if(period.start !== null, (q) => q.where('occurred_at', '>=', period.start!))
    .$if(period.end !== null, (q) => q.where('occurred_at', '<', period.end!))
    .executeTakeFirstOrThrow();
  return { qualifyingPoints: BigInt(row.points), spend: BigInt(row.spend), visits: BigInt(row.visits) };
}
