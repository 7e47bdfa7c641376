// Tier queries: the ladder of a program, a member's place on it, the metric in a window, and the
// chunked statements of the review job. Locks follow the ledger's order: a member's points wallet
// first, then the member row; events take them in that order, and so does the review.
import { sql } from 'kysely';
import type { TierMetric } from '../core/tiers/ladder.js';
import { DEFAULT_WALLET } from '../core/program.js';
import type { Trx } from './ledger.js';
import type { Db, TierHistoryTable } from './schema.js';

export interface TierState {
  memberId: string;
  tier: string | null;
  /** null: placed on the ladder and waiting for the review that measures them */
  since: Date | null;
  graceUntil: Date | null;
  reviewAt: Date | null;
  enrolledAt: Date;
}

interface TierRow {
  member_id: string; tier: string | null; tier_since: Date | null; tier_grace_until: Date | null; tier_review_at: Date | null; enrolled_at: Date;
}

const stateOf = (r: TierRow): TierState => ({
  memberId: r.member_id, tier: r.tier, since: r.tier_since, graceUntil: r.tier_grace_until, reviewAt: r.tier_review_at, enrolledAt: r.enrolled_at,
});

const TIER_COLUMNS = ['member_id', 'tier', 'tier_since', 'tier_grace_until', 'tier_review_at', 'enrolled_at'] as const;

export async function loadLadderRow(db: Db, tenantId: string, programId: string) {
  return db.selectFrom('tier_ladders').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
}

