// A membership plan: what a member pays, how often, and what it gives while it is on.
import { invalid } from '../errors.js';
import { parseDecimal, show } from '../rules/money.js';
import { PERIODS, TIER_MODES, type Benefits, type IncludedReward, type Period, type TierMode } from './lifecycle.js';

export interface PlanInput {
  code: string;
  name: string;
  /** minor units per period (once for lifetime) */
  fee: bigint;
  currency: string;
  period: Period;
  trialDays: number;
  graceDays: number;
  benefits: Benefits;
  /** the Stripe price a subscription to this plan uses */
  stripePriceId: string | null;
}

const CODE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const FLAG = /^[a-z][a-z0-9_]{0,31}$/;
const ALLOWED = ['code', 'name', 'fee', 'currency', 'period', 'trialDays', 'graceDays', 'benefits', 'stripePriceId'];
const BENEFITS = ['earnMultiplier', 'percentBack', 'tier', 'tierMode', 'flags', 'includedRewards'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_INCLUDED = 10;

function wholeIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(field, `${field} must be a whole number from ${min} to ${max}`);
  return value;
}

export function validatePlan(input: Record<string, unknown>): PlanInput {
  for (const k of Object.keys(input)) if (!ALLOWED.includes(k)) throw invalid(k, `${k} is not a field of a plan`);
  if (typeof input.code !== 'string' || !CODE.test(input.code)) throw invalid('code', 'code must be 1 to 64 lower-case letters, digits, _ or -');
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) throw invalid('name', 'name must be 1 to 200 characters');
  const fee = typeof input.fee === 'bigint' ? input.fee : BigInt(wholeIn(input.fee, 'fee', 0, 1_000_000_000_00));
  if (typeof input.currency !== 'string' || !/^[A-Z]{3}$/.test(input.currency)) throw invalid('currency', 'currency must be an ISO 4217 code such as EUR');
  if (!PERIODS.includes(input.period as Period)) throw invalid('period', `period must be one of ${PERIODS.join(', ')}`);
  const trialDays = input.trialDays === undefined ? 0 : wholeIn(input.trialDays, 'trialDays', 0, 365);
  const graceDays = input.graceDays === undefined ? 3 : wholeIn(input.graceDays, 'graceDays', 0, 90);
  if (input.period === 'lifetime' && trialDays > 0) throw invalid('trialDays', 'a lifetime plan has no trial');
  const b = (input.benefits ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw invalid('benefits', 'benefits must be an object');
  for (const k of Object.keys(b)) if (!BENEFITS.includes(k)) throw invalid(`benefits.${k}`, `benefits.${k} is not a benefit`);
  const ratio = (v: unknown, field: string, max: bigint) => (v === undefined || v === null ? null
    : show(parseDecimal(v, field, { numerator: 0n, denominator: 1n }, { numerator: max, denominator: 1n })));
  const earnMultiplier = ratio(b.earnMultiplier, 'benefits.earnMultiplier', 100n);
  if (earnMultiplier !== null && Number(earnMultiplier) < 1) throw invalid('benefits.earnMultiplier', 'benefits.earnMultiplier must be at least 1');
  const percentBack = ratio(b.percentBack, 'benefits.percentBack', 100n);
  if (b.tier !== undefined && b.tier !== null && (typeof b.tier !== 'string' || !FLAG.test(b.tier))) throw invalid('benefits.tier', 'benefits.tier must be a tier code');
  const tierMode = b.tierMode ?? 'floor';
  if (!TIER_MODES.includes(tierMode as TierMode)) throw invalid('benefits.tierMode', 'benefits.tierMode must be floor (at least the tier) or override (exactly the tier)');
  if (b.tierMode !== undefined && (b.tier === undefined || b.tier === null)) throw invalid('benefits.tierMode', 'benefits.tierMode needs a benefits.tier');
  const includedRewards = includedRewardsOf(b.includedRewards);
  const flags = b.flags ?? [];
  if (!Array.isArray(flags) || flags.length > 20) throw invalid('benefits.flags', 'benefits.flags must be a list of at most 20 flags');
  flags.forEach((f, i) => {
    if (typeof f !== 'string' || !FLAG.test(f)) throw invalid(`benefits.flags[${i}]`, `benefits.flags[${i}] must be lower-case letters, digits and _ (such as free_shipping)`);
  });
  const stripePriceId = input.stripePriceId ?? null;
  if (stripePriceId !== null && (typeof stripePriceId !== 'string' || !/^[A-Za-z0-9_]{1,255}$/.test(stripePriceId))) {
    throw invalid('stripePriceId', 'stripePriceId must be a Stripe price id such as price_1Q…');
  }
  return {
    code: input.code, name: input.name, fee, currency: input.currency, period: input.period as Period, trialDays, graceDays,
    benefits: {
      earnMultiplier, percentBack, tier: (b.tier as string | undefined) ?? null, tierMode: tierMode as TierMode, flags: [...new Set(flags as string[])], includedRewards,
    },
    stripePriceId,
  };
}

function includedRewardsOf(value: unknown): IncludedReward[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_INCLUDED) throw invalid('benefits.includedRewards', `benefits.includedRewards must be a list of at most ${MAX_INCLUDED} rewards`);
  const seen = new Set<string>();
  return value.map((v: unknown, i) => {
    const f = `benefits.includedRewards[${i}]`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(f, `${f} must be an object with a rewardId`);
    const r = v as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'rewardId' && k !== 'quantity') throw invalid(`${f}.${k}`, `${f}.${k} is not a field of an included reward`);
    if (typeof r.rewardId !== 'string' || !UUID.test(r.rewardId)) throw invalid(`${f}.rewardId`, `${f}.rewardId must be the id of a reward of the catalog`);
    const rewardId = r.rewardId.toLowerCase();
    if (seen.has(rewardId)) throw invalid(`${f}.rewardId`, `${f}.rewardId is listed twice: give a quantity instead`);
    seen.add(rewardId);
    return { rewardId, quantity: r.quantity === undefined ? 1 : wholeIn(r.quantity, `${f}.quantity`, 1, 10) };
  });
}
