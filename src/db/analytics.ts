// Program analytics (SPEC §11): set-based aggregates over a program's members, events, activity,
// journal and reward instances for a period [from, to), bucketed in the tenant's time zone. Every
// figure is one statement reading one index range (migration 0061); nothing loops over members.
import { notHouseholdAccount } from './households.js';
import { sql, type RawBuilder } from 'kysely';
import { HOLDOUT_BUCKETS } from '../core/analytics/holdout.js';
import type { GroupSums } from '../core/analytics/roi.js';
import type { Db } from './schema.js';

export type Bucket = 'day' | 'week' | 'month';

export interface Scope {
  tenantId: string;
  programId: string;
  timeZone: string;
  from: Date;
  to: Date;
  /** the holdout's share, basis points: members whose bucket is below it are the control group */
  controlShareBp: number;
  /** the holdout's salt: the program's setting, or its id */
  holdoutSalt: string;
}

/** Laurel's events that are not a customer's doing: they do not make a member active. */
const SYSTEM_EVENTS = ['signup', 'birthday'];

/**
 * The holdout bucket of the member row aliased `m`, as core/analytics/holdout.ts computes it:
 * the first 32 bits of md5(salt:externalId-or-memberId), unsigned, modulo 10 000.
 */
export const holdoutBucketSql = (salt: string, alias = 'm'): RawBuilder<number> => sql<number>`(('x' || substr(md5(${salt}::text || ':' || coalesce(${sql.ref(`${alias}.external_id`)}, ${sql.ref(`${alias}.member_id`)}::text)), 1, 8))::bit(32)::bigint % ${sql.lit(HOLDOUT_BUCKETS)})`;

const inControl = (s: Scope, alias = 'm'): RawBuilder<boolean> => sql<boolean>`(${holdoutBucketSql(s.holdoutSalt, alias)} < ${sql.lit(s.controlShareBp)})`;

const big = (v: string | number | bigint | null | undefined): bigint => BigInt(v ?? 0);

export interface MemberCounts {
  /** members not erased, enrolled before the period's end */
  members: bigint;
  /** of them, enrolled in the period */
  newMembers: bigint;
  /** of them, in the control group */
  control: bigint;
}

export async function memberCounts(db: Db, s: Scope): Promise<MemberCounts> {
  const r = await sql<{ members: string; new_members: string; control: string }>`
    select count(*) as members,
           count(*) filter (where m.enrolled_at >= ${s.from}) as new_members,
           count(*) filter (where ${inControl(s)}) as control
    from members m
    where m.tenant_id = ${s.tenantId} and m.program_id = ${s.programId} and m.status <> 'erased' and m.enrolled_at < ${s.to} and ${notHouseholdAccount('m')}`.execute(db);
  const row = r.rows[0]!;
  return { members: big(row.members), newMembers: big(row.new_members), control: big(row.control) };
}

export interface Behaviour {
  /** members with an event of their own in the period */
  active: bigint;
  /** with at least one purchase */
  purchasers: bigint;
  /** with two or more */
  repeatPurchasers: bigint;
  orders: bigint;
  /** money paid on those orders, minor units */
  revenue: bigint;
}

/** What members did in the period, for the program's members and for its control group apart. */
export async function behaviour(db: Db, s: Scope): Promise<{ members: Behaviour; control: Behaviour }> {
  const r = await sql<{ control: boolean; active: string; purchasers: string; repeaters: string; orders: string; revenue: string }>`
    with per as (
      select e.member_id,
             count(*) filter (where e.type = 'purchase') as orders,
             coalesce(sum(e.total) filter (where e.type = 'purchase'), 0) as revenue
      from events e
      where e.tenant_id = ${s.tenantId} and e.program_id = ${s.programId}
        and e.occurred_at >= ${s.from} and e.occurred_at < ${s.to}
        and e.type not in (${sql.join(SYSTEM_EVENTS)})
      group by e.member_id
    )
    select ${inControl(s)} as control, count(*) as active,
           count(*) filter (where per.orders > 0) as purchasers,
           count(*) filter (where per.orders > 1) as repeaters,
           coalesce(sum(per.orders), 0) as orders, coalesce(sum(per.revenue), 0) as revenue
    from per join members m on m.tenant_id = ${s.tenantId} and m.member_id = per.member_id
    where m.status <> 'erased'
    group by 1`.execute(db);
  const of = (control: boolean): Behaviour => {
    const row = r.rows.find((x) => x.control === control);
    return {
      active: big(row?.active), purchasers: big(row?.purchasers), repeatPurchasers: big(row?.repeaters),
      orders: big(row?.orders), revenue: big(row?.revenue),
    };
  };
  return { members: of(false), control: of(true) };
}

