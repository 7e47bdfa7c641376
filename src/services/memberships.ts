// Paid memberships: plans (admin), the lifecycle driven by payment events (a generic API and the
// Stripe adapter), cancellation, the expiry job and the facts rules read. Each payment event is
// one transaction: claim the provider's event id (a duplicate answers what the first did), lock
// the membership row, let core/memberships decide, write the state, the transition, the fee and
// the outbox message together.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import {
  entitled, membershipFacts, NO_MEMBERSHIP, periodEndOf, transition, type Change, type Membership, type MembershipFacts,
} from '../core/memberships/lifecycle.js';
import { effectiveTier, periodCovered, type EffectiveTier } from '../core/memberships/benefits.js';
import { validatePlan } from '../core/memberships/plan.js';
import type { TierLadder } from '../core/tiers/ladder.js';
import { readStripeEvent, stripeChange, verifyStripeSignature, type StripeReading } from '../core/memberships/stripe.js';
import { enqueueMessage } from '../db/jobs.js';
import type { Trx } from '../db/ledger.js';
import {
  claimPaymentEvent, entitledTierBenefits, expireDueMemberships, insertRewardPeriod, rewardPeriodsOf, feesOf, findPlan, historyOf, insertFee, insertMembership, insertPlan, insertTransition,
  lastFeePaid, listMemberships as listMembershipRows, listPlans as listPlanRows, loadMembership, loadPaymentEvent, loadPlan, loadStripeSecret,
  lockMembership, lockMembershipByExternalId, membershipOf, membershipsOfMember, planOf, saveStripeSecret, settlePaymentEvent, updateMembership,
  type ExpiredTier, type MembershipRow, type Plan,
} from '../db/memberships.js';
import { loadSettings } from '../db/accounting.js';
import { loadReward } from '../db/rewards.js';
import { USED_ON_ISSUE } from '../core/rewards/reward.js';
import type { Db } from '../db/schema.js';
import type { Laurel } from './context.js';
import { isUniqueViolation, writeOnce } from './idempotency.js';
import { deferMembershipFee, refundMembershipFee } from './accounting.js';
import { issueFreeInstance } from './rewards.js';
import { getProgram } from './tenants.js';
import { recordMembershipTierMoves } from './tiers.js';
import { optionalText, requireDate, requireId } from './validate.js';

export type { Plan } from '../db/memberships.js';

