// A program's tier ladder (Member, Silver, Gold, VIP…): what qualifies a member (a metric over a
// window), when a member can lose a tier (reviews, with an optional grace), and what each tier
// gives. This module holds the shapes and checks every field before a ladder is saved.
import { invalid } from '../errors.js';
import { isObject, only } from '../input.js';
import { storableText } from '../events/event.js';
import { MAX_POINTS } from '../points.js';
import { parseDecimal, show } from '../rules/money.js';

/** What qualifies: tier-qualifying points, money spent (minor units) or visits (purchases). */
export type TierMetric = 'points' | 'spend' | 'visits';
export const TIER_METRICS: readonly TierMetric[] = ['points', 'spend', 'visits'];

/** The stretch of activity the metric is summed over, in the tenant's calendar. */
export type TierWindow =
  | { kind: 'calendar_year' }
  /** the last N months of whole local days, today included */
  | { kind: 'rolling_months'; months: number }
  | { kind: 'lifetime' };

/** When a member can lose a tier: at the end of each period, or on each anniversary of enrolment. */
export type ReviewPolicy = { kind: 'period_end' } | { kind: 'anniversary' };

export type UpgradeRate = 'next_event' | 'crossing_event';
export const UPGRADE_RATES: readonly UpgradeRate[] = ['next_event', 'crossing_event'];

export interface TierBenefits {
  /** the factor rules apply to the member's earn, as an exact decimal ("2", "1.5"); null: none */
  earnMultiplier: string | null;
  /** switches the shop reads: free_shipping, early_access… */
  flags: string[];
  /** codes of the rewards only this tier may redeem */
  rewardAccess: string[];
  /** points given when a member reaches this tier by an upgrade; 0: none */
  upgradeBonus: bigint;
}

export interface Tier {
  code: string;
  name: string;
  /** the metric a member needs in the window; the first tier's is 0, so every member has a tier */
  threshold: bigint;
  benefits: TierBenefits;
}

export interface TierLadder {
  metric: TierMetric;
  window: TierWindow;
  review: ReviewPolicy;
  /** days a member below their tier keeps it after a review before moving down; 0: no grace */
  graceDays: number;
  /**
   * The tier the event that crosses a threshold earns at: the one the member had (next_event: the
   * new tier's rate starts with the next event) or the one it reaches (crossing_event).
   */
  upgradeRate: UpgradeRate;
  /** lowest first, thresholds strictly increasing */
  tiers: Tier[];
}

export const TIER_CODE = /^[a-z][a-z0-9_]{0,31}$/;
export const MAX_TIERS = 20;
export const MAX_WINDOW_MONTHS = 120;
export const MAX_GRACE_DAYS = 3650;
const MAX_FLAGS = 20;
const MAX_REWARD_ACCESS = 100;
const MAX_NAME = 100;

function integerIn(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * A non-negative amount (points, minor units, visits) as bigint. Digit strings are read too: a
 * stored ladder has its bigints written as text (see ladderToJson), and must validate again.
 */
function amount(value: unknown, field: string): bigint {
  const n = typeof value === 'bigint' ? value
    : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value)
      : typeof value === 'string' && /^\d{1,13}$/.test(value) ? BigInt(value)
        : null;
  if (n === null || n < 0n || n > MAX_POINTS) throw invalid(field, `${field} must be an integer from 0 to ${MAX_POINTS}`);
  return n;
}

function codes(value: unknown, field: string, max: number): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > max) throw invalid(field, `${field} must be a list of at most ${max} codes`);
  const seen = new Set<string>();
  return value.map((v, i) => {
    if (typeof v !== 'string' || !TIER_CODE.test(v)) throw invalid(`${field}[${i}]`, `${field}[${i}] must be a code: lower-case letters, digits and _ (at most 32)`);
    if (seen.has(v)) throw invalid(`${field}[${i}]`, `${v} is listed twice`);
    seen.add(v);
    return v;
  });
}

function validateWindow(value: unknown): TierWindow {
  if (!isObject(value)) throw invalid('window', 'window must be an object with a kind');
  switch (value.kind) {
    case 'calendar_year':
    case 'lifetime':
      only(value, ['kind'], 'window.');
      return { kind: value.kind };
    case 'rolling_months':
      only(value, ['kind', 'months'], 'window.');
      return { kind: 'rolling_months', months: integerIn(value.months, 1, MAX_WINDOW_MONTHS, 'window.months') };
    default:
      throw invalid('window.kind', 'window.kind must be calendar_year, rolling_months or lifetime');
  }
}

function validateReview(value: unknown, window: TierWindow): ReviewPolicy {
  if (value === undefined || value === null) return { kind: 'period_end' };
  if (!isObject(value)) throw invalid('review', 'review must be an object with a kind');
  only(value, ['kind'], 'review.');
  if (value.kind !== 'period_end' && value.kind !== 'anniversary') throw invalid('review.kind', 'review.kind must be period_end or anniversary');
  // On an anniversary in March a calendar-year window holds ten weeks of the year: members would
  // be judged on a fraction of the year they are measured on. Refuse it rather than guess.
  if (value.kind === 'anniversary' && window.kind === 'calendar_year') {
    throw invalid('review.kind', 'a calendar-year window is reviewed at its end (period_end); an anniversary review needs a rolling or lifetime window');
  }
  return { kind: value.kind };
}

