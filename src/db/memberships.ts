// Membership plans, memberships, their transitions and fees, the provider events taken, and the
// set-based expiry. A membership's row is the lock its lifecycle is decided under; a provider
// event is claimed (inserted) first, so a second delivery, even concurrent, finds it taken.
import { sql } from 'kysely';
import type { TierBenefit, IssuedPeriod } from '../core/memberships/benefits.js';
import type { Benefits, Membership } from '../core/memberships/lifecycle.js';
import type { PlanInput } from '../core/memberships/plan.js';
import type { Trx } from './ledger.js';
import type { Db, MembershipPlansTable, MembershipsTable } from './schema.js';
import type { Selectable } from 'kysely';

export type PlanRow = Selectable<MembershipPlansTable>;
export type MembershipRow = Selectable<MembershipsTable>;

export interface Plan extends PlanInput {
  planId: string;
  programId: string;
  createdAt: Date;
}

/** Plans stored before a benefit existed read it as absent. */
export const benefitsOf = (b: Partial<Benefits>): Benefits => ({
  earnMultiplier: b.earnMultiplier ?? null, percentBack: b.percentBack ?? null, tier: b.tier ?? null, tierMode: b.tierMode ?? 'floor',
  flags: b.flags ?? [], includedRewards: b.includedRewards ?? [],
});

export const planOf = (r: PlanRow): Plan => {
  const b = (typeof r.benefits === 'string' ? JSON.parse(r.benefits) : r.benefits) as Benefits;
  return {
    planId: r.plan_id, programId: r.program_id, code: r.code, name: r.name, fee: BigInt(r.fee), currency: r.currency, period: r.period,
    trialDays: r.trial_days, graceDays: r.grace_days, benefits: benefitsOf(b),
    stripePriceId: r.stripe_price_id, createdAt: r.created_at,
  };
};

export async function insertPlan(db: Db, tenantId: string, planId: string, programId: string, p: PlanInput, now: Date): Promise<PlanRow> {
  return db.insertInto('membership_plans').values({
    tenant_id: tenantId, plan_id: planId, program_id: programId, code: p.code, name: p.name, fee: p.fee, currency: p.currency,
    period: p.period, trial_days: p.trialDays, grace_days: p.graceDays, benefits: JSON.stringify(p.benefits), stripe_price_id: p.stripePriceId, created_at: now,
  }).returningAll().executeTakeFirstOrThrow();
}

export async function loadPlan(db: Db, tenantId: string, planId: string): Promise<PlanRow | undefined> {
  return db.selectFrom('membership_plans').selectAll().where('tenant_id', '=', tenantId).where('plan_id', '=', planId).executeTakeFirst();
}

export async function findPlan(db: Db, tenantId: string, programId: string, by: { code?: string | null; stripePriceId?: string | null }): Promise<PlanRow | undefined> {
  let q = db.selectFrom('membership_plans').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId);
  if (by.stripePriceId) q = q.where('stripe_price_id', '=', by.stripePriceId);
  else if (by.code) q = q.where('code', '=', by.code);
  else return undefined;
  return q.executeTakeFirst();
}

export async function listPlans(db: Db, tenantId: string, programId: string | null): Promise<PlanRow[]> {
  let q = db.selectFrom('membership_plans').selectAll().where('tenant_id', '=', tenantId);
  if (programId) q = q.where('program_id', '=', programId);
  return q.orderBy('plan_id').execute();
}

export const membershipOf = (r: MembershipRow): Membership => ({
  status: r.status, since: r.since, periodStart: r.period_start, periodEnd: r.period_end, trialEndsAt: r.trial_ends_at,
  pastDueSince: r.past_due_since, cancelAtPeriodEnd: r.cancel_at_period_end, expiresAt: r.expires_at, changedAt: r.changed_at,
});

/** Claims a provider event; false when it was taken before (a duplicate delivery). */
export async function claimPaymentEvent(trx: Trx, e: { tenantId: string; programId: string; provider: string; eventId: string; type: string; now: Date }): Promise<boolean> {
  const r = await sql`
    insert into membership_payment_events (tenant_id, program_id, provider, event_id, type, outcome, received_at)
    values (${e.tenantId}, ${e.programId}, ${e.provider}, ${e.eventId}, ${e.type}, 'pending', ${e.now})
    on conflict do nothing`.execute(trx);
  return Number(r.numAffectedRows ?? 0n) === 1;
}

export async function settlePaymentEvent(trx: Trx, e: { tenantId: string; programId: string; provider: string; eventId: string }, outcome: string, membershipId: string | null): Promise<void> {
  await trx.updateTable('membership_payment_events').set({ outcome, membership_id: membershipId })
    .where('tenant_id', '=', e.tenantId).where('program_id', '=', e.programId).where('provider', '=', e.provider).where('event_id', '=', e.eventId).execute();
}