export interface MembershipView extends Membership {
  membershipId: string;
  programId: string;
  memberId: string;
  planId: string;
  provider: string;
  externalId: string;
  customerId: string | null;
  /** whether its benefits apply now */
  entitled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface Transition { transitionId: string; from: string | null; to: string; cause: string; eventId: string | null; at: Date; recordedAt: Date }
export interface Fee {
  feeId: string; amount: bigint; currency: string; periodStart: Date | null; periodEnd: Date | null; provider: string; externalId: string;
  eventId: string; occurredAt: Date;
}

const viewOf = (r: MembershipRow, now: Date): MembershipView => {
  const m = membershipOf(r);
  return {
    ...m, membershipId: r.membership_id, programId: r.program_id, memberId: r.member_id, planId: r.plan_id, provider: r.provider,
    externalId: r.external_id, customerId: r.customer_id, entitled: entitled(m, now), createdAt: r.created_at, updatedAt: r.updated_at,
  };
};

// ---- plans -----------------------------------------------------------------------------------

export async function createPlan(laurel: Laurel, tenantId: string, input: Record<string, unknown>, idempotencyKey?: string): Promise<Plan> {
  const { programId, ...rest } = input;
  const program = await getProgram(laurel, tenantId, programId as string);
  const plan = validatePlan(rest);
  for (const [i, r] of plan.benefits.includedRewards.entries()) {
    const reward = await loadReward(laurel.db, tenantId, r.rewardId);
    const field = `benefits.includedRewards[${i}].rewardId`;
    if (!reward || reward.reward.programId !== program.programId) throw notFound('reward', field);
    if (USED_ON_ISSUE.has(reward.reward.value.type) || reward.reward.value.type === 'partner_voucher') {
      throw invalid(field, `a ${reward.reward.value.type} reward cannot be included in a plan: choose a discount, free product, free shipping, gift card or experience`);
    }
  }
  return writeOnce(laurel, tenantId, idempotencyKey, 'create_membership_plan', { programId: program.programId, ...plan }, async (trx, now) => {
    try {
      return planOf(await insertPlan(trx, tenantId, uuidv7(now.getTime()), program.programId, plan, now));
    } catch (e) {
      if (isUniqueViolation(e, 'stripe_price_id')) throw new DomainError('conflict', 'another plan of the program uses this Stripe price', 'stripePriceId');
      if (isUniqueViolation(e)) throw new DomainError('conflict', `the program has a plan with code ${plan.code}`, 'code');
      throw e;
    }
  });
}

export async function getPlan(laurel: Laurel, tenantId: string, planId: string): Promise<Plan> {
  const row = await loadPlan(laurel.db, tenantId, requireId(planId, 'planId', 'plan'));
  if (!row) throw notFound('membership plan', 'planId');
  return planOf(row);
}

export async function listPlans(laurel: Laurel, tenantId: string, programId?: string): Promise<Plan[]> {
  const id = programId === undefined ? null : requireId(programId, 'programId', 'program');
  return (await listPlanRows(laurel.db, tenantId, id)).map(planOf);
}

// ---- applying a change ----------------------------------------------------------------------

interface Applied { outcome: 'applied' | 'unchanged' | 'stale' | 'refused' | 'ignored'; membership: MembershipRow | null; reason?: string }

const LIFECYCLE_MESSAGE = { started: 'membership.started', renewed: 'membership.renewed', past_due: 'membership.past_due', cancelled: 'membership.cancelled', expired: 'membership.expired' } as const;

/** Decides and writes one change on a locked (or new) membership. */
async function applyChange(trx: Trx, now: Date, c: {
  tenantId: string; programId: string; memberId: string; plan: Plan; provider: string; externalId: string; customerId: string | null;
  current: MembershipRow | null; change: Change; cause: string; eventId: string | null; refuse: 'throw' | 'record';
}): Promise<Applied> {
  const terms = { period: c.plan.period, graceDays: c.plan.graceDays };
  // A plan with a tier: what entitles the member now, before and after, tells whether the tier they hold moves.
  const tierBefore = c.plan.benefits.tier === null ? null : await tierBenefitsOf(trx, c.tenantId, c.memberId, now);
  let decision;
  try {
    decision = transition(c.current ? membershipOf(c.current) : null, c.change, terms);
  } catch (e) {
    if (c.refuse === 'throw' || !(e instanceof DomainError)) throw e;
    return { outcome: 'refused', membership: c.current, reason: e.message };
  }
  if (decision.next === null) return { outcome: 'ignored', membership: c.current };
  if (c.current !== null && c.change.at < c.current.changed_at) return { outcome: 'stale', membership: c.current };
  let row: MembershipRow;
  if (c.current === null) {
    const membershipId = uuidv7(now.getTime());
    row = await insertMembership(trx, {
      tenantId: c.tenantId, membershipId, programId: c.programId, memberId: c.memberId, planId: c.plan.planId,
      provider: c.provider, externalId: c.externalId, customerId: c.customerId, state: decision.next, now,
    });
    // Another event of the same subscription created it meanwhile (it waited on its insert): decide again on that row, now locked.
    if (row.membership_id !== membershipId) return applyChange(trx, now, { ...c, current: row });
  } else {
    row = await updateMembership(trx, c.tenantId, c.current.membership_id, decision.next, c.customerId, now);
  }
  if (!decision.changed) return { outcome: 'unchanged', membership: row };
  if (tierBefore !== null) {
    await recordMembershipTierMoves(trx, c.tenantId, [{
      programId: c.programId, memberId: row.member_id, before: tierBefore, after: await tierBenefitsOf(trx, c.tenantId, row.member_id, now), cause: c.cause,
    }], now);
  }
  const transitionId = uuidv7(now.getTime());
  await insertTransition(trx, {
    tenantId: c.tenantId, transitionId, membershipId: row.membership_id, from: decision.from, to: decision.to!, cause: c.cause,
    eventId: c.eventId, at: c.change.at, now,
  });
  if (decision.event !== null) {
    await enqueueMessage(trx, c.tenantId, LIFECYCLE_MESSAGE[decision.event], `membership:${transitionId}`, {
      programId: c.programId, memberId: row.member_id, membershipId: row.membership_id, plan: c.plan.code, from: decision.from,
      status: decision.to, cause: c.cause, at: c.change.at.toISOString(), periodEnd: row.period_end?.toISOString() ?? null,
      expiresAt: row.expires_at?.toISOString() ?? null,
    }, now);
  }
  return { outcome: 'applied', membership: row };
}

const tierBenefitsOf = async (db: Db, tenantId: string, memberId: string, at: Date) => (await entitledTierBenefits(db, tenantId, [memberId], at)).get(memberId) ?? [];

/**
 * The tier a member holds at `at`: the one they qualify for (their stored tier), lifted or set by
 * the tier of a membership entitling them then.
 */
export async function heldTier(db: Db, tenantId: string, ladder: TierLadder | null, memberId: string, qualified: string | null, at: Date): Promise<EffectiveTier> {
  return effectiveTier(ladder, qualified, await tierBenefitsOf(db, tenantId, memberId, at));
}

/**
 * A payment for a period gives the plan's included rewards once: a period already covered (the
 * same one announced by a checkout and then its invoice, a redelivery, a late duplicate) gives
 * nothing. Under the membership's lock, so two deliveries cannot both find it uncovered.
 */
async function issueIncludedRewards(trx: Trx, now: Date, c: { tenantId: string; plan: Plan; membership: MembershipRow; change: Change; eventId: string | null }): Promise<void> {
  const { plan, membership, change } = c;
  if (plan.benefits.includedRewards.length === 0 || change.kind !== 'paid' || membership.status === 'expired') return;
  const issued = await rewardPeriodsOf(trx, c.tenantId, membership.membership_id);
  if (periodCovered(issued, change.periodStart)) return;
  const instanceIds: string[] = [];
  for (const r of plan.benefits.includedRewards) {
    for (let n = 0; n < r.quantity; n++) {
      const id = await issueFreeInstance(trx, now, { tenantId: c.tenantId, memberId: membership.member_id, rewardId: r.rewardId });
      if (id !== null) instanceIds.push(id);
    }
  }
  await insertRewardPeriod(trx, {
    tenantId: c.tenantId, membershipId: membership.membership_id, start: change.periodStart, end: change.periodEnd, instanceIds, eventId: c.eventId, now,
  });
}

async function planRow(trx: Db, tenantId: string, planId: string): Promise<Plan> {
  const row = await loadPlan(trx, tenantId, planId);
  if (!row) throw notFound('membership plan', 'planId');
  return planOf(row);
}

// ---- the generic payment-event API ---------------------------------------------------------

export type PaymentType = 'paid' | 'failed' | 'refunded';

export interface PaymentResult {
  provider: string;
  eventId: string;
  outcome: string;
  /** true when this event was taken before: nothing new was written */
  duplicate: boolean;
  membership: MembershipView | null;
}

const PROVIDER = /^[a-z][a-z0-9_-]{0,31}$/;

export async function recordPayment(laurel: Laurel, tenantId: string, input: Record<string, unknown>): Promise<PaymentResult> {
  const program = await getProgram(laurel, tenantId, input.programId as string);
  const provider = input.provider;
  if (typeof provider !== 'string' || !PROVIDER.test(provider) || provider === 'stripe') {
    throw invalid('provider', 'provider must be lower-case letters, digits, _ or - (stripe events come through its webhook)');
  }
  const eventId = optionalText(input.eventId, 'eventId', 255);
  if (!eventId) throw invalid('eventId', "eventId is required: the provider's event id");
  const type = input.type as PaymentType;
  if (!['paid', 'failed', 'refunded'].includes(type)) throw invalid('type', 'type must be paid, failed or refunded');
  const externalId = optionalText(input.externalId, 'externalId', 255);
  if (!externalId) throw invalid('externalId', "externalId is required: the provider's subscription or contract");
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const planId = requireId(input.planId, 'planId', 'plan');
  const occurredAt = requireDate(input.occurredAt, 'occurredAt');
  if (input.amount !== undefined && (typeof input.amount !== 'number' || !Number.isSafeInteger(input.amount) || input.amount < 0)) {
    throw invalid('amount', 'amount must be a whole, non-negative number of minor units');
  }
  const amount = BigInt((input.amount as number | undefined) ?? 0);
  if (type === 'refunded' && amount === 0n) throw invalid('amount', 'a refund gives back an amount');
  const currency = input.currency === undefined ? null : input.currency;
  if (currency !== null && (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))) throw invalid('currency', 'currency must be an ISO 4217 code such as EUR');
  const periodStart = input.periodStart === undefined ? null : requireDate(input.periodStart, 'periodStart');
  const periodEnd = input.periodEnd === undefined ? null : requireDate(input.periodEnd, 'periodEnd');
  if (periodStart && periodEnd && periodEnd <= periodStart) throw invalid('periodEnd', 'periodEnd must be after periodStart');
  const paymentId = optionalText(input.paymentId, 'paymentId', 255) ?? eventId;
  const member = await laurel.db.selectFrom('members').select(['member_id', 'program_id']).where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
  if (!member || member.program_id !== program.programId) throw notFound('member', 'memberId');
  const plan = await getPlan(laurel, tenantId, planId);
  if (plan.programId !== program.programId) throw notFound('membership plan', 'planId');
  if (amount > 0n && currency === null) throw invalid('currency', 'currency is required with an amount');
  if (currency !== null && currency !== plan.currency) throw invalid('currency', `the plan is paid in ${plan.currency}`);