export async function saveLadderRow(trx: Trx, tenantId: string, programId: string, definition: string, actor: string, now: Date): Promise<void> {
  await trx.insertInto('tier_ladders')
    .values({ tenant_id: tenantId, program_id: programId, definition, actor, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet({ definition, actor, updated_at: now }))
    .execute();
}

/**
 * Puts the program's members whose tier is not on the ladder (or who were never on one) on its
 * first tier, due for review now: the review job measures them and places them where their metric
 * says. Members already on one of its tiers keep it and their review date.
 */
export async function placeOnLadder(trx: Trx, tenantId: string, programId: string, codes: string[], now: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    with old as (
      select member_id, tier from members
      where tenant_id = ${tenantId} and program_id = ${programId} and status <> 'erased'
        and (tier is null or not (tier = any(${codes}::text[])) or tier_review_at is null)
      for no key update
    ), placed as (
      update members m set tier = ${codes[0]!}, tier_since = null, tier_grace_until = null, tier_review_at = ${now}, updated_at = ${now}
      from old where m.tenant_id = ${tenantId} and m.member_id = old.member_id
      returning m.member_id, old.tier as from_tier
    ), history as (
      insert into tier_history (tenant_id, history_id, member_id, at, from_tier, to_tier, change, reason)
      select ${tenantId}, laurel_uuid_v7(), member_id, ${now}, from_tier, ${codes[0]!}, 'placed', 'placed on the new ladder: the next review measures the member'
      from placed
    )
    select count(*)::int as n from placed`.execute(trx);
  return rows[0]?.n ?? 0;
}

/** Without a ladder nothing reviews tiers: members keep the tier they have, as a label. */
export async function leaveLadder(trx: Trx, tenantId: string, programId: string, now: Date): Promise<void> {
  await trx.deleteFrom('tier_ladders').where('tenant_id', '=', tenantId).where('program_id', '=', programId).execute();
  await trx.updateTable('members').set({ tier_since: null, tier_grace_until: null, tier_review_at: null, updated_at: now })
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('tier_review_at', 'is not', null).execute();
}

/** The member's tier under the lock of their row, which an event takes after its wallet lock. */
export async function lockMemberTier(trx: Trx, tenantId: string, memberId: string): Promise<TierState | null> {
  const row = await trx.selectFrom('members').select(TIER_COLUMNS)
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).forNoKeyUpdate().executeTakeFirst();
  return row ? stateOf(row) : null;
}

export async function readMemberTier(db: Db, tenantId: string, memberId: string): Promise<(TierState & { programId: string }) | null> {
  const row = await db.selectFrom('members').select([...TIER_COLUMNS, 'program_id'])
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
  return row ? { ...stateOf(row), programId: row.program_id } : null;
}

export interface TierUpdate {
  memberId: string;
  tier: string;
  since: Date;
  graceUntil: Date | null;
  reviewAt: Date;
}

/**
 * Writes members' places on the ladder: one statement for the whole chunk. The ids are given twice:
 * as the join key, and as `member_id = any(…)` so that the members are found by their key (or a
 * filtered scan) before the join; joined to the unnest alone, the planner hashed every member of
 * the tenant for each chunk (100,000 rows to update 5,000; see bench/README.md).
 */
export async function writeTiers(trx: Trx, tenantId: string, updates: readonly TierUpdate[], now: Date): Promise<void> {
  if (updates.length === 0) return;
  const ids = updates.map((u) => u.memberId);
  await sql`
    update members m set tier = u.tier, tier_since = u.since, tier_grace_until = u.grace_until, tier_review_at = u.review_at, updated_at = ${now}
    from unnest(${ids}::uuid[], ${updates.map((u) => u.tier)}::text[], ${updates.map((u) => u.since.toISOString())}::timestamptz[],
      ${updates.map((u) => u.graceUntil?.toISOString() ?? null)}::timestamptz[], ${updates.map((u) => u.reviewAt.toISOString())}::timestamptz[])
      as u(member_id, tier, since, grace_until, review_at)
    where m.tenant_id = ${tenantId} and m.member_id = any(${ids}::uuid[]) and m.member_id = u.member_id`.execute(trx);
}

export type TierHistoryRow = Omit<TierHistoryTable, 'tenant_id' | 'history_id' | 'at'>;

export async function insertTierHistory(trx: Trx, tenantId: string, rows: readonly TierHistoryRow[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into tier_history (tenant_id, history_id, member_id, at, from_tier, to_tier, change, reason, event_id)
    select ${tenantId}, laurel_uuid_v7(), r.member_id, ${at}, r.from_tier, r.to_tier, r.change, r.reason, r.event_id
    from unnest(${rows.map((r) => r.member_id)}::uuid[], ${rows.map((r) => r.from_tier)}::text[], ${rows.map((r) => r.to_tier)}::text[],
      ${rows.map((r) => r.change)}::text[], ${rows.map((r) => r.reason)}::text[], ${rows.map((r) => r.event_id)}::uuid[])
      with ordinality as r(member_id, from_tier, to_tier, change, reason, event_id, n)
    order by r.n`.execute(trx);
}

export async function tierHistory(db: Db, tenantId: string, memberId: string, before: string | null, limit: number) {
  let q = db.selectFrom('tier_history').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', memberId);
  if (before) q = q.where('history_id', '<', before);
  return q.orderBy('history_id', 'desc').limit(limit).execute();
}

const METRIC_COLUMN: Record<TierMetric, string> = { points: 'qualifying_points', spend: 'spend', visits: 'visits' };

export interface MetricAsk {
  memberId: string;
  start: Date | null;
  end: Date | null;
}

/** Each member's metric over their own window, in one statement; a member with no activity has 0. */
export async function metricsIn(db: Db, tenantId: string, metric: TierMetric, asks: readonly MetricAsk[]): Promise<Map<string, bigint>> {
  if (asks.length === 0) return new Map();
  const column = sql.ref(`a.${METRIC_COLUMN[metric]}`);
  const { rows } = await sql<{ member_id: string; metric: string }>`
    select w.member_id, coalesce((
      select sum(${column}) from member_activity a
      where a.tenant_id = ${tenantId} and a.member_id = w.member_id
        and (w.start_at is null or a.occurred_at >= w.start_at) and (w.end_at is null or a.occurred_at < w.end_at)
    ), 0)::text as metric
    from unnest(${asks.map((a) => a.memberId)}::uuid[], ${asks.map((a) => a.start?.toISOString() ?? null)}::timestamptz[],
      ${asks.map((a) => a.end?.toISOString() ?? null)}::timestamptz[]) as w(member_id, start_at, end_at)`.execute(db);
  return new Map(rows.map((r) => [r.member_id, BigInt(r.metric)]));
}

/** Programs with a ladder and at least one member due for review at `now`, with their tenant's zone. */
export async function programsDueForReview(db: Db, now: Date) {
  return db.selectFrom('tier_ladders as l')
    .innerJoin('tenants as t', 't.tenant_id', 'l.tenant_id')
    .select(['l.tenant_id', 'l.program_id', 'l.definition', 't.time_zone'])
    .where(({ exists, selectFrom }) => exists(selectFrom('members as m').select(sql`1`.as('one'))
      .whereRef('m.tenant_id', '=', 'l.tenant_id').whereRef('m.program_id', '=', 'l.program_id').where('m.tier_review_at', '<=', now)))
    .orderBy('l.tenant_id').orderBy('l.program_id')
    .execute();
}

/**
 * A chunk of members due for review after the keyset `after`, locked in the ledger's order: their
 * points wallets first (SKIP LOCKED: a member in the middle of an event, or taken by another
 * worker, is left for the next run), then their rows. Answers the locked members still due and
 * the keyset to continue from (null: no more due members).
 */
export async function claimDueReviews(trx: Trx, tenantId: string, programId: string, now: Date, after: { at: Date; memberId: string } | null, limit: number) {
  const candidates = await sql<{ member_id: string; tier_review_at: Date }>`
    select member_id, tier_review_at from members
    where tenant_id = ${tenantId} and program_id = ${programId} and tier_review_at <= ${now}
      and ${after === null ? sql`true` : sql`(tier_review_at, member_id) > (${after.at}, ${after.memberId})`}
    order by tier_review_at, member_id
    limit ${limit}`.execute(trx);
  const last = candidates.rows.at(-1);
  const next = candidates.rows.length < limit || !last ? null : { at: last.tier_review_at, memberId: last.member_id };
  if (candidates.rows.length === 0) return { members: [] as TierState[], next };
  const ids = candidates.rows.map((r) => r.member_id);
  const { rows } = await sql<TierRow>`
    with wallets as (
      select b.member_id from balances b
      join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id and w.code = ${DEFAULT_WALLET}
      where b.tenant_id = ${tenantId} and b.member_id = any(${ids}::uuid[])
      order by b.member_id
      for update of b skip locked
    )
    select m.member_id, m.tier, m.tier_since, m.tier_grace_until, m.tier_review_at, m.enrolled_at
    from members m join wallets w on w.member_id = m.member_id
    where m.tenant_id = ${tenantId} and m.tier_review_at <= ${now}
    order by m.member_id
    for no key update of m`.execute(trx);
  return { members: rows.map(stateOf), next };
}

/** A tier.changed outbox message for each history row that moved a member (not a grace, not a tier kept), in one statement. */
export async function queueTierChanges(trx: Trx, tenantId: string, programId: string, rows: readonly TierHistoryRow[], at: Date): Promise<void> {
  const moved = rows.filter((r) => r.from_tier !== r.to_tier);
  if (moved.length === 0) return;
  // The id is drawn in the subquery's select list, once per row (a lateral subquery without a reference to the row runs once).
  await sql`
    insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
    select ${tenantId}, r.id, 'tier.changed', 'tier.changed:' || r.id,
           jsonb_build_object('programId', ${programId}::uuid, 'memberId', r.member_id, 'from', r.from_tier, 'to', r.to_tier, 'change', r.change,
                              'reason', r.reason, 'eventId', r.event_id, 'at', ${at}::timestamptz),
           ${at}
    from (select u.*, laurel_uuid_v7() as id
          from unnest(${moved.map((r) => r.member_id)}::uuid[], ${moved.map((r) => r.from_tier)}::text[], ${moved.map((r) => r.to_tier)}::text[],
            ${moved.map((r) => r.change)}::text[], ${moved.map((r) => r.reason)}::text[], ${moved.map((r) => r.event_id)}::uuid[])
            as u(member_id, from_tier, to_tier, change, reason, event_id)) r`.execute(trx);
}
