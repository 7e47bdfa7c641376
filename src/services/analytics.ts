// Program analytics and incremental ROI (SPEC §11): validates the period asked for, reads the
// aggregates (db/analytics.ts) and derives the rates, the program cost and the holdout comparison
// (core/analytics/roi.ts). Also the holdout on the event path: a control member's event is
// recorded like any other but earns nothing.
import { inControlGroup, MAX_CONTROL_SHARE_BP } from '../core/analytics/holdout.js';
import { roiOf, type Roi } from '../core/analytics/roi.js';
import { npsOf } from '../core/engagement/nps.js';
import { invalid } from '../core/errors.js';
import { text } from '../core/input.js';
import type { PointValue } from '../core/program.js';
import { moneyOf } from '../core/rewards/points-payment.js';
import {
  behaviour, cohorts, holdoutOf, loadAnalyticsSettings, memberCounts, pointsSeries, rewardUse, saveAnalyticsSettings, spendByGroup,
  tiersAndGrades, type Behaviour, type Bucket, type Cohort, type PointsBucket, type RewardUse, type Scope,
} from '../db/analytics.js';
import { feeTotals } from '../db/memberships.js';
import { npsCounts } from '../db/nps.js';
import { funnelRow } from '../db/referrals.js';
import type { Db } from '../db/schema.js';
import type { Earning } from './earning.js';
import type { Laurel } from './context.js';
import { getProgram, getTenant } from './tenants.js';

export type { Bucket } from '../db/analytics.js';
export const BUCKETS: readonly Bucket[] = ['day', 'week', 'month'];
const DAY = 86_400_000;
const DEFAULT_DAYS = 90;
/** The longest period a report covers: ten years. */
const MAX_DAYS = 3_660;
/** Day buckets over more than this many days would be an unreadable chart: ask for weeks or months. */
const MAX_DAY_BUCKETS = 400;

export interface PeriodQuery {
  from?: string;
  to?: string;
}

export interface AnalyticsScope extends Scope {
  /** the tenant's: membership fees in another currency are not counted */
  currency: string;
  pointValue: PointValue | null;
  grossMarginBp: number;
}

function dateOf(value: string | undefined, field: string): Date | null {
  if (value === undefined) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw invalid(field, `${field} must be a date-time (RFC 3339) or a date`);
  return d;
}

/** The program, its zone and settings, and the period [from, to): by default the last 90 days. */
export async function analyticsScope(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery): Promise<AnalyticsScope> {
  // by default up to now, included: what was written this very millisecond counts
  const to = dateOf(q.to, 'to') ?? new Date(laurel.clock.now().getTime() + 1);
  const from = dateOf(q.from, 'from') ?? new Date(to.getTime() - DEFAULT_DAYS * DAY);
  if (from.getTime() >= to.getTime()) throw invalid('from', 'from must be before to');
  if (to.getTime() - from.getTime() > MAX_DAYS * DAY) throw invalid('from', `a period covers at most ${MAX_DAYS} days`);
  const program = await getProgram(laurel, tenantId, programId);
  const [tenant, settings] = await Promise.all([getTenant(laurel, tenantId), loadAnalyticsSettings(laurel.db, tenantId, program.programId)]);
  return {
    tenantId, programId: program.programId, timeZone: tenant.timeZone, currency: tenant.currency, from, to, controlShareBp: settings.controlShareBp,
    holdoutSalt: settings.holdoutSalt ?? program.programId,
    grossMarginBp: settings.grossMarginBp, pointValue: program.pointValue ?? null,
  };
}

/** a / b to four decimals; 0 when b is 0 */
export const rate = (a: bigint, b: bigint): number => (b === 0n ? 0 : Number((a * 100_000n / b + 5n) / 10n) / 10_000);
/** a / b rounded half up to a whole unit; 0 when b is 0 */
const perUnit = (a: bigint, b: bigint): bigint => (b === 0n ? 0n : (2n * a + b) / (2n * b));

export interface GroupBehaviour extends Behaviour {
  customers: bigint;
  activeRate: number;
  repeatPurchaseRate: number;
  /** revenue / orders, minor units */
  averageOrderValue: bigint;
}