  if (type === 'paid' && periodEnd === null && (periodEndOf(plan.period, periodStart ?? occurredAt)?.getUTCFullYear() ?? 0) > 9999) {
    throw invalid(periodStart ? 'periodStart' : 'occurredAt', "the plan's period from this date would end after 9999");
  }

  const key = { tenantId, programId: program.programId, provider, eventId };
  return laurel.db.transaction().execute(async (trx) => {
    const now = laurel.clock.now();
    if (!(await claimPaymentEvent(trx, { ...key, type, now }))) return duplicateOf(trx, key, now);
    const current = (await lockMembershipByExternalId(trx, tenantId, program.programId, provider, externalId)) ?? null;
    if (current && (current.member_id !== memberId || current.plan_id !== planId)) {
      throw new DomainError('conflict', `${externalId} is the membership of another member or plan`, 'externalId');
    }
    if (current === null && type !== 'paid') throw notFound(`membership ${externalId}`, 'externalId');
    const start = periodStart ?? occurredAt;
    const change: Change = type === 'paid' ? { kind: 'paid', at: occurredAt, periodStart: start, periodEnd: periodEnd ?? periodEndOf(plan.period, start) }
      : type === 'failed' ? { kind: 'failed', at: occurredAt } : { kind: 'refunded', at: occurredAt };
    const applied = await applyChange(trx, now, {
      tenantId, programId: program.programId, memberId, plan, provider, externalId, customerId: null, current, change,
      cause: `${provider}:${type}`, eventId, refuse: 'throw',
    });
    if (amount > 0n && type !== 'failed' && applied.membership) {
      await recordFee(trx, now, {
        tenantId, feeId: uuidv7(now.getTime()), programId: program.programId, membershipId: applied.membership.membership_id, memberId, planId,
        amount: type === 'refunded' ? -amount : amount, currency: currency ?? plan.currency,
        periodStart: type === 'paid' ? start : periodStart, periodEnd: type === 'paid' ? (periodEnd ?? periodEndOf(plan.period, start)) : periodEnd,
        provider, externalId: paymentId, eventId, occurredAt, now,
      });
    }
    if (applied.membership) await issueIncludedRewards(trx, now, { tenantId, plan, membership: applied.membership, change, eventId });
    await settlePaymentEvent(trx, key, applied.outcome, applied.membership?.membership_id ?? null);
    return { provider, eventId, outcome: applied.outcome, duplicate: false, membership: applied.membership ? viewOf(applied.membership, now) : null };
  });
}

