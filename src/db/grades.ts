// Customer grade queries: a program's grading scheme, the RFM grading of a whole program as one
// set-based statement, the stats an expression scheme reads (a chunk of members at a time), the
// write-back of changed grades with their history, and the history and report reads.
//
// Locks: whoever grades a program first locks its grading_schemes row (lockScheme), so two workers
// grading it take turns and the second finds the first's grades already written. The member rows
// whose grade changes are then locked in member_id order, as the tier review locks its chunks, and
// their grade compared again under the lock; no wallet is locked, so an event (its wallet, then
// its member) waits for the grading to commit at worst, and never deadlocks with it.
import { sql } from 'kysely';
import { scoreHundredths, type GradingScheme, type RfmScheme } from '../core/grades/grading.js';
import type { GradeStats } from '../core/grades/expression.js';
import { DEFAULT_WALLET } from '../core/program.js';
import { windowAt } from '../core/tiers/windows.js';
import type { Trx } from './ledger.js';
import type { Db } from './schema.js';

export interface SchemeRow {
  scheme: GradingScheme;
  actor: string;
  updatedAt: Date;
}

export interface GradingCounts {
  /** members graded (active members of the program) */
  members: number;
  /** members whose grade changed, each with one grade_history row */
  changed: number;
}

export async function loadScheme(db: Db, tenantId: string, programId: string): Promise<SchemeRow | null> {
  const row = await db.selectFrom('grading_schemes').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
  return row ? { scheme: row.definition as GradingScheme, actor: row.actor, updatedAt: row.updated_at } : null;
}

/** The scheme with its tenant's time zone, its row locked until the transaction ends: one grader per program at a time. */
export async function lockScheme(trx: Trx, tenantId: string, programId: string): Promise<{ scheme: GradingScheme; timeZone: string } | null> {
  const row = await trx.selectFrom('grading_schemes as g').innerJoin('tenants as t', 't.tenant_id', 'g.tenant_id')
    .select(['g.definition', 't.time_zone'])
    .where('g.tenant_id', '=', tenantId).where('g.program_id', '=', programId)
    .forUpdate('g').executeTakeFirst();
  return row ? { scheme: row.definition as GradingScheme, timeZone: row.time_zone } : null;
}

export async function saveScheme(trx: Trx, tenantId: string, programId: string, scheme: GradingScheme, actor: string, now: Date): Promise<void> {
  const definition = JSON.stringify(scheme);
  await trx.insertInto('grading_schemes')
    .values({ tenant_id: tenantId, program_id: programId, definition, actor, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet({ definition, actor, updated_at: now }))
    .execute();
}

export async function deleteSchemeRow(trx: Trx, tenantId: string, programId: string): Promise<void> {
  await trx.deleteFrom('grading_schemes').where('tenant_id', '=', tenantId).where('program_id', '=', programId).execute();
}

/** Every program with a grading scheme, in key order. */
export async function programsWithScheme(db: Db): Promise<{ tenantId: string; programId: string }[]> {
  const rows = await db.selectFrom('grading_schemes').select(['tenant_id', 'program_id']).orderBy('tenant_id').orderBy('program_id').execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, programId: r.program_id }));
}

/** `at` as a date in the zone, in SQL: calendar days are counted between local dates. */
const localDate = (at: unknown, timeZone: string) => sql`(${at} at time zone ${timeZone}::text)::date`;

/**
 * Grades every active member of the program by RFM as of `asOf`, in one statement, exactly as
 * core/grades/rfm.ts does (its header states the rules; a property test holds the two equal):
 * figures over [the window's start, asOf), where the window is windowAt's rolling_months, the
 * tiers' definition; purchases = sum(visits), so a fully refunded purchase no longer counts, and a
 * sum ≤ 0 is no purchase; spend = sum(spend), net of refunds; days since the last purchase =
 * local date of asOf − local date of the last row with visits > 0. rank() − 1 is the number of
 * members strictly worse, the rank of the first of a run of ties; integer division truncates as
 * the core's floor does, every operand being ≥ 0. Only grades that change are written, each with
 * a grade_history row: running it twice writes nothing the second time.
 */
