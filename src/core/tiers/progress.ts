// What a member sees of their tier: the metric in the current window, the next tier and what is
// missing to reach it, what is missing to keep the current one, and how long it is safe.
import { rankOf, tierAt, type TierLadder } from './ladder.js';
import { local, type TierPeriod } from './windows.js';

export interface ProgressInput {
  current: string;
  /** the metric in `window` */
  metricInWindow: bigint;
  /** the current window (windowAt at now) */
  window: TierPeriod;
  /** from tierSecuredUntil; null for the first tier, which nothing takes away */
  securedUntil: Date | null;
}

export interface Progress {
  tier: string;
  metric: bigint;
  window: TierPeriod;
  /** the tier above the member's; null at the top */
  nextTier: string | null;
  /** what the metric lacks to reach nextTier: 0 at the top, and 0 when it is reached (the upgrade is due) */
  missing: bigint;
  /** what the metric lacks to meet the current tier's threshold, which the next review asks for */
  missingToKeep: bigint;
  securedUntil: Date | null;
}

const lack = (threshold: bigint, metric: bigint) => (metric >= threshold ? 0n : threshold - metric);

export function progressOf(ladder: TierLadder, input: ProgressInput): Progress {
  const rank = rankOf(ladder, input.current, 'current');
  const tier = tierAt(ladder, rank);
  const next = ladder.tiers[rank + 1] ?? null;
  return {
    tier: tier.code,
    metric: input.metricInWindow,
    window: input.window,
    nextTier: next?.code ?? null,
    missing: next ? lack(next.threshold, input.metricInWindow) : 0n,
    missingToKeep: lack(tier.threshold, input.metricInWindow),
    securedUntil: rank === 0 ? null : input.securedUntil,
  };
}

/**
 * The first instant the member's tier could be lost: the end of the grace they are in; else, with a
 * grace, `graceDays` local days after the next review (that review can only start one); else the
 * next review. Null for the first tier. Having already met the threshold in the current window does
 * not extend it: a return may still take that activity back before the review, and the promise would
 * be broken.
 */
export function tierSecuredUntil(
  ladder: TierLadder,
  input: { current: string; nextReview: Date; graceUntil: Date | null; timeZone: string },
): Date | null {
  if (rankOf(ladder, input.current, 'current') === 0) return null;
  if (input.graceUntil !== null) return input.graceUntil;
  if (ladder.graceDays > 0) return local(input.nextReview, input.timeZone).plus({ days: ladder.graceDays }).toJSDate();
  return input.nextReview;
}