async function duplicateOf(trx: Trx, key: { tenantId: string; programId: string; provider: string; eventId: string }, now: Date): Promise<PaymentResult> {
  const seen = (await loadPaymentEvent(trx, key))!;
  const row = seen.membership_id ? await loadMembership(trx, key.tenantId, seen.membership_id) : undefined;
  return { provider: key.provider, eventId: key.eventId, outcome: seen.outcome, duplicate: true, membership: row ? viewOf(row, now) : null };
}

// ---- Stripe ---------------------------------------------------------------------------------

export async function setStripeSettings(laurel: Laurel, tenantId: string, programId: string, input: { webhookSecret?: unknown }): Promise<{ programId: string; webhookUrl: string }> {
  const program = await getProgram(laurel, tenantId, programId);
  const secret = input.webhookSecret;
  if (typeof secret !== 'string' || !/^whsec_[A-Za-z0-9+/=_-]{8,200}$/.test(secret)) {
    throw invalid('webhookSecret', "webhookSecret must be the endpoint's signing secret from Stripe (whsec_…)");
  }
  await saveStripeSecret(laurel.db, tenantId, program.programId, secret, laurel.clock.now());
  return { programId: program.programId, webhookUrl: `/v1/integrations/stripe/webhook?programId=${program.programId}` };
}