const groupOf = (b: Behaviour, customers: bigint): GroupBehaviour => ({
  ...b, customers, activeRate: rate(b.active, customers), repeatPurchaseRate: rate(b.repeatPurchasers, b.purchasers),
  averageOrderValue: perUnit(b.revenue, b.orders),
});

export interface ProgramCost {
  /** points redeemed in the period, net of reversals */
  pointsRedeemed: bigint;
  /** those not spent on rewards (paying orders, manual redemptions), at the point value */
  points: bigint;
  /** the rewards given in the period: their money value (fixed discount, store credit, donation), or their points at the point value */
  rewards: bigint;
  /** membership fees paid in the period less those refunded in it: subtracted */
  membershipFees: bigint;
  /** points + rewards − membershipFees: negative when the fees pay for more than the program gives away */
  total: bigint;
}

/**
 * Program cost: what the redeemed points gave away, less what members paid to belong. Points spent
 * on a reward given (issued or used) are costed by the reward's money value when it has one; every
 * other redeemed point at the program's point value (0 when the program has none).
 */
export function programCost(pointsRedeemed: bigint, rewards: readonly RewardUse[], pointValue: PointValue | null, membershipFees: bigint): ProgramCost {
  const value = (points: bigint) => (pointValue === null || points <= 0n ? 0n : moneyOf(points, pointValue));
  const rewardPoints = rewards.reduce((s, r) => s + r.givenPoints, 0n);
  const rewardCost = rewards.reduce((s, r) => s + r.givenMoney + value(r.givenPointsWithoutMoney), 0n);
  const points = value(pointsRedeemed - rewardPoints);
  return { pointsRedeemed, points, rewards: rewardCost, membershipFees, total: points + rewardCost - membershipFees };
}

export interface MembershipFees {
  /** fees paid in the period, minor units of the tenant's currency */
  paid: bigint;
  /** fees refunded in the period */
  refunded: bigint;
  /** paid − refunded */
  net: bigint;
  payments: bigint;
  refunds: bigint;
}

export interface ReferralFigures {
  /** referral codes members created in the period */
  codesShared: bigint;
  /** friends who joined with a code in the period; the rest counts those same referrals */
  joined: bigint;
  pending: bigint;
  /** met the condition (then rewarded, or reversed by a return) */
  qualified: bigint;
  rewarded: bigint;
  reversed: bigint;
  rejected: bigint;
  /** qualified / joined */
  conversionRate: number;
  /** points paid to both sides of the referrals qualified or rewarded */
  pointsPaid: bigint;
}

export interface NpsFigures {
  responses: bigint;
  promoters: bigint;
  passives: bigint;
  detractors: bigint;
  /** (promoters − detractors) / responses × 100, one decimal; null without a response */
  score: number | null;
}

async function membershipFees(db: Db, s: AnalyticsScope): Promise<MembershipFees> {
  const f = await feeTotals(db, { tenantId: s.tenantId, programId: s.programId, currency: s.currency, from: s.from, to: s.to });
  return { ...f, net: f.paid - f.refunded };
}

/** The referrals feature's funnel (db/referrals.ts) over the referrals that joined in the period. */
async function referralFigures(db: Db, s: AnalyticsScope): Promise<ReferralFigures> {
  const r = await funnelRow(db, s.tenantId, s.programId, s.from, s.to);
  const joined = big(r.joined);
  const qualified = big(r.qualified);
  return {
    codesShared: big(r.codes), joined, pending: big(r.pending), qualified, rewarded: big(r.rewarded), reversed: big(r.reversed),
    rejected: r.reasons.reduce((sum, x) => sum + big(x.n), 0n), conversionRate: rate(qualified, joined), pointsPaid: big(r.points),
  };
}

/** The NPS feature's counts (db/nps.ts) over the survey responses of the period, all channels. */
async function npsFigures(db: Db, s: AnalyticsScope): Promise<NpsFigures> {
  const [c] = await npsCounts(db, { tenantId: s.tenantId, programId: s.programId, timeZone: s.timeZone, from: s.from, to: s.to, period: 'month', segment: null, groupBy: [], channel: null });
  return {
    responses: BigInt(c!.responses), promoters: BigInt(c!.promoters), passives: BigInt(c!.passives), detractors: BigInt(c!.detractors), score: npsOf(c!),
  };
}

