// Grades by expression: the first condition over the member's stats that holds is the grade.
import { describe, expect, it } from 'vitest';
import { validateGrading, type ExpressionScheme } from './grading.js';
import { compileGradeCondition, gradeByExpression, NEVER_PURCHASED_DAYS, type GradeStats } from './expression.js';

const NONE: GradeStats = {
  purchases: 0n, spend: 0n, purchasesThisYear: 0n, spendThisYear: 0n, purchasesLast12Months: 0n, spendLast12Months: 0n,
  daysSinceLastPurchase: null, daysSinceEnrolment: 0n, points: 0n,
};
const stats = (over: Partial<GradeStats>): GradeStats => ({ ...NONE, ...over });

// vip before a: a member who qualifies for both is vip, because vip is listed first. A member who
// bought recently but little is b; everyone else is c.
const scheme = validateGrading({
  kind: 'expression',
  grades: [
    { code: 'vip', condition: 'stats.spendLast12Months >= 500000 && stats.points >= 10000' },
    { code: 'a', condition: 'stats.spendLast12Months >= 100000' },
    { code: 'b', condition: 'stats.daysSinceLastPurchase <= 90' },
    { code: 'c', condition: 'true' },
  ],
}) as ExpressionScheme;

describe('gradeByExpression', () => {
  it.each([
    ['a big spender with many points', stats({ spendLast12Months: 600_000n, points: 12_000n, daysSinceLastPurchase: 3n }), 'vip'],
    ['a big spender with few points: vip fails, a holds', stats({ spendLast12Months: 600_000n, points: 50n, daysSinceLastPurchase: 3n }), 'a'],
    ['exactly on the a boundary', stats({ spendLast12Months: 100_000n, daysSinceLastPurchase: 200n }), 'a'],
    ['one minor unit under it, but recent', stats({ spendLast12Months: 99_999n, daysSinceLastPurchase: 90n }), 'b'],
    ['under it and not recent', stats({ spendLast12Months: 99_999n, daysSinceLastPurchase: 91n }), 'c'],
    // never purchased: the condition sees a day count far in the past, so "<= 90" does not hold
    ['a member who never purchased', NONE, 'c'],
    ['lifetime spend does not count where the window is asked', stats({ spend: 10_000_000n, daysSinceLastPurchase: 400n }), 'c'],
  ])('%s is %s', (_, member, grade) => {
    expect(gradeByExpression(scheme, member)).toBe(grade);
  });

  it('gives no grade when no condition holds and the last is not true', () => {
    const partial = validateGrading({ kind: 'expression', grades: [{ code: 'loyal', condition: 'stats.purchasesThisYear >= 12' }] }) as ExpressionScheme;
    expect(gradeByExpression(partial, stats({ purchasesThisYear: 12n }))).toBe('loyal');
    expect(gradeByExpression(partial, stats({ purchasesThisYear: 11n }))).toBeNull();
  });

  // A run-time failure is false: the member falls through to the next grade, not out of grading.
  it('treats a condition that fails at run time as false', () => {
    const average = validateGrading({
      kind: 'expression',
      grades: [{ code: 'big_basket', condition: 'stats.spend / stats.purchases >= 5000' }, { code: 'other', condition: 'true' }],
    }) as ExpressionScheme;
    expect(gradeByExpression(average, stats({ spend: 10_000n, purchases: 2n }))).toBe('big_basket');
    expect(gradeByExpression(average, stats({ spend: 10_000n, purchases: 3n }))).toBe('other'); // 3,333
    expect(gradeByExpression(average, NONE)).toBe('other'); // 0 / 0
  });

  it('reads every stat it declares', () => {
    const every = [
      ['stats.purchases == 1', 'purchases'], ['stats.spend == 1', 'spend'], ['stats.purchasesThisYear == 1', 'purchasesThisYear'],
      ['stats.spendThisYear == 1', 'spendThisYear'], ['stats.purchasesLast12Months == 1', 'purchasesLast12Months'],
      ['stats.spendLast12Months == 1', 'spendLast12Months'], ['stats.daysSinceLastPurchase == 1', 'daysSinceLastPurchase'],
      ['stats.daysSinceEnrolment == 1', 'daysSinceEnrolment'], ['stats.points == 1', 'points'],
    ] as const;
    for (const [source, key] of every) {
      expect(compileGradeCondition(source)(stats({ [key]: 1n }))).toBe(true);
      expect(compileGradeCondition(source)(NONE)).toBe(false);
    }
    expect(compileGradeCondition(`stats.daysSinceLastPurchase == ${NEVER_PURCHASED_DAYS}`)(NONE)).toBe(true);
  });
});

describe('compileGradeCondition', () => {
  it('returns the same function for the same source, compiled once', () => {
    const a = compileGradeCondition('stats.points >= 3000');
    expect(compileGradeCondition('stats.points >= 3000')).toBe(a);
    expect(compileGradeCondition('stats.points >= 3001')).not.toBe(a);
  });

  it('reads the stats it is given each time', () => {
    const rich = compileGradeCondition('stats.points >= 3000');
    expect(rich(stats({ points: 3000n }))).toBe(true);
    expect(rich(stats({ points: 2999n }))).toBe(false);
  });
});
