// Tier decisions, pure: the adapter reads the member's tier and metric, asks here, and writes the
// answer (tier, history row with its reason, grace, bonus) in the same transaction.
//
// Up at once, down slowly: activity can only lift a member (several levels in one event if it
// crosses several thresholds); only a review can lower one, by one level at most, after the grace.
// A return that takes qualifying activity back lowers the metric and nothing else: the next review
// sees it.
import { DateTime } from 'luxon';
import { rankOf, tierAt, type Tier, type TierLadder } from './ladder.js';
import { local } from './windows.js';

/** The highest tier whose threshold the metric reaches; below 0 (returns outweighing the window's activity), the first. */
export function tierFor(ladder: TierLadder, metric: bigint): Tier {
  let found = tierAt(ladder, 0);
  for (const t of ladder.tiers) if (t.threshold <= metric) found = t;
  return found;
}

/**
 * The points an upgrade from `from` to `to` gives: the bonus of every tier climbed, skipped ones
 * included, so one big order never pays less than the same spend in two orders.
 */
export function upgradeBonus(ladder: TierLadder, from: string, to: string): bigint {
  const lo = rankOf(ladder, from, 'current');
  const hi = rankOf(ladder, to);
  let total = 0n;
  for (let r = lo + 1; r <= hi; r++) total += tierAt(ladder, r).benefits.upgradeBonus;
  return total;
}

export interface Upgrade {
  from: string;
  tier: string;
  /** for the tier history: 'upgrade: metric 5200 ≥ 5000 (gold)' */
  reason: string;
  /** points to give for the tiers climbed (see upgradeBonus) */
  bonus: bigint;
}

const upgradeReason = (metric: bigint, to: Tier) => `upgrade: metric ${metric} ≥ ${to.threshold} (${to.code})`;

/**
 * On activity (an event in its transaction), with the metric in the current window including that
 * event: the upgrade it earns, or null. Never a downgrade, whatever the metric. An upgrade ends any grace.
 */
export function decideOnActivity(ladder: TierLadder, current: string, metricNow: bigint): Upgrade | null {
  const from = rankOf(ladder, current, 'current');
  const to = tierFor(ladder, metricNow);
  if (rankOf(ladder, to.code) <= from) return null;
  return { from: current, tier: to.code, reason: upgradeReason(metricNow, to), bonus: upgradeBonus(ladder, current, to.code) };
}

export interface ReviewInput {
  current: string;
  /** the metric in the window the review judges (see reviewWindow) */
  metricInWindow: bigint;
  /** the end of the grace the member is in; null: not in grace */
  graceUntil: Date | null;
  /** the review instant: pass the scheduled review date, not the hour a late job ran, so the grace does not drift */
  now: Date;
  /** the tenant's zone, for the grace's calendar days and the dates in reasons; UTC when absent */
  timeZone?: string;
}

export interface ReviewDecision {
  tier: string;
  change: 'up' | 'kept' | 'down';
  /** for the tier history: 'review: kept (…)', 'review: grace until …', 'review: down one level (…)' */
  reason: string;
  /** the grace to store on the member: set when it starts, carried while it runs, null otherwise */
  graceUntil: Date | null;
  /** points to give on an upgrade; 0 otherwise */
  bonus: bigint;
}

const shown = (d: DateTime) => d.toISO({ suppressMilliseconds: true }) ?? d.toJSDate().toISOString();

/**
 * A review: a member whose metric reaches their tier (or higher) keeps it (or goes up); one below
 * it keeps it through the grace — which starts at the first review that finds them below and ends
 * `graceDays` calendar days later — and then moves down exactly one level. The first tier is the floor.
 */
export function decideReview(ladder: TierLadder, input: ReviewInput): ReviewDecision {
  const { current, metricInWindow: metric, graceUntil, now } = input;
  const zone = input.timeZone ?? 'UTC';
  const rank = rankOf(ladder, current, 'current');
  const tier = tierAt(ladder, rank);
  const qualified = tierFor(ladder, metric);
  const qualifiedRank = rankOf(ladder, qualified.code);
  if (qualifiedRank > rank) {
    return { tier: qualified.code, change: 'up', reason: upgradeReason(metric, qualified), graceUntil: null, bonus: upgradeBonus(ladder, current, qualified.code) };
  }
  if (qualifiedRank === rank) {
    // The first tier is always reached unless returns drove the metric below 0; either way it stays.
    const why = metric >= tier.threshold ? `metric ${metric} ≥ ${tier.threshold}` : 'first tier';
    return { tier: current, change: 'kept', reason: `review: kept (${why})`, graceUntil: null, bonus: 0n };
  }
  const short = `metric ${metric} < ${tier.threshold}`;
  if (graceUntil !== null && now < graceUntil) {
    // A grace already promised is honoured, even if the ladder's grace was shortened since.
    return { tier: current, change: 'kept', reason: `review: in grace until ${shown(local(graceUntil, zone))} (${short})`, graceUntil, bonus: 0n };
  }
  if (graceUntil === null && ladder.graceDays > 0) {
    const until = local(now, zone).plus({ days: ladder.graceDays });
    return { tier: current, change: 'kept', reason: `review: grace until ${shown(until)} (${short})`, graceUntil: until.toJSDate(), bonus: 0n };
  }
  return { tier: tierAt(ladder, rank - 1).code, change: 'down', reason: `review: down one level (${short})`, graceUntil: null, bonus: 0n };
}