/** Thrown when the signature does not hold: the adapter answers 400 and stores nothing. */
export class SignatureError extends DomainError {
  constructor(message: string) {
    super('validation', message, 'Stripe-Signature');
  }
}

/**
 * A Stripe webhook delivery: the raw body is checked against the program's secret before it is
 * read at all; then the event is taken once, whatever Stripe resends.
 */
export async function receiveStripeEvent(laurel: Laurel, programId: unknown, payload: string, signature: string | undefined): Promise<PaymentResult & { type: string }> {
  const id = requireId(programId, 'programId', 'program');
  const settings = await loadStripeSecret(laurel.db, id);
  // The same answer whether the program is unknown or has no secret: nothing to learn by probing.
  if (!settings) throw new SignatureError('no Stripe webhook secret is set for this program');
  const checked = verifyStripeSignature(signature, payload, settings.webhook_secret, laurel.clock.now());
  if (!checked.ok) throw new SignatureError(checked.reason);
  let event: unknown;
  try {
    event = JSON.parse(payload);
  } catch {
    throw invalid('body', 'the body must be a Stripe event in JSON');
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) throw invalid('body', 'the body must be a Stripe event in JSON');
  const reading = readStripeEvent(event as Record<string, unknown>);
  const tenantId = settings.tenant_id;
  const key = { tenantId, programId: id, provider: 'stripe', eventId: reading.eventId };
  const result = await laurel.db.transaction().execute(async (trx) => {
    const now = laurel.clock.now();
    if (!(await claimPaymentEvent(trx, { ...key, type: reading.type, now }))) return duplicateOf(trx, key, now);
    const applied = await applyStripe(trx, now, tenantId, id, reading);
    await settlePaymentEvent(trx, key, applied.reason ? `${applied.outcome}: ${applied.reason}` : applied.outcome, applied.membership?.membership_id ?? null);
    return {
      provider: 'stripe', eventId: reading.eventId, outcome: applied.reason ? `${applied.outcome}: ${applied.reason}` : applied.outcome,
      duplicate: false, membership: applied.membership ? viewOf(applied.membership, now) : null,
    };
  });
  return { ...result, type: reading.type };
}

