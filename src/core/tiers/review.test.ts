// Up at once, down slowly: activity only lifts a member, a review lowers one by one level at most,
// after the grace; the first tier is the floor.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { rankOf, validateLadder, type TierLadder } from './ladder.js';
import { decideOnActivity, decideReview, tierFor, upgradeBonus } from './review.js';

const d = (iso: string) => new Date(iso);
const PARIS = 'Europe/Paris';

function ladderWith(over: Record<string, unknown> = {}): TierLadder {
  return validateLadder({
    metric: 'points', window: { kind: 'calendar_year' }, review: { kind: 'period_end' }, graceDays: 0,
    tiers: [
      { code: 'member', name: 'Member', threshold: 0 },
      { code: 'silver', name: 'Silver', threshold: 1000, benefits: { upgradeBonus: 100 } },
      { code: 'gold', name: 'Gold', threshold: 5000, benefits: { upgradeBonus: 500 } },
      { code: 'vip', name: 'VIP', threshold: 20_000, benefits: { upgradeBonus: 2000 } },
    ],
    ...over,
  });
}
const LADDER = ladderWith();
const GRACE = ladderWith({ graceDays: 90 });

describe('tierFor', () => {
  const table: [bigint, string][] = [
    [-50n, 'member'], // returns outweighing the window's activity: still the first tier
    [0n, 'member'],
    [999n, 'member'],
    [1000n, 'silver'], // the threshold itself qualifies
    [4999n, 'silver'],
    [5000n, 'gold'],
    [19_999n, 'gold'],
    [20_000n, 'vip'],
    [1_000_000_000_000n, 'vip'],
  ];
  it.each(table)('metric %s: %s', (metric, code) => {
    expect(tierFor(LADDER, metric).code).toBe(code);
  });
});

describe('decideOnActivity', () => {
  it.each([
    // several levels at once, with the bonus of every tier climbed: 100 + 500 + 2000
    ['member', 25_000n, { from: 'member', tier: 'vip', reason: 'upgrade: metric 25000 ≥ 20000 (vip)', bonus: 2600n }],
    ['member', 5200n, { from: 'member', tier: 'gold', reason: 'upgrade: metric 5200 ≥ 5000 (gold)', bonus: 600n }],
    ['member', 1000n, { from: 'member', tier: 'silver', reason: 'upgrade: metric 1000 ≥ 1000 (silver)', bonus: 100n }],
    ['silver', 5000n, { from: 'silver', tier: 'gold', reason: 'upgrade: metric 5000 ≥ 5000 (gold)', bonus: 500n }],
    ['gold', 20_001n, { from: 'gold', tier: 'vip', reason: 'upgrade: metric 20001 ≥ 20000 (vip)', bonus: 2000n }],
  ] as const)('%s at %s: up', (current, metric, upgrade) => {
    expect(decideOnActivity(LADDER, current, metric)).toEqual(upgrade);
  });

  it.each([
    ['gold', 5200n], // still gold
    ['member', 999n],
    ['vip', 1_000_000n], // at the top
    // a return leaving 1200 of a gold member's 5200: counted at the next review, never now
    ['gold', 1200n],
    ['vip', 0n],
    ['silver', -300n],
  ] as const)('%s at %s: no change, never down', (current, metric) => {
    expect(decideOnActivity(LADDER, current, metric)).toBeNull();
  });

  it('refuses a current tier the ladder does not have, naming current', () => {
    expect(() => decideOnActivity(LADDER, 'platinum', 10n)).toThrow(DomainError);
    expect(() => decideOnActivity(LADDER, 'platinum', 10n)).toThrow(expect.objectContaining({ field: 'current' }));
  });
});

describe('upgradeBonus', () => {
  it('sums the bonuses of the tiers climbed, so skipping a level pays what climbing it would', () => {
    expect(upgradeBonus(LADDER, 'member', 'gold')).toBe(upgradeBonus(LADDER, 'member', 'silver') + upgradeBonus(LADDER, 'silver', 'gold'));
    expect(upgradeBonus(LADDER, 'gold', 'gold')).toBe(0n);
  });
});

