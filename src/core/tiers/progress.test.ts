// What a member is shown: their metric, the next tier and what it lacks, and how long the tier is safe.
import { describe, expect, it } from 'vitest';
import { validateLadder, type TierLadder } from './ladder.js';
import { progressOf, tierSecuredUntil } from './progress.js';
import { nextReviewAt, windowAt, type TierPeriod } from './windows.js';

const d = (iso: string) => new Date(iso);
const PARIS = 'Europe/Paris';

function ladderWith(over: Record<string, unknown> = {}): TierLadder {
  return validateLadder({
    metric: 'spend', window: { kind: 'calendar_year' }, graceDays: 0,
    tiers: [
      { code: 'member', name: 'Member', threshold: 0 },
      { code: 'silver', name: 'Silver', threshold: 1000 },
      { code: 'gold', name: 'Gold', threshold: 5000 },
      { code: 'vip', name: 'VIP', threshold: 20_000 },
    ],
    ...over,
  });
}
const LADDER = ladderWith();
const YEAR_2026: TierPeriod = { start: d('2025-12-31T23:00:00Z'), end: d('2026-12-31T23:00:00Z') };
const REVIEW = d('2026-12-31T23:00:00Z');

describe('progressOf', () => {
  // current, metric, next tier, missing, missing to keep
  const table: [string, bigint, string | null, bigint, bigint][] = [
    ['member', 400n, 'silver', 600n, 0n],
    ['silver', 1000n, 'gold', 4000n, 0n],
    ['gold', 4200n, 'vip', 15_800n, 800n], // a return took gold below its threshold: 800 to keep it
    ['vip', 25_000n, null, 0n, 0n], // the top: nothing missing
    ['vip', 0n, null, 0n, 20_000n],
    ['silver', 6000n, 'gold', 0n, 0n], // reached: the upgrade is due, nothing missing
    ['silver', -300n, 'gold', 5300n, 1300n], // returns outweighing the year's spend
  ];
  it.each(table)('%s at %s: next %s, missing %s, %s to keep', (current, metric, nextTier, missing, missingToKeep) => {
    expect(progressOf(LADDER, { current, metricInWindow: metric, window: YEAR_2026, securedUntil: REVIEW })).toEqual({
      tier: current, metric, window: YEAR_2026, nextTier, missing, missingToKeep, securedUntil: current === 'member' ? null : REVIEW,
    });
  });
});

describe('tierSecuredUntil', () => {
  it('is the next review without a grace', () => {
    expect(tierSecuredUntil(LADDER, { current: 'gold', nextReview: REVIEW, graceUntil: null, timeZone: PARIS })).toEqual(REVIEW);
  });

  it('is the grace after the next review with one: 1 January + 90 days is 1 April 00:00 CEST', () => {
    expect(tierSecuredUntil(ladderWith({ graceDays: 90 }), { current: 'gold', nextReview: REVIEW, graceUntil: null, timeZone: PARIS }))
      .toEqual(d('2027-03-31T22:00:00Z'));
  });

  it('is the end of the grace a member is in', () => {
    const graceUntil = d('2027-03-31T22:00:00Z');
    expect(tierSecuredUntil(ladderWith({ graceDays: 90 }), { current: 'gold', nextReview: d('2027-12-31T23:00:00Z'), graceUntil, timeZone: PARIS }))
      .toEqual(graceUntil);
  });

  it('is null for the first tier, which nothing takes away', () => {
    expect(tierSecuredUntil(LADDER, { current: 'member', nextReview: REVIEW, graceUntil: null, timeZone: PARIS })).toBeNull();
  });
});

describe('a member page, put together as an adapter would', () => {
  it('a gold member in Auckland on a rolling year with anniversary reviews and a 30-day grace', () => {
    const ladder = ladderWith({ window: { kind: 'rolling_months', months: 12 }, review: { kind: 'anniversary' }, graceDays: 30 });
    const zone = 'Pacific/Auckland';
    const enrolledAt = d('2024-02-28T11:30:00Z'); // 29 Feb 2024 00:30 NZDT (+13)
    const now = d('2026-08-01T02:00:00Z'); // 1 Aug 2026 14:00 NZST (+12)
    const window = windowAt(ladder.window, now, zone, enrolledAt);
    // 2 Aug 2026 00:00 NZST back 12 months: 2 Aug 2025 00:00 NZST
    expect(window).toEqual({ start: d('2025-08-01T12:00:00Z'), end: d('2026-08-01T12:00:00Z') });
    const nextReview = nextReviewAt(ladder, enrolledAt, d('2025-01-10T00:00:00Z'), now, zone);
    // the anniversary of 29 February in 2027 is 28 February, 00:00 NZDT (+13)
    expect(nextReview).toEqual(d('2027-02-27T11:00:00Z'));
    const securedUntil = tierSecuredUntil(ladder, { current: 'gold', nextReview, graceUntil: null, timeZone: zone });
    // 30 days after 28 Feb 2027 is 30 March, still NZDT (summer time ends 4 April 2027)
    expect(securedUntil).toEqual(d('2027-03-29T11:00:00Z'));
    expect(progressOf(ladder, { current: 'gold', metricInWindow: 7300n, window, securedUntil })).toEqual({
      tier: 'gold', metric: 7300n, window, nextTier: 'vip', missing: 12_700n, missingToKeep: 0n, securedUntil: d('2027-03-29T11:00:00Z'),
    });
  });
});