async function applyStripe(trx: Trx, now: Date, tenantId: string, programId: string, r: StripeReading): Promise<Applied> {
  if (r.change === null || r.externalId === null) return { outcome: 'ignored', membership: null, reason: r.change === null ? 'nothing for memberships' : 'no subscription' };
  const current = (await lockMembershipByExternalId(trx, tenantId, programId, 'stripe', r.externalId)) ?? null;
  if (current !== null && r.onlyIfNew) return { outcome: 'stale', membership: current, reason: 'a checkout only starts a membership' };
  let plan: Plan | undefined;
  let memberId: string;
  if (current !== null) {
    memberId = current.member_id;
    plan = await planRow(trx, tenantId, current.plan_id);
  } else {
    const planFound = await findPlan(trx, tenantId, programId, { stripePriceId: r.priceId, code: r.planCode });
    const planByCode = planFound ?? (r.planCode ? await findPlan(trx, tenantId, programId, { code: r.planCode }) : undefined);
    if (!planByCode) return { outcome: 'ignored', membership: null, reason: 'no plan of the program has this price (stripePriceId) or metadata.laurel_plan' };
    plan = planOf(planByCode);
    const member = await findStripeMember(trx, tenantId, programId, r);
    if (member === null) return { outcome: 'ignored', membership: null, reason: 'no member of the program matches metadata.laurel_member_id, metadata.laurel_member or client_reference_id' };
    memberId = member;
  }
  const change = stripeChange(r, current !== null, plan);
  if (change === null) return { outcome: 'stale', membership: current };
  const applied = await applyChange(trx, now, {
    tenantId, programId, memberId, plan, provider: 'stripe', externalId: r.externalId, customerId: r.customerId, current, change,
    cause: `stripe:${r.type}`, eventId: r.eventId, refuse: 'record',
  });
  if (r.fee && applied.membership) {
    await recordFee(trx, now, {
      tenantId, feeId: uuidv7(now.getTime()), programId, membershipId: applied.membership.membership_id, memberId, planId: plan.planId,
      amount: r.fee.amount, currency: r.fee.currency, periodStart: r.fee.periodStart,
      periodEnd: r.fee.periodEnd ?? (r.fee.periodStart ? periodEndOf(plan.period, r.fee.periodStart) : null),
      provider: 'stripe', externalId: r.fee.externalId, eventId: r.eventId, occurredAt: r.created, now,
    });
  }
  if (applied.membership && applied.outcome !== 'refused') await issueIncludedRewards(trx, now, { tenantId, plan, membership: applied.membership, change, eventId: r.eventId });
  return applied;
}

async function findStripeMember(trx: Trx, tenantId: string, programId: string, r: StripeReading): Promise<string | null> {
  const byId = r.member.memberId && /^[0-9a-f-]{36}$/i.test(r.member.memberId) ? r.member.memberId.toLowerCase() : null;
  let q = trx.selectFrom('members').select('member_id').where('tenant_id', '=', tenantId).where('program_id', '=', programId);
  if (byId) q = q.where('member_id', '=', byId);
  else if (r.member.externalId) q = q.where('external_id', '=', r.member.externalId);
  else return null;
  return (await q.executeTakeFirst())?.member_id ?? null;
}

// ---- memberships ----------------------------------------------------------------------------