describe('decideReview without a grace', () => {
  const now = d('2026-12-31T23:00:00Z'); // 1 Jan 2027 00:00 CET
  // current, metric, tier, change, reason
  const table: [string, bigint, string, string, string][] = [
    ['gold', 6000n, 'gold', 'kept', 'review: kept (metric 6000 ≥ 5000)'],
    ['gold', 5000n, 'gold', 'kept', 'review: kept (metric 5000 ≥ 5000)'],
    ['gold', 4999n, 'silver', 'down', 'review: down one level (metric 4999 < 5000)'],
    // nothing at all in the year: still one level only
    ['vip', 0n, 'gold', 'down', 'review: down one level (metric 0 < 20000)'],
    ['silver', 0n, 'member', 'down', 'review: down one level (metric 0 < 1000)'],
    ['silver', -300n, 'member', 'down', 'review: down one level (metric -300 < 1000)'],
    ['member', 0n, 'member', 'kept', 'review: kept (metric 0 ≥ 0)'],
    // never below the first tier, even when returns drove the metric below 0
    ['member', -300n, 'member', 'kept', 'review: kept (first tier)'],
    // a review that finds a higher tier reached (an upgrade missed, a ladder lowered) lifts at once
    ['silver', 25_000n, 'vip', 'up', 'upgrade: metric 25000 ≥ 20000 (vip)'],
  ];
  it.each(table)('%s at %s: %s (%s)', (current, metric, tier, change, reason) => {
    const decision = decideReview(LADDER, { current, metricInWindow: metric, graceUntil: null, now, timeZone: PARIS });
    expect(decision).toEqual({ tier, change, reason, graceUntil: null, bonus: change === 'up' ? 2500n : 0n });
  });

  it('a member who stops altogether goes down one level a year: vip, gold, silver, member, member', () => {
    const reviews = ['2026-12-31T23:00:00Z', '2027-12-31T23:00:00Z', '2028-12-31T23:00:00Z', '2029-12-31T23:00:00Z'];
    const tiers: string[] = [];
    let current = 'vip';
    for (const at of reviews) {
      current = decideReview(LADDER, { current, metricInWindow: 0n, graceUntil: null, now: d(at), timeZone: PARIS }).tier;
      tiers.push(current);
    }
    expect(tiers).toEqual(['gold', 'silver', 'member', 'member']);
  });

  it('a return that undoes qualifying activity is counted at the review, not before', () => {
    // gold at 5200 in 2026; a return leaves 4200: no change on the return, down one at the review
    expect(decideOnActivity(LADDER, 'gold', 4200n)).toBeNull();
    expect(decideReview(LADDER, { current: 'gold', metricInWindow: 4200n, graceUntil: null, now, timeZone: PARIS }).tier).toBe('silver');
  });
});

describe('decideReview with a 90-day grace', () => {
  const review = d('2026-12-31T23:00:00Z'); // 1 Jan 2027 00:00 CET
  // 1 January + 90 calendar days is 1 April, 00:00 CEST (summer time since 28 March): 31 Mar 22:00 UTC.
  // 90 × 24 h would be 31 Mar 23:00 UTC, 01:00 local: the grace counts days of the tenant's calendar.
  const graceEnd = d('2027-03-31T22:00:00Z');

  it('keeps the tier at the first review below it, and starts the grace', () => {
    expect(decideReview(GRACE, { current: 'gold', metricInWindow: 1200n, graceUntil: null, now: review, timeZone: PARIS })).toEqual({
      tier: 'gold', change: 'kept', reason: 'review: grace until 2027-04-01T00:00:00+02:00 (metric 1200 < 5000)', graceUntil: graceEnd, bonus: 0n,
    });
  });

  it('keeps it at a review during the grace, with the same end', () => {
    expect(decideReview(GRACE, { current: 'gold', metricInWindow: 1200n, graceUntil: graceEnd, now: d('2027-02-01T00:00:00Z'), timeZone: PARIS })).toEqual({
      tier: 'gold', change: 'kept', reason: 'review: in grace until 2027-04-01T00:00:00+02:00 (metric 1200 < 5000)', graceUntil: graceEnd, bonus: 0n,
    });
  });

  it('moves down one level at the next review once the grace has ended', () => {
    expect(decideReview(GRACE, { current: 'gold', metricInWindow: 1200n, graceUntil: graceEnd, now: graceEnd, timeZone: PARIS })).toEqual({
      tier: 'silver', change: 'down', reason: 'review: down one level (metric 1200 < 5000)', graceUntil: null, bonus: 0n,
    });
  });

  it('ends the grace when the member has requalified by then', () => {
    expect(decideReview(GRACE, { current: 'gold', metricInWindow: 5100n, graceUntil: graceEnd, now: graceEnd, timeZone: PARIS })).toEqual({
      tier: 'gold', change: 'kept', reason: 'review: kept (metric 5100 ≥ 5000)', graceUntil: null, bonus: 0n,
    });
  });

  it('counts days in UTC when no zone is given', () => {
    expect(decideReview(GRACE, { current: 'gold', metricInWindow: 1200n, graceUntil: null, now: review }).graceUntil).toEqual(d('2027-03-31T23:00:00Z'));
  });

  it('honours a grace already given after the ladder dropped its grace', () => {
    expect(decideReview(LADDER, { current: 'gold', metricInWindow: 1200n, graceUntil: graceEnd, now: review, timeZone: PARIS }).tier).toBe('gold');
  });

  it('gives each level its own grace: gold, grace, silver, grace, member', () => {
    // reviews at 1 January and at the end of each grace (nextReviewAt with graceUntil); nothing earned
    const steps: [string, string][] = [
      ['2026-12-31T23:00:00Z', 'gold'], // grace until 1 Apr 2027
      ['2027-03-31T22:00:00Z', 'silver'],
      ['2027-12-31T23:00:00Z', 'silver'], // grace until 31 Mar 2028 (a leap year: 1 Jan + 90 days)
      ['2028-03-30T22:00:00Z', 'member'],
    ];
    let current = 'gold';
    let graceUntil: Date | null = null;
    const got: string[] = [];
    for (const [at] of steps) {
      const r = decideReview(GRACE, { current, metricInWindow: 0n, graceUntil, now: d(at), timeZone: PARIS });
      current = r.tier;
      graceUntil = r.graceUntil;
      got.push(current);
    }
    expect(got).toEqual(steps.map(([, tier]) => tier));
  });
});