export async function gradeProgramByRfm(trx: Trx, tenantId: string, programId: string, scheme: RfmScheme, asOf: Date, timeZone: string): Promise<GradingCounts> {
  const start = windowAt({ kind: 'rolling_months', months: scheme.windowMonths }, asOf, timeZone).start!;
  const { recency: wR, frequency: wF, monetary: wM } = scheme.weights;
  const q = scheme.quantiles;
  const at = sql`${asOf}::timestamptz`;
  const score = (rank: string) => sql`coalesce(r.${sql.raw(rank)} * ${q}::int / r.n + 1, 1)`;
  const grade = sql.join(scheme.grades.map((g) => sql`when score >= ${scoreHundredths(g.minScore, 'minScore')}::int then ${g.code}::text`), sql` `);
  const { rows } = await sql<{ members: number; changed: number }>`
    with population as (
      select m.member_id, coalesce(sum(a.visits), 0) as purchases, coalesce(sum(a.spend), 0) as spend,
             max(a.occurred_at) filter (where a.visits > 0) as last_purchase_at
      from members m
      left join member_activity a on a.tenant_id = m.tenant_id and a.member_id = m.member_id
        and a.occurred_at >= ${start} and a.occurred_at < ${at}
      where m.tenant_id = ${tenantId} and m.program_id = ${programId} and m.status = 'active'
      group by m.member_id
    ), buyers as (
      select member_id, purchases, spend, ${localDate(at, timeZone)} - ${localDate(sql`last_purchase_at`, timeZone)} as days
      from population where purchases > 0
    ), ranked as (
      select member_id, count(*) over () as n,
             rank() over (order by days desc) - 1 as r_rank,
             rank() over (order by purchases) - 1 as f_rank,
             rank() over (order by spend) - 1 as m_rank
      from buyers
    ), scored as (
      select p.member_id, ${score('r_rank')} as r, ${score('f_rank')} as f, ${score('m_rank')} as m
      from population p left join ranked r on r.member_id = p.member_id
    ), weighted as (
      select member_id, r, f, m, 100 * (${wR}::int * r + ${wF}::int * f + ${wM}::int * m) / ${wR + wF + wM}::int as score from scored
    ), decided as (
      select member_id, r, f, m, score, case ${grade} end as grade from weighted
    ), locked as (
      select m.member_id, m.grade as from_grade, d.grade as to_grade,
             'rfm: R' || d.r || ' F' || d.f || ' M' || d.m || ' score ' || (d.score / 100) || '.' || lpad((d.score % 100)::text, 2, '0') as reason
      from members m join decided d on d.member_id = m.member_id
      where m.tenant_id = ${tenantId} and m.grade is distinct from d.grade
      order by m.member_id
      for no key update of m
    ), ${changes(tenantId, asOf)}
    select (select count(*) from population)::int as members, (select count(*) from changed)::int as changed`.execute(trx);
  return rows[0]!;
}

/** The tail of a grading statement: `locked` (member_id, from_grade, to_grade, reason) becomes grades and history. */
function changes(tenantId: string, now: Date) {
  return sql`changed as (
      update members m set grade = l.to_grade, updated_at = ${now}
      from locked l where m.tenant_id = ${tenantId} and m.member_id = l.member_id
      returning m.member_id, l.from_grade, l.to_grade, l.reason
    ), history as (
      insert into grade_history (tenant_id, history_id, member_id, at, from_grade, to_grade, reason)
      select ${tenantId}, laurel_uuid_v7(), member_id, ${now}, from_grade, to_grade, reason from changed
    )`;
}

export interface MemberStats {
  memberId: string;
  grade: string | null;
  stats: GradeStats;
}

interface StatsRow {
  member_id: string;
  grade: string | null;
  enrolled_at: Date;
  purchases: bigint; spend: bigint;
  purchases_year: bigint; spend_year: bigint;
  purchases_12m: bigint; spend_12m: bigint;
  days_since_last_purchase: number | null;
  points: bigint;
}

const DAY_MS = 86_400_000;

/**
 * The GradeStats of the next `limit` active members of the program after `after` (member_id
 * order), in one statement over the member_activity index: each figure is net of returns, as
 * RFM's; "this year" and "the last 12 months" are windowAt's calendar_year and rolling_months
 * (12) in the tenant's zone, up to asOf; days since enrolment are whole days of 24 hours, as a
 * rule condition's member.daysSinceEnrolment; points are the available balance of the points wallet.
 */