export async function getMembership(laurel: Laurel, tenantId: string, membershipId: string): Promise<MembershipView & { history: Transition[]; fees: Fee[] }> {
  const id = requireId(membershipId, 'membershipId', 'membership');
  const row = await loadMembership(laurel.db, tenantId, id);
  if (!row) throw notFound('membership', 'membershipId');
  const [history, fees] = await Promise.all([historyOf(laurel.db, tenantId, id), feesOf(laurel.db, tenantId, id)]);
  return {
    ...viewOf(row, laurel.clock.now()),
    history: history.map((t) => ({ transitionId: t.transition_id, from: t.from_status, to: t.to_status, cause: t.cause, eventId: t.event_id, at: t.at, recordedAt: t.recorded_at })),
    fees: fees.map((f) => ({
      feeId: f.fee_id, amount: BigInt(f.amount), currency: f.currency, periodStart: f.period_start, periodEnd: f.period_end, provider: f.provider,
      externalId: f.external_id, eventId: f.event_id, occurredAt: f.occurred_at,
    })),
  };
}

export async function listMemberships(laurel: Laurel, tenantId: string, f: { programId?: string; memberId?: string; status?: string; limit: number; before: string | null }): Promise<MembershipView[]> {
  const filter = {
    ...f,
    ...(f.programId !== undefined ? { programId: requireId(f.programId, 'programId', 'program') } : {}),
    ...(f.memberId !== undefined ? { memberId: requireId(f.memberId, 'memberId', 'member') } : {}),
  };
  const now = laurel.clock.now();
  return (await listMembershipRows(laurel.db, tenantId, filter)).map((r) => viewOf(r, now));
}

/** A member's memberships with their plans, newest first: what the member (portal) reads. */
export async function memberMemberships(laurel: Laurel, tenantId: string, memberId: string): Promise<(MembershipView & { plan: Plan })[]> {
  const id = requireId(memberId, 'memberId', 'member');
  const member = await laurel.db.selectFrom('members').select('member_id').where('tenant_id', '=', tenantId).where('member_id', '=', id).executeTakeFirst();
  if (!member) throw notFound('member', 'memberId');
  const rows = await listMembershipRows(laurel.db, tenantId, { memberId: id, limit: 20, before: null });
  const plans = new Map((await listPlanRows(laurel.db, tenantId, null)).filter((p) => rows.some((r) => r.plan_id === p.plan_id)).map((p) => [p.plan_id, planOf(p)]));
  const now = laurel.clock.now();
  return rows.map((r) => ({ ...viewOf(r, now), plan: plans.get(r.plan_id)! }));
}

/** Cancels at period end (the benefits last until it) or at once; a provider's own cancellation comes through its events. */
export async function cancelMembership(laurel: Laurel, tenantId: string, membershipId: string, input: { atPeriodEnd?: unknown; reason?: unknown }, idempotencyKey?: string): Promise<MembershipView> {
  const id = requireId(membershipId, 'membershipId', 'membership');
  const atPeriodEnd = input.atPeriodEnd ?? true;
  if (typeof atPeriodEnd !== 'boolean') throw invalid('atPeriodEnd', 'atPeriodEnd must be true or false');
  const reason = optionalText(input.reason, 'reason', 200);
  return writeOnce(laurel, tenantId, idempotencyKey, 'cancel_membership', { id, atPeriodEnd, reason }, async (trx, now) => {
    const current = await lockMembership(trx, tenantId, id);
    if (!current) throw notFound('membership', 'membershipId');
    if (current.status === 'cancelled' && atPeriodEnd) {
      throw new DomainError('conflict', 'this membership is already cancelled', 'membershipId');
    }
    const plan = await planRow(trx, tenantId, current.plan_id);
    // A cancellation happens now; a provider state stamped later than now is still newer.
    const at = now < current.changed_at ? current.changed_at : now;
    const applied = await applyChange(trx, now, {
      tenantId, programId: current.program_id, memberId: current.member_id, plan, provider: current.provider, externalId: current.external_id,
      customerId: null, current, change: { kind: 'cancel', at, atPeriodEnd }, cause: reason ? `cancel: ${reason}` : atPeriodEnd ? 'cancel at period end' : 'cancel at once',
      eventId: null, refuse: 'throw',
    });
    return viewOf(applied.membership!, now);
  });
}