export async function loadPaymentEvent(db: Db, e: { tenantId: string; programId: string; provider: string; eventId: string }) {
  return db.selectFrom('membership_payment_events').selectAll()
    .where('tenant_id', '=', e.tenantId).where('program_id', '=', e.programId).where('provider', '=', e.provider).where('event_id', '=', e.eventId)
    .executeTakeFirst();
}

export async function lockMembershipByExternalId(trx: Trx, tenantId: string, programId: string, provider: string, externalId: string): Promise<MembershipRow | undefined> {
  return trx.selectFrom('memberships').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where('provider', '=', provider).where('external_id', '=', externalId).forUpdate().executeTakeFirst();
}

export async function lockMembership(trx: Trx, tenantId: string, membershipId: string): Promise<MembershipRow | undefined> {
  return trx.selectFrom('memberships').selectAll().where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId).forUpdate().executeTakeFirst();
}

/** Inserts a membership unless its (provider, external id) exists; then locks and returns the row. */
export async function insertMembership(trx: Trx, row: {
  tenantId: string; membershipId: string; programId: string; memberId: string; planId: string; provider: string; externalId: string;
  customerId: string | null; state: Membership; now: Date;
}): Promise<MembershipRow> {
  const s = row.state;
  await trx.insertInto('memberships').values({
    tenant_id: row.tenantId, membership_id: row.membershipId, program_id: row.programId, member_id: row.memberId, plan_id: row.planId,
    status: s.status, since: s.since, period_start: s.periodStart, period_end: s.periodEnd, trial_ends_at: s.trialEndsAt,
    past_due_since: s.pastDueSince, cancel_at_period_end: s.cancelAtPeriodEnd, expires_at: s.expiresAt, changed_at: s.changedAt,
    provider: row.provider, external_id: row.externalId, customer_id: row.customerId, created_at: row.now, updated_at: row.now,
  }).onConflict((oc) => oc.doNothing()).execute();
  return (await lockMembershipByExternalId(trx, row.tenantId, row.programId, row.provider, row.externalId))!;
}

export async function updateMembership(trx: Trx, tenantId: string, membershipId: string, s: Membership, customerId: string | null, now: Date): Promise<MembershipRow> {
  return trx.updateTable('memberships').set({
    status: s.status, since: s.since, period_start: s.periodStart, period_end: s.periodEnd, trial_ends_at: s.trialEndsAt,
    past_due_since: s.pastDueSince, cancel_at_period_end: s.cancelAtPeriodEnd, expires_at: s.expiresAt, changed_at: s.changedAt,
    customer_id: sql`coalesce(customer_id, ${customerId})`, updated_at: now,
  }).where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId).returningAll().executeTakeFirstOrThrow();
}

export async function insertTransition(trx: Trx, t: {
  tenantId: string; transitionId: string; membershipId: string; from: string | null; to: string; cause: string; eventId: string | null; at: Date; now: Date;
}): Promise<void> {
  await trx.insertInto('membership_transitions').values({
    tenant_id: t.tenantId, transition_id: t.transitionId, membership_id: t.membershipId, from_status: t.from, to_status: t.to,
    cause: t.cause, event_id: t.eventId, at: t.at, recorded_at: t.now,
  }).execute();
}

export async function insertFee(trx: Trx, f: {
  tenantId: string; feeId: string; programId: string; membershipId: string; memberId: string; planId: string; amount: bigint; currency: string;
  periodStart: Date | null; periodEnd: Date | null; provider: string; externalId: string; eventId: string; occurredAt: Date; now: Date;
}): Promise<void> {
  await trx.insertInto('membership_fees').values({
    tenant_id: f.tenantId, fee_id: f.feeId, program_id: f.programId, membership_id: f.membershipId, member_id: f.memberId, plan_id: f.planId,
    amount: f.amount, currency: f.currency, period_start: f.periodStart, period_end: f.periodEnd, provider: f.provider, external_id: f.externalId,
    event_id: f.eventId, occurred_at: f.occurredAt, recorded_at: f.now,
  }).execute();
}

export async function loadMembership(db: Db, tenantId: string, membershipId: string): Promise<MembershipRow | undefined> {
  return db.selectFrom('memberships').selectAll().where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId).executeTakeFirst();
}

export async function listMemberships(db: Db, tenantId: string, f: { programId?: string; memberId?: string; status?: string; limit: number; before: string | null }): Promise<MembershipRow[]> {
  let q = db.selectFrom('memberships').selectAll().where('tenant_id', '=', tenantId);
  if (f.programId) q = q.where('program_id', '=', f.programId);
  if (f.memberId) q = q.where('member_id', '=', f.memberId);
  if (f.status) q = q.where('status', '=', f.status as MembershipRow['status']);
  if (f.before) q = q.where('membership_id', '<', f.before);
  return q.orderBy('membership_id', 'desc').limit(f.limit).execute();
}

