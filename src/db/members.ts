// Member queries of the scheduled jobs: welcomes still due, and whose birthday it is.
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

export interface DueBirthday extends DueMember {
  /** the year of the birthday, in the tenant's zone: one birthday event per member and year */
  year: number;
}

/** The external id of a member's birthday event of a year: the job's idempotency key. */
export const birthdayEventId = (memberId: string, year: number): string => `birthday:${memberId}:${year}`;

/**
 * Active members whose birthday it is on `now`'s date in their tenant's zone, in programs with an
 * enabled `birthday` rule, who have no birthday event of this year yet; after `after` in (tenant,
 * member) order. Those born on 29 February have theirs on 28 February in common years.
 */
export async function dueBirthdays(db: Db, now: Date, limit: number, after: After): Promise<DueBirthday[]> {
  const { rows } = await sql<{ tenant_id: string; program_id: string; member_id: string; year: number }>`
    with today as (
      select tenant_id, (${now}::timestamptz at time zone time_zone)::date as day from tenants
    ), days as (
      select tenant_id, day, extract(month from day)::int * 100 + extract(day from day)::int as month_day from today
      union all
      -- the last day of a 28-day February is the birthday of those born on the 29th
      select tenant_id, day, 229 from today
      where extract(month from day) = 2 and extract(day from day) = 28 and day = make_date(extract(year from day)::int, 3, 1) - 1
    )
    select m.tenant_id, m.program_id, m.member_id, extract(year from d.day)::int as year
    from days d
    join members m on m.tenant_id = d.tenant_id
      and (extract(month from m.birthday)::int * 100 + extract(day from m.birthday)::int) = d.month_day
      and m.birthday is not null and m.status = 'active'
    where exists (
        select 1 from rules r
        where r.tenant_id = m.tenant_id and r.program_id = m.program_id and r.trigger = 'birthday' and r.enabled
      )
      and not exists (
        select 1 from events e
        where e.tenant_id = m.tenant_id and e.program_id = m.program_id
          and e.external_id = 'birthday:' || m.member_id || ':' || extract(year from d.day)::int
      )
      and (${after === null}::boolean or (m.tenant_id, m.member_id) > (${after?.tenantId ?? null}::uuid, ${after?.memberId ?? null}::uuid))
    order by m.tenant_id, m.member_id
    limit ${limit}`.execute(db);
  return rows.map((r) => ({ tenantId: r.tenant_id, programId: r.program_id, memberId: r.member_id, year: Number(r.year) }));
}
