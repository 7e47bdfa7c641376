// RFM grading on populations small enough to compute by hand: quantile ranks, the 1..q scores,
// the weighted score truncated to hundredths and the grade it reaches.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { validateGrading, type RfmScheme, type RfmWeights } from './grading.js';
import { gradeByRfm, quantileScore, type RfmMember, type RfmResult } from './rfm.js';

// a ≥ 4.00, b ≥ 2.50, c ≥ 0 unless said otherwise
const ABC = [{ code: 'a', minScore: '4.0' }, { code: 'b', minScore: '2.5' }, { code: 'c', minScore: '0' }];
// grades any q from 2 up can hold
const LOW = [{ code: 'a', minScore: '2' }, { code: 'b', minScore: '1.5' }, { code: 'c', minScore: '0' }];
const scheme = (weights: RfmWeights = { recency: 1, frequency: 1, monetary: 1 }, quantiles = 5, grades: unknown[] = ABC): RfmScheme =>
  validateGrading({ kind: 'rfm', windowMonths: 12, quantiles, weights, grades }) as RfmScheme;

const member = (memberId: string, days: number | null, purchases: bigint, spend: bigint): RfmMember =>
  ({ memberId, daysSinceLastPurchase: days, purchases, spend });

// Ten buyers over the last 12 months. With n = 10 and q = 5 the score is floor(rank / 2) + 1:
// ranks 0-1 score 1, 2-3 score 2, 4-5 score 3, 6-7 score 4, 8-9 score 5.
const TEN: RfmMember[] = [
  member('m01', 3, 24n, 182_000n),
  member('m02', 10, 15n, 95_000n),
  member('m03', 10, 8n, 120_000n),
  member('m04', 25, 12n, 40_000n),
  member('m05', 40, 8n, 60_000n),
  member('m06', 60, 5n, 30_000n),
  member('m07', 90, 3n, 22_000n),
  member('m08', 150, 2n, 35_000n),
  member('m09', 200, 1n, 4_500n),
  member('m10', 330, 1n, 4_500n),
];

// Ranks, worst first, a tie taking the rank of the first of its run:
//  recency (days, most first): 330 m10 r0, 200 m09 r1, 150 m08 r2, 90 m07 r3, 60 m06 r4, 40 m05 r5,
//    25 m04 r6, 10 m02 m03 r7 (both), 3 m01 r9
//  frequency (purchases):      1 m09 m10 r0 (both), 2 m08 r2, 3 m07 r3, 5 m06 r4, 8 m03 m05 r5 (both),
//    12 m04 r7, 15 m02 r8, 24 m01 r9
//  monetary (spend):           4,500 m09 m10 r0 (both), 22,000 m07 r2, 30,000 m06 r3, 35,000 m08 r4,
//    40,000 m04 r5, 60,000 m05 r6, 95,000 m02 r7, 120,000 m03 r8, 182,000 m01 r9
// Equal weights: the score is (R + F + M) / 3, truncated to hundredths; a ≥ 4.00, b ≥ 2.50, c ≥ 0.
const EQUAL: [string, number, number, number, string, string][] = [
  // member, R, F, M, score, grade
  ['m01', 5, 5, 5, '5.00', 'a'],
  ['m02', 4, 5, 4, '4.33', 'a'], // 13 / 3
  ['m03', 4, 3, 5, '4.00', 'a'], // exactly on the boundary: a grade's minScore is reached, not exceeded
  ['m04', 4, 4, 3, '3.66', 'b'], // 11 / 3 = 3.666…: truncated, not rounded to 3.67
  ['m05', 3, 3, 4, '3.33', 'b'],
  ['m06', 3, 3, 2, '2.66', 'b'],
  ['m07', 2, 2, 2, '2.00', 'c'],
  ['m08', 2, 2, 3, '2.33', 'c'],
  ['m09', 1, 1, 1, '1.00', 'c'],
  ['m10', 1, 1, 1, '1.00', 'c'],
];

