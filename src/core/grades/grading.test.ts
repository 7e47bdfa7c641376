// A grading scheme is checked before it is saved, and every problem names its field.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { scoreHundredths, showScore, validateGrading } from './grading.js';

const rfm = {
  kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 2, frequency: 1, monetary: 1 },
  grades: [{ code: 'a', minScore: '4.0' }, { code: 'b', minScore: '2.5' }, { code: 'c', minScore: '0' }],
};
const expression = {
  kind: 'expression',
  grades: [
    { code: 'a', condition: 'stats.spendLast12Months >= 100000' },
    { code: 'b', condition: 'stats.purchasesLast12Months >= 3' },
    { code: 'c', condition: 'true' },
  ],
};
const withRfm = (over: Record<string, unknown>) => ({ ...rfm, ...over });
const withExpression = (over: Record<string, unknown>) => ({ ...expression, ...over });
const minScores = (...scores: unknown[]) => withRfm({ grades: scores.map((minScore, i) => ({ code: `g${i}`, minScore })) });
const conditions = (...sources: unknown[]) => withExpression({ grades: sources.map((condition, i) => ({ code: `g${i}`, condition })) });

function refusal(attempt: () => unknown): DomainError {
  try {
    attempt();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('validateGrading refuses', () => {
  const bad: [string, unknown, string][] = [
    ['a scheme that is not an object', [rfm], 'grading'],
    ['a missing kind', { grades: rfm.grades }, 'kind'],
    ['an unknown kind', withRfm({ kind: 'clv' }), 'kind'],
    ['an unknown field', withRfm({ decay: 2 }), 'decay'],
    ['an RFM field on an expression scheme', withExpression({ quantiles: 5 }), 'quantiles'],
    ['a missing window', { ...rfm, windowMonths: undefined }, 'windowMonths'],
    ['a window of 0 months', withRfm({ windowMonths: 0 }), 'windowMonths'],
    ['a window beyond 10 years', withRfm({ windowMonths: 121 }), 'windowMonths'],
    ['a window of 1.5 months', withRfm({ windowMonths: 1.5 }), 'windowMonths'],
    ['a window as text', withRfm({ windowMonths: '12' }), 'windowMonths'],
    ['1 quantile: every score would be 1', withRfm({ quantiles: 1 }), 'quantiles'],
    ['11 quantiles', withRfm({ quantiles: 11 }), 'quantiles'],
    ['weights that are not an object', withRfm({ weights: [1, 1, 1] }), 'weights'],
    ['an unknown weight', withRfm({ weights: { recency: 1, frequency: 1, monetary: 1, tenure: 1 } }), 'weights.tenure'],
    ['a missing weight', withRfm({ weights: { recency: 1, frequency: 1 } }), 'weights.monetary'],
    ['a negative weight', withRfm({ weights: { recency: -1, frequency: 1, monetary: 1 } }), 'weights.recency'],
    ['a fractional weight', withRfm({ weights: { recency: 1, frequency: 0.5, monetary: 1 } }), 'weights.frequency'],
    ['a weight over 100', withRfm({ weights: { recency: 1, frequency: 1, monetary: 101 } }), 'weights.monetary'],
    ['all weights 0: no score to weigh', withRfm({ weights: { recency: 0, frequency: 0, monetary: 0 } }), 'weights'],
    ['grades that are not a list', withRfm({ grades: { a: 4 } }), 'grades'],
    ['no grades', withRfm({ grades: [] }), 'grades'],
    ['11 grades', minScores(...Array.from({ length: 11 }, (_, i) => String((10 - i) * 0.25))), 'grades'],
    ['a grade that is not an object', withRfm({ grades: ['a'] }), 'grades[0]'],
    ['an unknown grade field', withRfm({ grades: [{ code: 'a', minScore: '0', label: 'A' }] }), 'grades[0].label'],
    ['a condition on an RFM grade', withRfm({ grades: [{ code: 'a', minScore: '0', condition: 'true' }] }), 'grades[0].condition'],
    ['a missing code', withRfm({ grades: [{ minScore: '0' }] }), 'grades[0].code'],
    ['an upper-case code', withRfm({ grades: [{ code: 'A', minScore: '0' }] }), 'grades[0].code'],
    ['a code starting with a digit', withRfm({ grades: [{ code: '1st', minScore: '0' }] }), 'grades[0].code'],
    ['a code of 33 characters', withRfm({ grades: [{ code: 'a'.repeat(33), minScore: '0' }] }), 'grades[0].code'],
    ['a duplicate code', withRfm({ grades: [{ code: 'a', minScore: '3' }, { code: 'a', minScore: '0' }] }), 'grades[1].code'],
    ['a missing minScore', withRfm({ grades: [{ code: 'a' }] }), 'grades[0].minScore'],
    ['a minScore with 3 decimals', minScores('4.125', '0'), 'grades[0].minScore'],
    ['a negative minScore', minScores('3', '-1'), 'grades[1].minScore'],
    ['a minScore in words', minScores('four', '0'), 'grades[0].minScore'],
    ['a minScore in exponent form', minScores(1e-7, 0), 'grades[0].minScore'],
    ['a minScore above q (5)', minScores('5.01', '0'), 'grades[0].minScore'],
    ['minScores rising', minScores('2.5', '4', '0'), 'grades[1].minScore'],
    ['two grades at the same minScore', minScores('4', '4.00', '0'), 'grades[1].minScore'],
    ['a last minScore above 0: some members would have no grade', minScores('4', '2.5'), 'grades[1].minScore'],
    ['a condition that is not text', conditions(5), 'grades[0].condition'],
    ['a blank condition', conditions('stats.points > 0', ' '), 'grades[1].condition'],
    ['a missing condition', withExpression({ grades: [{ code: 'a' }] }), 'grades[0].condition'],
    ['a minScore on an expression grade', withExpression({ grades: [{ code: 'a', condition: 'true', minScore: '0' }] }), 'grades[0].minScore'],
    ['a condition with a NUL', conditions('true\0'), 'grades[0].condition'],
    ['a condition of 4001 characters', conditions(`${' '.repeat(3997)}true`), 'grades[0].condition'],
    ['a condition that does not parse', conditions('stats.purchases >=', 'true'), 'grades[0].condition'],
    ['a condition on an unknown stat', conditions('stats.purchases > 3', 'stats.visits > 3'), 'grades[1].condition'],
    ['a condition that is not a bool', conditions('stats.spend'), 'grades[0].condition'],
    ['a condition on a rule fact', conditions("member.tier == 'gold'"), 'grades[0].condition'],
    ['a true before the last grade: the ones after could never be given', conditions('true', 'stats.purchases > 0'), 'grades[0].condition'],
    ['a duplicate expression code', withExpression({ grades: [{ code: 'a', condition: 'stats.points > 0' }, { code: 'a', condition: 'true' }] }), 'grades[1].code'],
  ];
  it.each(bad)('%s, naming %s', (_, input, field) => {
    const e = refusal(() => validateGrading(input));
    expect(e.code).toBe('validation');
    expect(e.field).toBe(field);
  });
});

describe('validateGrading accepts', () => {
  it('an RFM scheme, normalising each minScore to two decimals', () => {
    expect(validateGrading(rfm)).toEqual({
      kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 2, frequency: 1, monetary: 1 },
      grades: [{ code: 'a', minScore: '4.00' }, { code: 'b', minScore: '2.50' }, { code: 'c', minScore: '0.00' }],
    });
  });

  it('minScores as JSON numbers, q itself, and a single grade for everyone', () => {
    expect(validateGrading(minScores(5, 3.75, 0.05, 0)).grades).toEqual([
      { code: 'g0', minScore: '5.00' }, { code: 'g1', minScore: '3.75' }, { code: 'g2', minScore: '0.05' }, { code: 'g3', minScore: '0.00' },
    ]);
    expect(validateGrading(minScores('0')).grades).toEqual([{ code: 'g0', minScore: '0.00' }]);
  });

  it('ten grades, weights of 0 beside one above, 10 quantiles and a 10-year window', () => {
    const scheme = validateGrading(withRfm({
      windowMonths: 120, quantiles: 10, weights: { recency: 0, frequency: 0, monetary: 100 },
      grades: Array.from({ length: 10 }, (_, i) => ({ code: `g${i}`, minScore: String(9 - i) })),
    }));
    expect(scheme).toMatchObject({ windowMonths: 120, quantiles: 10, weights: { recency: 0, frequency: 0, monetary: 100 } });
    expect(scheme.grades).toHaveLength(10);
  });

  it('an expression scheme as written', () => {
    expect(validateGrading(expression)).toEqual(expression);
  });

  it('an expression scheme that does not end with true: some members may have no grade', () => {
    expect(validateGrading(conditions('stats.points >= 1000', 'stats.daysSinceLastPurchase <= 90')).grades).toHaveLength(2);
  });
});

describe('validateGrading refuses bad CEL with its field and position', () => {
  // source, what the message says; each marks the position of the problem (a line with ^)
  it.each([
    ['stats.purchases >=', /Unexpected token/],
    ['(stats.purchases > 1', /./],
    ['stats.visits > 3', /No such key: visits/],
    ['member.tier == "gold"', /member/], // grades read stats only
    ["stats.spend >= '5000'", /no such overload/],
  ])('%s', (source, message) => {
    const e = refusal(() => validateGrading(conditions('stats.purchases > 10', source)));
    expect(e.field).toBe('grades[1].condition');
    expect(e.message).toMatch(/^grades\[1\]\.condition is not a valid CEL condition: /);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/\n\s*\^/);
  });

  it('refuses a condition that is not a bool, saying what it is', () => {
    expect(refusal(() => validateGrading(conditions('stats.spend + 1'))).message).toContain('grades[0].condition must be a bool expression, not int');
  });

  it('refuses matches(), whose regex could backtrack', () => {
    const e = refusal(() => validateGrading(conditions("string(stats.points).matches('^(1+)+$')")));
    expect(e.field).toBe('grades[0].condition');
    expect(e.message).toMatch(/may not use matches/);
  });
});

describe('scores in hundredths', () => {
  it.each([
    ['4', 400], ['4.0', 400], ['4.00', 400], ['2.5', 250], ['3.75', 375], ['0.05', 5], [0, 0], [2.5, 250], ['10', 1000],
  ])('%s is %i hundredths', (text, hundredths) => {
    expect(scoreHundredths(text, 'minScore')).toBe(hundredths);
  });

  it.each([['.5'], ['5.'], ['1,5'], ['-1'], [''], [null], ['100'], [' 4']])('refuses %s', (text) => {
    expect(refusal(() => scoreHundredths(text, 'minScore')).field).toBe('minScore');
  });

  it.each([[0, '0.00'], [5, '0.05'], [250, '2.50'], [366, '3.66'], [1000, '10.00']])('%i shows as %s', (hundredths, text) => {
    expect(showScore(hundredths)).toBe(text);
  });
});