export interface PointsBucket {
  /** first day of the bucket in the tenant's zone, YYYY-MM-DD */
  start: string;
  /** earned, less what reversals (returns) took back */
  issued: bigint;
  /** redeemed, less what reversals (cancellations, returns) gave back */
  redeemed: bigint;
  expired: bigint;
}

/**
 * The points wallet's movements per bucket. A reversal counts in its own bucket against the kind
 * of entry it reverses, so a return lowers the issued points of the day it happened. A bucket
 * with only adjustments is there, at zero: something moved that day.
 */
export async function pointsSeries(db: Db, s: Scope, bucket: Bucket): Promise<PointsBucket[]> {
  const r = await sql<{ start: string; earned: string; earn_back: string; redeemed: string; redeem_back: string; expired: string }>`
    select to_char(date_trunc(${bucket}, j.created_at at time zone ${s.timeZone}), 'YYYY-MM-DD') as start,
           coalesce(sum(j.amount) filter (where j.kind = 'earn'), 0) as earned,
           coalesce(sum(j.amount) filter (where j.kind = 'reverse' and o.kind = 'earn'), 0) as earn_back,
           coalesce(sum(j.amount) filter (where j.kind = 'redeem'), 0) as redeemed,
           coalesce(sum(j.amount) filter (where j.kind = 'reverse' and o.kind = 'redeem'), 0) as redeem_back,
           coalesce(sum(j.amount) filter (where j.kind = 'expire'), 0) as expired
    from journal_entries j
    join wallets w on w.tenant_id = j.tenant_id and w.wallet_id = j.wallet_id and w.code = 'points'
    left join journal_entries o on j.kind = 'reverse' and o.tenant_id = j.tenant_id and o.entry_id = j.reverses_entry_id
    where j.tenant_id = ${s.tenantId} and j.program_id = ${s.programId}
      and j.created_at >= ${s.from} and j.created_at < ${s.to}
      and j.kind in ('earn', 'redeem', 'expire', 'reverse', 'adjust')
    group by 1 order by 1`.execute(db);
  return r.rows.map((x) => ({
    start: x.start, issued: big(x.earned) - big(x.earn_back), redeemed: big(x.redeemed) - big(x.redeem_back), expired: big(x.expired),
  }));
}

export interface RewardUse {
  rewardId: string;
  code: string;
  name: string;
  type: string;
  /** instances issued in the period and not cancelled */
  issued: bigint;
  consumed: bigint;
  cancelled: bigint;
  expired: bigint;
  /** distinct members who got one */
  members: bigint;
  /** points the instances not cancelled cost */
  points: bigint;
  /** instances paid and given (issued or used): what costs the business */
  given: bigint;
  /** points of the given instances */
  givenPoints: bigint;
  /** money value of the given instances, when the reward has one (fixed discount, store credit, donation) */
  givenMoney: bigint;
  /** points of the given instances of rewards without a money value */
  givenPointsWithoutMoney: bigint;
}

/** Rewards by instances issued in the period, most issued first. */
export async function rewardUse(db: Db, s: Scope): Promise<RewardUse[]> {
  const r = await sql<{
    reward_id: string; code: string; name: string; type: string; issued: string; consumed: string; cancelled: string; expired: string;
    members: string; points: string; given: string; given_points: string; given_money: string; given_points_nm: string;
  }>`
    select r.reward_id, r.code, r.definition->>'name' as name, r.definition->'value'->>'type' as type,
           count(*) filter (where i.status <> 'cancelled') as issued,
           count(*) filter (where i.status = 'consumed') as consumed,
           count(*) filter (where i.status = 'cancelled') as cancelled,
           count(*) filter (where i.status = 'expired') as expired,
           count(distinct i.member_id) filter (where i.status <> 'cancelled') as members,
           coalesce(sum(i.cost) filter (where i.status <> 'cancelled'), 0) as points,
           count(*) filter (where i.status in ('issued', 'consumed')) as given,
           coalesce(sum(i.cost) filter (where i.status in ('issued', 'consumed')), 0) as given_points,
           coalesce(sum((i.value->>'amount')::bigint) filter (where i.status in ('issued', 'consumed')
             and i.value->>'type' in ('fixed_discount', 'store_credit', 'donation')), 0) as given_money,
           coalesce(sum(i.cost) filter (where i.status in ('issued', 'consumed')
             and i.value->>'type' not in ('fixed_discount', 'store_credit', 'donation')), 0) as given_points_nm
    from reward_instances i
    join rewards r on r.tenant_id = i.tenant_id and r.reward_id = i.reward_id
    where i.tenant_id = ${s.tenantId} and i.program_id = ${s.programId} and i.issued_at >= ${s.from} and i.issued_at < ${s.to}
    group by r.reward_id, r.code, r.definition
    order by count(*) filter (where i.status <> 'cancelled') desc, r.code`.execute(db);
  return r.rows.map((x) => ({
    rewardId: x.reward_id, code: x.code, name: x.name, type: x.type, issued: big(x.issued), consumed: big(x.consumed), cancelled: big(x.cancelled),
    expired: big(x.expired), members: big(x.members), points: big(x.points), given: big(x.given), givenPoints: big(x.given_points),
    givenMoney: big(x.given_money), givenPointsWithoutMoney: big(x.given_points_nm),
  }));
}