const row = ([memberId, recency, frequency, monetary, score, grade]: [string, number, number, number, string, string]): RfmResult =>
  ({ memberId, recency, frequency, monetary, score, grade });

describe('quantileScore', () => {
  // rank, n, q, score: floor(rank × q / n) + 1
  it.each([
    [0, 10, 5, 1], [1, 10, 5, 1], [2, 10, 5, 2], [9, 10, 5, 5],
    [0, 1, 5, 1], // a sole member
    [0, 3, 5, 1], [1, 3, 5, 2], [2, 3, 5, 4], // fewer members than quantiles: 5/3 → 1, 10/3 → 3, so some scores are skipped
    [7, 8, 5, 5], [4, 8, 5, 3], [3, 8, 5, 2], // 35/8 = 4.375, 20/8 = 2.5, 15/8 = 1.875
    [999_999, 1_000_000, 10, 10], [99_999, 1_000_000, 10, 1], [100_000, 1_000_000, 10, 2],
  ])('rank %i of %i in %i quantiles scores %i', (rank, n, q, expected) => {
    expect(quantileScore(rank, n, q)).toBe(expected);
  });
});

describe('gradeByRfm on ten members', () => {
  it('scores and grades them as computed by hand, with equal weights', () => {
    expect(gradeByRfm(scheme(), TEN)).toEqual(EQUAL.map(row));
  });

  // Monetary only: the grade is M alone. m05 (M 4) rises to a, m06 (M 2) falls to c, m08 (M 3) rises to b.
  it('weights change the outcome: monetary only', () => {
    const grades = gradeByRfm(scheme({ recency: 0, frequency: 0, monetary: 1 }), TEN).map((r) => [r.memberId, r.score, r.grade]);
    expect(grades).toEqual([
      ['m01', '5.00', 'a'], ['m02', '4.00', 'a'], ['m03', '5.00', 'a'], ['m04', '3.00', 'b'], ['m05', '4.00', 'a'],
      ['m06', '2.00', 'c'], ['m07', '2.00', 'c'], ['m08', '3.00', 'b'], ['m09', '1.00', 'c'], ['m10', '1.00', 'c'],
    ]);
  });

  // (R + 2F) / 3: m03 (4 + 6) / 3 = 3.33 falls to b, m04 (4 + 8) / 3 = 4.00 rises to a, m02 (4 + 10) / 3 = 4.66 (truncated).
  it('weights change the outcome: frequency counting twice, monetary not at all', () => {
    const grades = gradeByRfm(scheme({ recency: 1, frequency: 2, monetary: 0 }), TEN).map((r) => [r.memberId, r.score, r.grade]);
    expect(grades).toEqual([
      ['m01', '5.00', 'a'], ['m02', '4.66', 'a'], ['m03', '3.33', 'b'], ['m04', '4.00', 'a'], ['m05', '3.00', 'b'],
      ['m06', '3.00', 'b'], ['m07', '2.00', 'c'], ['m08', '2.00', 'c'], ['m09', '1.00', 'c'], ['m10', '1.00', 'c'],
    ]);
  });

  // The same buyers with two members who bought nothing in the window: they score 1, 1, 1 and are
  // not ranked, so the buyers' scores stay exactly as they were (n is still 10).
  it('scores members without a purchase in the window 1, 1, 1, leaving the buyers as they were', () => {
    const population = [...TEN, member('m11', null, 0n, 0n), member('m12', null, 0n, 0n)];
    expect(gradeByRfm(scheme(), population)).toEqual([
      ...EQUAL.map(row),
      row(['m11', 1, 1, 1, '1.00', 'c']),
      row(['m12', 1, 1, 1, '1.00', 'c']),
    ]);
  });

  it('sorts the result by memberId, whatever the order given', () => {
    expect(gradeByRfm(scheme(), [...TEN].reverse()).map((r) => r.memberId)).toEqual(TEN.map((m) => m.memberId));
  });
});