export async function statsChunk(trx: Trx, tenantId: string, programId: string, after: string | null, limit: number, asOf: Date, timeZone: string): Promise<MemberStats[]> {
  const year = windowAt({ kind: 'calendar_year' }, asOf, timeZone).start!;
  const last12 = windowAt({ kind: 'rolling_months', months: 12 }, asOf, timeZone).start!;
  const at = sql`${asOf}::timestamptz`;
  const { rows } = await sql<StatsRow>`
    select c.member_id, c.grade, c.enrolled_at,
           s.purchases, s.spend, s.purchases_year, s.spend_year, s.purchases_12m, s.spend_12m,
           ${localDate(at, timeZone)} - ${localDate(sql`s.last_purchase_at`, timeZone)} as days_since_last_purchase,
           coalesce(p.available, 0) as points
    from (
      select member_id, grade, enrolled_at from members
      where tenant_id = ${tenantId} and program_id = ${programId} and status = 'active'
        and member_id > ${after ?? '00000000-0000-0000-0000-000000000000'}::uuid
      order by member_id limit ${limit}
    ) c
    cross join lateral (
      select coalesce(sum(a.visits), 0)::bigint as purchases, coalesce(sum(a.spend), 0)::bigint as spend,
             coalesce(sum(a.visits) filter (where a.occurred_at >= ${year}), 0)::bigint as purchases_year,
             coalesce(sum(a.spend) filter (where a.occurred_at >= ${year}), 0)::bigint as spend_year,
             coalesce(sum(a.visits) filter (where a.occurred_at >= ${last12}), 0)::bigint as purchases_12m,
             coalesce(sum(a.spend) filter (where a.occurred_at >= ${last12}), 0)::bigint as spend_12m,
             max(a.occurred_at) filter (where a.visits > 0) as last_purchase_at
      from member_activity a where a.tenant_id = ${tenantId} and a.member_id = c.member_id and a.occurred_at < ${at}
    ) s
    left join lateral (
      select b.available from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
      where b.tenant_id = ${tenantId} and b.member_id = c.member_id and w.code = ${DEFAULT_WALLET}
    ) p on true
    order by c.member_id`.execute(trx);
  return rows.map((r) => ({
    memberId: r.member_id,
    grade: r.grade,
    stats: {
      purchases: BigInt(r.purchases), spend: BigInt(r.spend),
      purchasesThisYear: BigInt(r.purchases_year), spendThisYear: BigInt(r.spend_year),
      purchasesLast12Months: BigInt(r.purchases_12m), spendLast12Months: BigInt(r.spend_12m),
      daysSinceLastPurchase: r.days_since_last_purchase === null ? null : BigInt(r.days_since_last_purchase),
      daysSinceEnrolment: BigInt(Math.max(0, Math.floor((asOf.getTime() - new Date(r.enrolled_at).getTime()) / DAY_MS))),
      points: BigInt(r.points),
    },
  }));
}

export interface GradeChange {
  memberId: string;
  grade: string | null;
  reason: string;
}

/**
 * Writes the grades that changed, with their history, in one statement: the rows are locked in
 * member_id order and compared again under the lock, so a grade already set (by an admin in the
 * meantime) is neither rewritten nor recorded twice. Answers how many changed.
 */
export async function writeGrades(trx: Trx, tenantId: string, wanted: readonly GradeChange[], now: Date): Promise<number> {
  if (wanted.length === 0) return 0;
  const { rows } = await sql<{ n: number }>`
    with wanted as (
      select * from unnest(${wanted.map((w) => w.memberId)}::uuid[], ${wanted.map((w) => w.grade)}::text[], ${wanted.map((w) => w.reason)}::text[])
        as u(member_id, grade, reason)
    ), locked as (
      select m.member_id, m.grade as from_grade, w.grade as to_grade, w.reason
      from members m join wanted w on w.member_id = m.member_id
      where m.tenant_id = ${tenantId} and m.grade is distinct from w.grade
      order by m.member_id
      for no key update of m
    ), ${changes(tenantId, now)}
    select count(*)::int as n from changed`.execute(trx);
  return rows[0]?.n ?? 0;
}

/** A member's grade changes, newest first, from the one after `before` (a history id); limit+1 rows. */
export async function gradeHistoryRows(db: Db, tenantId: string, memberId: string, before: string | null, limit: number) {
  let q = db.selectFrom('grade_history').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', memberId);
  // keyset on the index's order: (at, history_id) of the cursor's row
  if (before) q = q.where(sql<boolean>`(at, history_id) < (select at, history_id from grade_history where tenant_id = ${tenantId} and history_id = ${before})`);
  return q.orderBy('at', 'desc').orderBy('history_id', 'desc').limit(limit + 1).execute();
}

/** How many active members of the program hold each grade (null: none). */
export async function gradeCounts(db: Db, tenantId: string, programId: string): Promise<{ grade: string | null; members: number }[]> {
  const rows = await db.selectFrom('members').select(['grade', sql<number>`count(*)::int`.as('members')])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('status', '=', 'active')
    .groupBy('grade').execute();
  return rows.map((r) => ({ grade: r.grade, members: Number(r.members) }));
}