const big = (v: string | number | bigint | null | undefined): bigint => BigInt(v ?? 0);

export interface Overview {
  scope: AnalyticsScope;
  members: bigint;
  newMembers: bigint;
  controlMembers: bigint;
  enrolmentRate: number;
  /** the program's members (the control group apart) and the control group */
  groups: { members: GroupBehaviour; control: GroupBehaviour };
  points: { issued: bigint; redeemed: bigint; expired: bigint; redemptionRate: number };
  membershipFees: MembershipFees;
  cost: ProgramCost;
  referrals: ReferralFigures;
  nps: NpsFigures;
}

export async function overview(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery): Promise<Overview> {
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  const [counts, acts, series, rewards, fees, referrals, nps] = await Promise.all([
    memberCounts(laurel.db, scope), behaviour(laurel.db, scope), pointsSeries(laurel.db, scope, 'month'), rewardUse(laurel.db, scope),
    membershipFees(laurel.db, scope), referralFigures(laurel.db, scope), npsFigures(laurel.db, scope),
  ]);
  const total = (k: 'issued' | 'redeemed' | 'expired') => series.reduce((s, b) => s + b[k], 0n);
  const issued = total('issued');
  const redeemed = total('redeemed');
  return {
    scope, members: counts.members, newMembers: counts.newMembers, controlMembers: counts.control, enrolmentRate: rate(counts.newMembers, counts.members),
    groups: { members: groupOf(acts.members, counts.members - counts.control), control: groupOf(acts.control, counts.control) },
    points: { issued, redeemed, expired: total('expired'), redemptionRate: rate(redeemed, issued) },
    membershipFees: fees, cost: programCost(redeemed, rewards, scope.pointValue, fees.net), referrals, nps,
  };
}

export function parseBucket(value: string | undefined): Bucket {
  if (value === undefined) return 'day';
  if (!(BUCKETS as readonly string[]).includes(value)) throw invalid('bucket', `bucket must be one of ${BUCKETS.join(', ')}`);
  return value as Bucket;
}

export async function pointsOverTime(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery & { bucket?: string }): Promise<{ scope: AnalyticsScope; bucket: Bucket; buckets: PointsBucket[] }> {
  const bucket = parseBucket(q.bucket);
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  if (bucket === 'day' && scope.to.getTime() - scope.from.getTime() > MAX_DAY_BUCKETS * DAY) {
    throw invalid('bucket', `day buckets cover at most ${MAX_DAY_BUCKETS} days: ask for week or month`);
  }
  return { scope, bucket, buckets: await pointsSeries(laurel.db, scope, bucket) };
}

export async function tierAnalytics(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery) {
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  return { scope, ...(await tiersAndGrades(laurel.db, scope)) };
}

export async function cohortRetention(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery): Promise<{ scope: AnalyticsScope; cohorts: Cohort[] }> {
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  return { scope, cohorts: await cohorts(laurel.db, scope) };
}

export async function rewardPopularity(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery): Promise<{ scope: AnalyticsScope; rewards: RewardUse[] }> {
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  return { scope, rewards: await rewardUse(laurel.db, scope) };
}

export interface RoiReport extends Roi {
  scope: AnalyticsScope;
  programCost: ProgramCost;
}

/** Members vs the control group over the period: their spend per customer, the difference with its interval, and ROI. */
export async function roiReport(laurel: Laurel, tenantId: string, programId: string, q: PeriodQuery): Promise<RoiReport> {
  const scope = await analyticsScope(laurel, tenantId, programId, q);
  const [groups, series, rewards, fees] = await Promise.all([
    spendByGroup(laurel.db, scope), pointsSeries(laurel.db, scope, 'month'), rewardUse(laurel.db, scope), membershipFees(laurel.db, scope),
  ]);
  const cost = programCost(series.reduce((s, b) => s + b.redeemed, 0n), rewards, scope.pointValue, fees.net);
  return { scope, programCost: cost, ...roiOf({ members: groups.members, control: groups.control, cost: cost.total, grossMarginBp: scope.grossMarginBp }) };
}