function validateBenefits(value: unknown, prefix: string, first: boolean): TierBenefits {
  if (value === undefined || value === null) return { earnMultiplier: null, flags: [], rewardAccess: [], upgradeBonus: 0n };
  if (!isObject(value)) throw invalid(prefix, `${prefix} must be an object`);
  only(value, ['earnMultiplier', 'flags', 'rewardAccess', 'upgradeBonus'], `${prefix}.`);
  const earnMultiplier = value.earnMultiplier === undefined || value.earnMultiplier === null ? null
    : show(parseDecimal(value.earnMultiplier, `${prefix}.earnMultiplier`, { numerator: 1n, denominator: 1n }, { numerator: 100n, denominator: 1n }));
  const upgradeBonus = value.upgradeBonus === undefined || value.upgradeBonus === null ? 0n : amount(value.upgradeBonus, `${prefix}.upgradeBonus`);
  // Every member starts on the first tier; nobody is ever upgraded to it, so its bonus would never be paid.
  if (first && upgradeBonus > 0n) throw invalid(`${prefix}.upgradeBonus`, 'the first tier is never reached by an upgrade: give a welcome bonus with a signup rule');
  return {
    earnMultiplier,
    flags: codes(value.flags, `${prefix}.flags`, MAX_FLAGS),
    rewardAccess: codes(value.rewardAccess, `${prefix}.rewardAccess`, MAX_REWARD_ACCESS),
    upgradeBonus,
  };
}

function validateTier(value: unknown, i: number): Tier {
  const f = `tiers[${i}]`;
  if (!isObject(value)) throw invalid(f, `${f} must be an object with a code, a name and a threshold`);
  only(value, ['code', 'name', 'threshold', 'benefits'], `${f}.`);
  if (typeof value.code !== 'string' || !TIER_CODE.test(value.code)) {
    throw invalid(`${f}.code`, 'a tier code is lower-case letters, digits and _ (at most 32), starting with a letter');
  }
  const name = value.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME) throw invalid(`${f}.name`, `${f}.name must be text of 1 to ${MAX_NAME} characters`);
  if (value.threshold === undefined) throw invalid(`${f}.threshold`, `${f}.threshold is required`);
  return {
    code: value.code,
    name: storableText(name.trim(), `${f}.name`),
    threshold: amount(value.threshold, `${f}.threshold`),
    benefits: validateBenefits(value.benefits, `${f}.benefits`, i === 0),
  };
}

/**
 * Checks a ladder as a client wrote it and returns it normalised (bigints, multipliers as exact
 * decimal text, defaults filled in: review at period end, no grace, no benefits); every problem
 * names its field, such as `tiers[1].threshold`.
 */
export function validateLadder(input: unknown): TierLadder {
  if (!isObject(input)) throw invalid('ladder', 'a tier ladder is an object');
  only(input, ['metric', 'window', 'review', 'graceDays', 'upgradeRate', 'tiers'], '');
  if (!TIER_METRICS.includes(input.metric as TierMetric)) throw invalid('metric', `metric must be one of ${TIER_METRICS.join(', ')}`);
  const window = validateWindow(input.window);
  const review = validateReview(input.review, window);
  const graceDays = input.graceDays === undefined || input.graceDays === null ? 0 : integerIn(input.graceDays, 0, MAX_GRACE_DAYS, 'graceDays');
  const upgradeRate = input.upgradeRate === undefined || input.upgradeRate === null ? 'next_event' : input.upgradeRate;
  if (!UPGRADE_RATES.includes(upgradeRate as UpgradeRate)) throw invalid('upgradeRate', `upgradeRate must be one of ${UPGRADE_RATES.join(', ')}`);
  const list = input.tiers;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TIERS) throw invalid('tiers', `a ladder has 1 to ${MAX_TIERS} tiers`);
  const tiers = list.map(validateTier);
  const seen = new Set<string>();
  tiers.forEach((t, i) => {
    if (seen.has(t.code)) throw invalid(`tiers[${i}].code`, `tier code ${t.code} is used twice`);
    seen.add(t.code);
    if (i === 0 && t.threshold !== 0n) throw invalid('tiers[0].threshold', 'the first tier has threshold 0: every member has a tier');
    const below = tiers[i - 1];
    if (below && t.threshold <= below.threshold) {
      throw invalid(`tiers[${i}].threshold`, `tiers[${i}].threshold must be above ${below.threshold} (${below.code}): thresholds increase strictly`);
    }
  });
  return { metric: input.metric as TierMetric, window, review, graceDays, upgradeRate: upgradeRate as UpgradeRate, tiers };
}

/** The ladder as JSON can hold it: bigints as digit strings, which validateLadder reads back. */
export function ladderToJson(ladder: TierLadder): Record<string, unknown> {
  return {
    metric: ladder.metric,
    window: { ...ladder.window },
    review: { ...ladder.review },
    graceDays: ladder.graceDays,
    upgradeRate: ladder.upgradeRate,
    tiers: ladder.tiers.map((t) => ({
      code: t.code, name: t.name, threshold: String(t.threshold),
      benefits: { ...t.benefits, flags: [...t.benefits.flags], rewardAccess: [...t.benefits.rewardAccess], upgradeBonus: String(t.benefits.upgradeBonus) },
    })),
  };
}

/** The position of a tier on the ladder (0 is the first); an unknown code is refused, naming `field`. */
export function rankOf(ladder: TierLadder, code: string, field = 'tier'): number {
  const rank = ladder.tiers.findIndex((t) => t.code === code);
  if (rank < 0) throw invalid(field, `${code} is not a tier of this ladder`);
  return rank;
}

/** The tier at a rank; the caller has a rank from rankOf or a bounded search, so it exists. */
export function tierAt(ladder: TierLadder, rank: number): Tier {
  const tier = ladder.tiers[rank];
  if (!tier) throw new RangeError(`no tier at rank ${rank}`);
  return tier;
}