describe('gradeByRfm with ties', () => {
  // Four buyers, four quantiles: score = rank + 1. Spend 10, 20, 20, 30 has ranks 0, 1, 1, 3: the two
  // 20s both score 2 (not 2 and 3, which would depend on the input order), and 30 keeps its 4.
  it('gives equal values the score of the first of them, and the next value its own rank', () => {
    const population = [
      member('w', 5, 1n, 10n), member('x', 5, 1n, 20n), member('y', 5, 1n, 20n), member('z', 5, 1n, 30n),
    ];
    const results = gradeByRfm(scheme({ recency: 0, frequency: 0, monetary: 1 }, 4), population);
    expect(results.map((r) => [r.memberId, r.monetary])).toEqual([['w', 1], ['x', 2], ['y', 2], ['z', 4]]);
    // everyone bought once, 5 days ago: all tied at rank 0
    expect(results.map((r) => [r.recency, r.frequency])).toEqual([[1, 1], [1, 1], [1, 1], [1, 1]]);
  });

  it('scores a population of equals 1 on every dimension: a tie never lifts anyone', () => {
    const population = ['a', 'b', 'c', 'd', 'e'].map((id) => member(id, 7, 3n, 5_000n));
    expect(gradeByRfm(scheme(), population).map((r) => [r.recency, r.frequency, r.monetary, r.score, r.grade]))
      .toEqual(Array(5).fill([1, 1, 1, '1.00', 'c']));
  });
});

describe('gradeByRfm at the edges', () => {
  it('grades nobody in an empty population', () => {
    expect(gradeByRfm(scheme(), [])).toEqual([]);
  });

  // Nobody bought in the window: nobody is ranked and everyone takes the lowest scores.
  it('scores everyone 1 when nobody purchased in the window', () => {
    const population = [member('a', null, 0n, 0n), member('b', null, 0n, 0n)];
    expect(gradeByRfm(scheme(), population)).toEqual([row(['a', 1, 1, 1, '1.00', 'c']), row(['b', 1, 1, 1, '1.00', 'c'])]);
  });

  // n = 1: rank 0, floor(0 × 5 / 1) + 1 = 1. With nobody to be better than, the sole buyer scores
  // the same as someone who bought nothing.
  it('scores a sole buyer 1 on every dimension', () => {
    expect(gradeByRfm(scheme(), [member('solo', 1, 50n, 1_000_000n)])).toEqual([row(['solo', 1, 1, 1, '1.00', 'c'])]);
  });

  // The one grade starts at 0, and a grade whose minScore is exactly q is only for a 5, 5, 5.
  it('uses the lowest grade as a floor and reaches a top grade at exactly q', () => {
    const top = validateGrading({
      kind: 'rfm', windowMonths: 6, quantiles: 5, weights: { recency: 1, frequency: 1, monetary: 1 },
      grades: [{ code: 'star', minScore: 5 }, { code: 'rest', minScore: 0 }],
    }) as RfmScheme;
    const results = gradeByRfm(top, TEN);
    expect(results.filter((r) => r.grade === 'star').map((r) => r.memberId)).toEqual(['m01']);
  });

  it.each([
    ['a member twice', [member('a', 1, 1n, 1n), member('a', 2, 1n, 1n)], 'population[1].memberId'],
    ['an empty memberId', [member('', 1, 1n, 1n)], 'population[0].memberId'],
    ['negative purchases', [member('a', 1, -1n, 1n)], 'population[0].purchases'],
    ['purchases as a number', [{ memberId: 'a', daysSinceLastPurchase: 1, purchases: 1, spend: 1n } as unknown as RfmMember], 'population[0].purchases'],
    ['negative days', [member('a', -1, 1n, 1n)], 'population[0].daysSinceLastPurchase'],
    ['fractional days', [member('a', 1.5, 1n, 1n)], 'population[0].daysSinceLastPurchase'],
    ['purchases without a last purchase', [member('a', null, 2n, 1n)], 'population[0].daysSinceLastPurchase'],
    ['a last purchase without purchases', [member('a', 3, 0n, 0n)], 'population[0].daysSinceLastPurchase'],
  ])('refuses %s, naming %s', (_, population, field) => {
    expect(() => gradeByRfm(scheme(), population)).toThrow(DomainError);
    expect(() => gradeByRfm(scheme(), population)).toThrow(expect.objectContaining({ code: 'validation', field }));
  });
});