/** In the order they were recorded (ids made in SQL and in Node come from different clocks). */
export async function historyOf(db: Db, tenantId: string, membershipId: string) {
  return db.selectFrom('membership_transitions').selectAll().where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId)
    .orderBy('recorded_at').orderBy('transition_id').execute();
}

export async function feesOf(db: Db, tenantId: string, membershipId: string) {
  return db.selectFrom('membership_fees').selectAll().where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId)
    .orderBy('fee_id').execute();
}

/** A member's newest memberships with their plans: what rules read as member.membership. */
export async function membershipsOfMember(db: Db, tenantId: string, memberId: string) {
  return db.selectFrom('memberships as m')
    .innerJoin('membership_plans as p', (j) => j.onRef('p.tenant_id', '=', 'm.tenant_id').onRef('p.plan_id', '=', 'm.plan_id'))
    .selectAll('m').select(['p.code as plan_code', 'p.benefits as plan_benefits'])
    .where('m.tenant_id', '=', tenantId).where('m.member_id', '=', memberId)
    .orderBy('m.since', 'desc').limit(10).execute();
}

/**
 * The tier benefits of the memberships entitling each member at `at`, in one statement (what
 * core/memberships/benefits.ts effectiveTier combines with the tier they qualify for).
 */
export async function entitledTierBenefits(db: Db, tenantId: string, memberIds: readonly string[], at: Date): Promise<Map<string, TierBenefit[]>> {
  const found = new Map<string, TierBenefit[]>();
  if (memberIds.length === 0) return found;
  const rows = await db.selectFrom('memberships as m')
    .innerJoin('membership_plans as p', (j) => j.onRef('p.tenant_id', '=', 'm.tenant_id').onRef('p.plan_id', '=', 'm.plan_id'))
    .select(['m.member_id', 'm.since', 'p.code', sql<string>`p.benefits->>'tier'`.as('tier'), sql<string | null>`p.benefits->>'tierMode'`.as('mode')])
    .where('m.tenant_id', '=', tenantId).where('m.member_id', 'in', [...new Set(memberIds)])
    .where('m.status', '<>', 'expired').where('m.since', '<=', at)
    .where((eb) => eb.or([eb('m.expires_at', 'is', null), eb('m.expires_at', '>', at)]))
    .where(sql<boolean>`p.benefits->>'tier' is not null`)
    .execute();
  for (const r of rows) {
    const list = found.get(r.member_id) ?? [];
    list.push({ plan: r.code, tier: r.tier, mode: r.mode === 'override' ? 'override' : 'floor', since: r.since });
    found.set(r.member_id, list);
  }
  return found;
}

/** The paid periods of a membership that had their included rewards, under the membership's lock. */
export async function rewardPeriodsOf(trx: Trx, tenantId: string, membershipId: string): Promise<IssuedPeriod[]> {
  const rows = await trx.selectFrom('membership_reward_periods').select(['period_start', 'period_end'])
    .where('tenant_id', '=', tenantId).where('membership_id', '=', membershipId).execute();
  return rows.map((r) => ({ start: r.period_start, end: r.period_end }));
}

export async function insertRewardPeriod(trx: Trx, p: {
  tenantId: string; membershipId: string; start: Date; end: Date | null; instanceIds: string[]; eventId: string | null; now: Date;
}): Promise<void> {
  await trx.insertInto('membership_reward_periods').values({
    tenant_id: p.tenantId, membership_id: p.membershipId, period_start: p.start, period_end: p.end, instance_ids: sql<string[]>`${p.instanceIds}::uuid[]`, event_id: p.eventId, issued_at: p.now,
  }).execute();
}

export async function loadStripeSecret(db: Db, programId: string) {
  return db.selectFrom('stripe_settings').select(['tenant_id', 'program_id', 'webhook_secret']).where('program_id', '=', programId).executeTakeFirst();
}