// ---- the job and the facts ------------------------------------------------------------------

const EXPIRY_CHUNK = 1000;

export async function expireMemberships(laurel: Laurel, now: Date, progress: (done: number) => void): Promise<{ expired: number }> {
  let expired = 0;
  for (;;) {
    const n = await laurel.db.transaction().execute(async (trx) => {
      const done = await expireDueMemberships(trx, now, EXPIRY_CHUNK);
      await fallBackFromTiers(trx, now, done.tiers);
      return done.expired;
    });
    expired += n;
    progress(expired);
    if (n < EXPIRY_CHUNK) return { expired };
  }
}

/** The members whose expired membership held a tier: each falls back to what else entitles them, or to the tier they qualify for. */
async function fallBackFromTiers(trx: Trx, now: Date, ended: readonly ExpiredTier[]): Promise<void> {
  const byTenant = new Map<string, ExpiredTier[]>();
  for (const e of ended) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
  for (const [tenantId, list] of byTenant) {
    const still = await entitledTierBenefits(trx, tenantId, list.map((e) => e.memberId), now);
    await recordMembershipTierMoves(trx, tenantId, list.map((e) => {
      const after = still.get(e.memberId) ?? [];
      return { programId: e.programId, memberId: e.memberId, before: [...after, e.benefit], after, cause: 'expiry: benefits ended' };
    }), now);
  }
}

/** What rules read as member.membership at `at`: the entitled membership if any, else the newest. */
export async function membershipFactsOf(db: Db, tenantId: string, memberId: string, at: Date): Promise<MembershipFacts> {
  const rows = await membershipsOfMember(db, tenantId, memberId);
  if (rows.length === 0) return NO_MEMBERSHIP;
  const withPlans = rows.map((r) => ({ m: membershipOf(r), plan: planOf({ ...r, code: r.plan_code, benefits: r.plan_benefits, name: '', fee: 0n, currency: '', period: 'monthly', trial_days: 0, grace_days: 0, stripe_price_id: null }) }));
  const chosen = withPlans.find((x) => entitled(x.m, at)) ?? withPlans[0]!;
  return membershipFacts(chosen.m, chosen.plan, at);
}

/**
 * A fee, recorded for the membership's history and, when the program keeps its books in Laurel
 * (accounting settings, same currency), deferred as contract liability over the period it pays
 * for (a lifetime plan: the accounting settings' lifetimeFeeMonths). A refund (a negative fee)
 * gives back the membership's last fee paid before it: the books reverse it (refundMembershipFee).
 */
async function recordFee(trx: Trx, now: Date, fee: Parameters<typeof insertFee>[1]): Promise<void> {
  await insertFee(trx, fee);
  const books = await loadSettings(trx, fee.tenantId, fee.programId);
  if (!books || books.currency !== fee.currency) return;
  if (fee.amount < 0n) {
    const paid = await lastFeePaid(trx, fee.tenantId, fee.membershipId, fee.occurredAt);
    if (!paid) return;
    await refundMembershipFee(trx, fee.tenantId, {
      programId: fee.programId, refundRef: `${fee.provider}:${fee.externalId}`, refundedFeeRef: `${paid.provider}:${paid.external_id}`,
      memberId: fee.memberId, amount: -fee.amount, at: fee.occurredAt,
    }, now);
    return;
  }
  await deferMembershipFee(trx, fee.tenantId, {
    programId: fee.programId, feeRef: `${fee.provider}:${fee.externalId}`, memberId: fee.memberId, amount: fee.amount,
    serviceStart: fee.periodStart ?? fee.occurredAt, serviceEnd: fee.periodEnd,
  }, now);
}