describe('gradeByRfm properties', () => {
  // Small value ranges so that ties are common; ids made unique by their position.
  const population = fc.array(
    fc.record({
      active: fc.boolean(),
      days: fc.integer({ min: 0, max: 20 }),
      purchases: fc.bigInt({ min: 1n, max: 6n }),
      spend: fc.bigInt({ min: 0n, max: 8n }),
    }),
    { maxLength: 30 },
  ).map((rows) => rows.map((r, i) => (r.active ? member(`m${i}`, r.days, r.purchases, r.spend) : member(`m${i}`, null, 0n, 0n))));
  const anyScheme = fc.record({
    weights: fc.record({ recency: fc.integer({ min: 0, max: 5 }), frequency: fc.integer({ min: 0, max: 5 }), monetary: fc.integer({ min: 1, max: 5 }) }),
    quantiles: fc.integer({ min: 2, max: 10 }),
  }).map(({ weights, quantiles }) => scheme(weights, quantiles, LOW));

  it('does not depend on the order of the population', () => {
    fc.assert(fc.property(
      anyScheme,
      population.chain((p) => fc.tuple(fc.constant(p), fc.shuffledSubarray(p, { minLength: p.length, maxLength: p.length }))),
      (s, [p, shuffled]) => {
        expect(gradeByRfm(s, shuffled)).toEqual(gradeByRfm(s, p));
      },
    ), { numRuns: 300 });
  });

  it('scores 1..q, never lower for a better value, equally for equal values', () => {
    fc.assert(fc.property(anyScheme, population, (s, p) => {
      const results = new Map(gradeByRfm(s, p).map((r) => [r.memberId, r]));
      for (const a of p) {
        const ra = results.get(a.memberId)!;
        for (const score of [ra.recency, ra.frequency, ra.monetary]) expect(score >= 1 && score <= s.quantiles).toBe(true);
        if (a.daysSinceLastPurchase === null) expect([ra.recency, ra.frequency, ra.monetary]).toEqual([1, 1, 1]);
        for (const b of p) {
          if (a.daysSinceLastPurchase === null || b.daysSinceLastPurchase === null) continue;
          const rb = results.get(b.memberId)!;
          if (a.daysSinceLastPurchase < b.daysSinceLastPurchase) expect(ra.recency).toBeGreaterThanOrEqual(rb.recency);
          if (a.daysSinceLastPurchase === b.daysSinceLastPurchase) expect(ra.recency).toBe(rb.recency);
          if (a.purchases > b.purchases) expect(ra.frequency).toBeGreaterThanOrEqual(rb.frequency);
          if (a.purchases === b.purchases) expect(ra.frequency).toBe(rb.frequency);
          if (a.spend > b.spend) expect(ra.monetary).toBeGreaterThanOrEqual(rb.monetary);
          if (a.spend === b.spend) expect(ra.monetary).toBe(rb.monetary);
        }
      }
    }), { numRuns: 200 });
  });

  // The best buyer on a dimension, when no one equals them, has rank n - 1: floor((n - 1) q / n) + 1 = q once n ≥ q.
  it('gives the top score q to a unique best buyer once there are at least q buyers', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 0, max: 20 }), (q, extra) => {
      const n = q + extra;
      const p = Array.from({ length: n }, (_, i) => member(`m${String(i).padStart(2, '0')}`, n - i, BigInt(i + 1), BigInt(i * 100)));
      const best = gradeByRfm(scheme({ recency: 1, frequency: 1, monetary: 1 }, q, LOW), p).find((r) => r.memberId === p[n - 1]!.memberId)!;
      expect([best.recency, best.frequency, best.monetary]).toEqual([q, q, q]);
    }));
  });
});