export interface Distribution {
  /** null: members without one */
  code: string | null;
  members: bigint;
}

export interface Movement {
  from: string | null;
  to: string | null;
  /** tiers: up, down, kept, grace, placed, set; grades: changed */
  change: string;
  members: bigint;
  moves: bigint;
}

/** Members per tier and per grade now, and the moves between them in the period. */
export async function tiersAndGrades(db: Db, s: Scope): Promise<{ tiers: Distribution[]; grades: Distribution[]; tierMoves: Movement[]; gradeMoves: Movement[] }> {
  const [dist, tierMoves, gradeMoves] = await Promise.all([
    sql<{ what: 'tier' | 'grade'; code: string | null; members: string }>`
      select 'tier' as what, tier as code, count(*) as members from members
        where tenant_id = ${s.tenantId} and program_id = ${s.programId} and status <> 'erased' and ${notHouseholdAccount('members')} group by tier
      union all
      select 'grade', grade, count(*) from members
        where tenant_id = ${s.tenantId} and program_id = ${s.programId} and status <> 'erased' and ${notHouseholdAccount('members')} group by grade
      order by 1, 2 nulls first`.execute(db),
    sql<{ from_code: string | null; to_code: string; change: string; members: string; moves: string }>`
      select h.from_tier as from_code, h.to_tier as to_code, h.change, count(distinct h.member_id) as members, count(*) as moves
      from tier_history h join members m on m.tenant_id = h.tenant_id and m.member_id = h.member_id
      where h.tenant_id = ${s.tenantId} and m.program_id = ${s.programId} and h.at >= ${s.from} and h.at < ${s.to}
      group by 1, 2, 3 order by 3, 1 nulls first, 2`.execute(db),
    sql<{ from_code: string | null; to_code: string | null; members: string; moves: string }>`
      select h.from_grade as from_code, h.to_grade as to_code, count(distinct h.member_id) as members, count(*) as moves
      from grade_history h join members m on m.tenant_id = h.tenant_id and m.member_id = h.member_id
      where h.tenant_id = ${s.tenantId} and m.program_id = ${s.programId} and h.at >= ${s.from} and h.at < ${s.to}
      group by 1, 2 order by 1 nulls first, 2 nulls first`.execute(db),
  ]);
  const distribution = (what: 'tier' | 'grade') => dist.rows.filter((r) => r.what === what).map((r) => ({ code: r.code, members: big(r.members) }));
  return {
    tiers: distribution('tier'), grades: distribution('grade'),
    tierMoves: tierMoves.rows.map((r) => ({ from: r.from_code, to: r.to_code, change: r.change, members: big(r.members), moves: big(r.moves) })),
    gradeMoves: gradeMoves.rows.map((r) => ({ from: r.from_code, to: r.to_code, change: 'changed', members: big(r.members), moves: big(r.moves) })),
  };
}

export interface CohortCell {
  /** months after the enrolment month (0: that month) */
  offset: number;
  /** cohort members who made a purchase in that month */
  active: bigint;
}

export interface Cohort {
  /** enrolment month in the tenant's zone, YYYY-MM */
  month: string;
  members: bigint;
  cells: CohortCell[];
}

/**
 * Members enrolled in the period by enrolment month, and how many of each made a purchase in each
 * month after, until the period's end (months without one are absent).
 */