export interface AnalyticsSettings {
  programId: string;
  /** share of customers in the control group, basis points (1000 = 10%) */
  controlShareBp: number;
  /** gross margin of sales, basis points */
  grossMarginBp: number;
  /** what the holdout hashes with the external id; null: the program's id */
  holdoutSalt: string | null;
  updatedAt: Date | null;
}

export async function getAnalyticsSettings(laurel: Laurel, tenantId: string, programId: string): Promise<AnalyticsSettings> {
  const program = await getProgram(laurel, tenantId, programId);
  return { programId: program.programId, ...(await loadAnalyticsSettings(laurel.db, tenantId, program.programId)) };
}

function basisPoints(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(field, `${field} must be a whole number of basis points from 0 to ${max}`);
  }
  return value;
}

/** A salt is text (1 to 100 characters, storable); null: the program's id. */
const saltOf = (value: unknown): string | null => (value === null ? null : text(value, 'holdoutSalt', 100));

export async function updateAnalyticsSettings(laurel: Laurel, tenantId: string, programId: string,
  input: { controlShareBp?: unknown; grossMarginBp?: unknown; holdoutSalt?: unknown }, actor: string): Promise<AnalyticsSettings> {
  const current = await getAnalyticsSettings(laurel, tenantId, programId);
  const next = {
    controlShareBp: input.controlShareBp === undefined ? current.controlShareBp : basisPoints(input.controlShareBp, 'controlShareBp', MAX_CONTROL_SHARE_BP),
    grossMarginBp: input.grossMarginBp === undefined ? current.grossMarginBp : basisPoints(input.grossMarginBp, 'grossMarginBp', 10_000),
    holdoutSalt: input.holdoutSalt === undefined ? current.holdoutSalt : saltOf(input.holdoutSalt),
  };
  await saveAnalyticsSettings(laurel.db, tenantId, current.programId, next, actor, laurel.clock.now());
  return getAnalyticsSettings(laurel, tenantId, current.programId);
}

/**
 * Whether a member is in their program's holdout (control group), as the event read it with its
 * program (loadEventProgram): the hash alone. A control member earns nothing from any automatic path (the event's rules, a tier's move
 * and bonus, a referral's reward, an achievement's reward), while what they do is recorded.
 */
export function inHoldout(holdout: { shareBp: number; salt: string }, member: { memberId: string; externalId: string | null }): boolean {
  return inControlGroup(holdout.salt, member, holdout.shareBp);
}

/** The same for a member known by id only: their external id is read first (no lookup when the program holds nobody out). */
export async function memberInHoldout(db: Db, tenantId: string, programId: string, memberId: string): Promise<boolean> {
  const holdout = await holdoutOf(db, tenantId, programId);
  if (holdout.shareBp === 0) return false;
  const row = await db.selectFrom('members').select('external_id').where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
  return inControlGroup(holdout.salt, { memberId, externalId: row?.external_id ?? null }, holdout.shareBp);
}

/** Which of these members (a chunk of a job) are in their program's holdout: one statement for their external ids. */
export async function membersInHoldout(db: Db, tenantId: string, programId: string, memberIds: readonly string[]): Promise<Set<string>> {
  const holdout = await holdoutOf(db, tenantId, programId);
  if (holdout.shareBp === 0 || memberIds.length === 0) return new Set();
  const rows = await db.selectFrom('members').select(['member_id', 'external_id']).where('tenant_id', '=', tenantId).where('member_id', 'in', memberIds).execute();
  return new Set(rows.filter((r) => inControlGroup(holdout.salt, { memberId: r.member_id, externalId: r.external_id }, holdout.shareBp)).map((r) => r.member_id));
}

/**
 * The event path's holdout: the earning of a control member is evaluated (its facts are recorded)
 * but awards nothing, so nothing is earned, no budget is spent, and the event, its spend and visits
 * are recorded like any member's.
 */
export const earningNothing = (evaluate: (tier?: string) => Promise<Earning>) =>
  async (tier?: string): Promise<Earning> => withoutAwards(await evaluate(tier));

/** What a control member's event earns: the facts, no awards. */
export const withoutAwards = (earning: Earning): Earning => ({ ...earning, awards: [], spent: new Map(), excluded: [] });