describe('property: up at any time, down only at a review and one level at most', () => {
  const ladderArb = fc.record({
    steps: fc.array(fc.bigInt({ min: 1n, max: 10_000n }), { minLength: 0, maxLength: 7 }),
    graceDays: fc.integer({ min: 0, max: 400 }),
    window: fc.constantFrom({ kind: 'calendar_year' }, { kind: 'rolling_months', months: 12 }, { kind: 'lifetime' }),
  }).map(({ steps, graceDays, window }) => {
    let threshold = 0n;
    const tiers = [{ code: 't0', name: 'T0', threshold: 0n }];
    steps.forEach((s, i) => tiers.push({ code: `t${i + 1}`, name: `T${i + 1}`, threshold: (threshold += s) }));
    return validateLadder({ metric: 'points', window, graceDays, tiers });
  });
  const stepArb = fc.record({
    metric: fc.bigInt({ min: -5_000n, max: 80_000n }),
    review: fc.boolean(),
    days: fc.integer({ min: 0, max: 400 }),
  });

  it('holds for any ladder and any sequence of activity and reviews', () => {
    fc.assert(fc.property(ladderArb, fc.nat({ max: 20 }), fc.array(stepArb, { maxLength: 40 }), (ladder, start, steps) => {
      // The oracle reads only the ladder's data (thresholds, grace days), none of its functions.
      const thresholds = ladder.tiers.map((t) => t.threshold);
      const reached = (metric: bigint) => thresholds.reduce((best, t, i) => (metric >= t ? i : best), 0);
      let rank = Math.min(start, ladder.tiers.length - 1);
      let graceUntil: Date | null = null;
      let now = new Date('2026-01-01T00:00:00Z');
      for (const step of steps) {
        now = new Date(now.getTime() + step.days * 86_400_000);
        const current = ladder.tiers[rank]!;
        if (!step.review) {
          // up at once to the highest tier reached (liveness: reaching a threshold lifts), never down
          const want = Math.max(rank, reached(step.metric));
          const up = decideOnActivity(ladder, current.code, step.metric);
          expect(up === null ? rank : rankOf(ladder, up.tier)).toBe(want);
          if (want > rank) graceUntil = null;
          rank = want;
          continue;
        }
        const r = decideReview(ladder, { current: current.code, metricInWindow: step.metric, graceUntil, now, timeZone: PARIS });
        const q = reached(step.metric);
        let want: { rank: number; graceUntil: Date | null; change: string };
        if (q >= rank) want = { rank: q, graceUntil: null, change: q > rank ? 'up' : 'kept' };
        else if (graceUntil !== null && now < graceUntil) want = { rank, graceUntil, change: 'kept' };
        else if (graceUntil === null && ladder.graceDays > 0) {
          want = { rank, graceUntil: DateTime.fromJSDate(now, { zone: PARIS }).plus({ days: ladder.graceDays }).toJSDate(), change: 'kept' };
        } else want = { rank: rank - 1, graceUntil: null, change: 'down' }; // liveness: below, after the grace, one level down
        expect({ rank: rankOf(ladder, r.tier), graceUntil: r.graceUntil, change: r.change }).toEqual(want);
        rank = want.rank;
        graceUntil = want.graceUntil;
      }
    }));
  });
});