export async function cohorts(db: Db, s: Scope): Promise<Cohort[]> {
  const r = await sql<{ cohort: string; offset: number | null; members: string; active: string }>`
    with m as (
      select m.member_id, date_trunc('month', m.enrolled_at at time zone ${s.timeZone}) as cohort
      from members m
      where m.tenant_id = ${s.tenantId} and m.program_id = ${s.programId} and m.status <> 'erased' and ${notHouseholdAccount('m')}
        and m.enrolled_at >= ${s.from} and m.enrolled_at < ${s.to}
    ),
    act as (
      select distinct m.cohort, m.member_id, date_trunc('month', a.occurred_at at time zone ${s.timeZone}) as month
      from m join member_activity a on a.tenant_id = ${s.tenantId} and a.member_id = m.member_id
      where a.visits > 0 and a.occurred_at >= ${s.from} and a.occurred_at < ${s.to}
    )
    select to_char(cohort, 'YYYY-MM') as cohort, null::int as "offset", count(*) as members, 0 as active from m group by cohort
    union all
    select to_char(cohort, 'YYYY-MM'),
           ((extract(year from month) - extract(year from cohort)) * 12 + extract(month from month) - extract(month from cohort))::int,
           0, count(*)
    from act where month >= cohort group by cohort, month
    order by 1, 2 nulls first`.execute(db);
  const out: Cohort[] = [];
  for (const row of r.rows) {
    if (row.offset === null) out.push({ month: row.cohort, members: big(row.members), cells: [] });
    else out.find((c) => c.month === row.cohort)!.cells.push({ offset: Number(row.offset), active: big(row.active) });
  }
  return out;
}

/** Per-customer net spend in the period (purchases less refunds), summed per group: the holdout comparison's input. */
export async function spendByGroup(db: Db, s: Scope): Promise<{ members: GroupSums; control: GroupSums }> {
  const r = await sql<{ control: boolean; n: string; sum: string; squares: string }>`
    with spend as (
      select a.member_id, sum(a.spend) as spend
      from member_activity a
      where a.tenant_id = ${s.tenantId} and a.program_id = ${s.programId} and a.occurred_at >= ${s.from} and a.occurred_at < ${s.to}
      group by a.member_id
    )
    select ${inControl(s)} as control, count(*) as n,
           coalesce(sum(coalesce(spend.spend, 0)), 0) as sum,
           coalesce(sum(coalesce(spend.spend, 0)::numeric * coalesce(spend.spend, 0)), 0) as squares
    from members m left join spend on spend.member_id = m.member_id
    where m.tenant_id = ${s.tenantId} and m.program_id = ${s.programId} and m.status <> 'erased' and m.enrolled_at < ${s.to} and ${notHouseholdAccount('m')}
    group by 1`.execute(db);
  const of = (control: boolean): GroupSums => {
    const row = r.rows.find((x) => x.control === control);
    return { n: big(row?.n), sum: big(row?.sum), sumSquares: big(row?.squares) };
  };
  return { members: of(false), control: of(true) };
}

export interface AnalyticsSettingsRow {
  controlShareBp: number;
  grossMarginBp: number;
  /** null: the program's id */
  holdoutSalt: string | null;
  updatedAt: Date | null;
}

export const DEFAULT_SETTINGS: AnalyticsSettingsRow = { controlShareBp: 0, grossMarginBp: 10_000, holdoutSalt: null, updatedAt: null };

export async function loadAnalyticsSettings(db: Db, tenantId: string, programId: string): Promise<AnalyticsSettingsRow> {
  const row = await db.selectFrom('program_analytics').select(['control_share_bp', 'gross_margin_bp', 'holdout_salt', 'updated_at'])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
  return row
    ? { controlShareBp: row.control_share_bp, grossMarginBp: row.gross_margin_bp, holdoutSalt: row.holdout_salt, updatedAt: row.updated_at }
    : DEFAULT_SETTINGS;
}

export async function saveAnalyticsSettings(db: Db, tenantId: string, programId: string,
  s: { controlShareBp: number; grossMarginBp: number; holdoutSalt: string | null }, actor: string, now: Date): Promise<void> {
  const values = { control_share_bp: s.controlShareBp, gross_margin_bp: s.grossMarginBp, holdout_salt: s.holdoutSalt, actor, updated_at: now };
  await db.insertInto('program_analytics').values({ tenant_id: tenantId, program_id: programId, ...values })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet(values)).execute();
}

/** The holdout of a program, read on the event path (one primary-key lookup). */
export async function holdoutOf(db: Db, tenantId: string, programId: string): Promise<{ shareBp: number; salt: string }> {
  const row = await db.selectFrom('program_analytics').select(['control_share_bp', 'holdout_salt'])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
  return { shareBp: row?.control_share_bp ?? 0, salt: row?.holdout_salt ?? programId };
}