export async function saveStripeSecret(db: Db, tenantId: string, programId: string, secret: string, now: Date): Promise<void> {
  await db.insertInto('stripe_settings').values({ tenant_id: tenantId, program_id: programId, webhook_secret: secret, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet({ webhook_secret: secret, updated_at: now })).execute();
}

/**
 * Expires up to `chunk` memberships whose benefits ended, in one statement: the status, a
 * transition each and a membership.expired message each. Rows locked elsewhere (a payment being
 * applied) are skipped: the next run takes them, or the payment moved them on.
 */
export interface ExpiredTier {
  tenantId: string;
  programId: string;
  memberId: string;
  /** the tier the expired membership's plan gave */
  benefit: TierBenefit;
}

export async function expireDueMemberships(db: Db, now: Date, chunk: number): Promise<{ expired: number; tiers: ExpiredTier[] }> {
  const r = await sql<{ n: string | number | bigint; tiers: { tenant_id: string; program_id: string; member_id: string; plan: string; tier: string; mode: string | null; since: string }[] | string }>`
    with due as (
      select tenant_id, membership_id, status as from_status, expires_at from memberships
      where status <> 'expired' and expires_at is not null and expires_at <= ${now}
      order by expires_at
      limit ${chunk}
      for update skip locked
    ), expired as (
      update memberships m set status = 'expired', changed_at = greatest(m.changed_at, d.expires_at), updated_at = ${now}
      from due d where m.tenant_id = d.tenant_id and m.membership_id = d.membership_id
      returning m.tenant_id, m.membership_id, m.program_id, m.member_id, m.plan_id, d.from_status, d.expires_at, laurel_uuid_v7() as transition_id
    ), history as (
      insert into membership_transitions (tenant_id, transition_id, membership_id, from_status, to_status, cause, event_id, at, recorded_at)
      select tenant_id, transition_id, membership_id, from_status, 'expired', 'expiry: benefits ended', null, expires_at, ${now} from expired
    ), messages as (
      insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
      select e.tenant_id, laurel_uuid_v7(), 'membership.expired', 'membership:' || e.transition_id,
             jsonb_build_object('programId', e.program_id, 'memberId', e.member_id, 'membershipId', e.membership_id, 'plan', p.code,
                                'from', e.from_status, 'status', 'expired', 'cause', 'expiry: benefits ended', 'at', e.expires_at),
             ${now}
      from expired e join membership_plans p on p.tenant_id = e.tenant_id and p.plan_id = e.plan_id
      on conflict (tenant_id, dedupe_key) do nothing
    )
    select (select count(*) from expired) as n,
      (select coalesce(jsonb_agg(jsonb_build_object('tenant_id', e.tenant_id, 'program_id', e.program_id, 'member_id', e.member_id, 'plan', p.code,
                                                    'tier', p.benefits->>'tier', 'mode', p.benefits->>'tierMode', 'since', m.since)), '[]'::jsonb)
       from expired e join membership_plans p on p.tenant_id = e.tenant_id and p.plan_id = e.plan_id
       join memberships m on m.tenant_id = e.tenant_id and m.membership_id = e.membership_id
       where p.benefits->>'tier' is not null) as tiers`.execute(db);
  const row = r.rows[0];
  const tiers = typeof row?.tiers === 'string' ? JSON.parse(row.tiers) as Exclude<typeof row.tiers, string> : row?.tiers ?? [];
  return {
    expired: Number(row?.n ?? 0),
    tiers: tiers.map((t) => ({
      tenantId: t.tenant_id, programId: t.program_id, memberId: t.member_id,
      benefit: { plan: t.plan, tier: t.tier, mode: t.mode === 'override' ? 'override' : 'floor', since: new Date(t.since) },
    })),
  };
}

/**
 * A program's membership fees in [from, to) by when they were paid or refunded, in one currency:
 * the payments, the refunds (a positive figure) and their count. One statement over the program's fees.
 */
export async function feeTotals(db: Db, q: { tenantId: string; programId: string; currency: string; from: Date; to: Date }): Promise<{ paid: bigint; refunded: bigint; payments: bigint; refunds: bigint }> {
  const { rows } = await sql<{ paid: string; refunded: string; payments: string; refunds: string }>`
    select coalesce(sum(amount) filter (where amount > 0), 0) as paid, coalesce(-sum(amount) filter (where amount < 0), 0) as refunded,
      count(*) filter (where amount > 0) as payments, count(*) filter (where amount < 0) as refunds
    from membership_fees
    where tenant_id = ${q.tenantId} and program_id = ${q.programId} and currency = ${q.currency}
      and occurred_at >= ${q.from} and occurred_at < ${q.to}`.execute(db);
  const r = rows[0]!;
  return { paid: BigInt(r.paid), refunded: BigInt(r.refunded), payments: BigInt(r.payments), refunds: BigInt(r.refunds) };
}

/** A membership's last fee paid at or before an instant: what a refund then gives back. */
export async function lastFeePaid(db: Db, tenantId: string, membershipId: string, at: Date) {
  return db.selectFrom('membership_fees').select(['provider', 'external_id', 'amount']).where('tenant_id', '=', tenantId)
    .where('membership_id', '=', membershipId).where('amount', '>', 0n).where('occurred_at', '<=', at)
    .orderBy('occurred_at', 'desc').orderBy('fee_id', 'desc').limit(1).executeTakeFirst();
}
