// Points are rounded in one place, with an explicit mode; multipliers and percentages are exact ratios.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { divide, parseDecimal, show, type Ratio, type RoundingMode } from './money.js';

const ratio = (numerator: bigint, denominator: bigint): Ratio => ({ numerator, denominator });
const ONE = ratio(1n, 1n);
const HUNDRED = ratio(100n, 1n);

describe('divide', () => {
  // numerator, denominator, down, half_up, up
  const table: [bigint, bigint, bigint, bigint, bigint][] = [
    [12_345n, 100n, 123n, 123n, 124n], // €123.45 at 1 point per euro
    [12_350n, 100n, 123n, 124n, 124n], // an exact half goes up with half_up
    [12_349n, 100n, 123n, 123n, 124n], // just under a half does not
    [12_300n, 100n, 123n, 123n, 123n], // exact: every mode agrees
    [150n, 100n, 1n, 2n, 2n],
    [250n, 100n, 2n, 3n, 3n], // half_up, not banker's rounding: 2.5 → 3
    [5n, 2n, 2n, 3n, 3n], // odd denominator: r × 2 == d
    [1n, 3n, 0n, 0n, 1n],
    [2n, 3n, 0n, 1n, 1n],
    [99n, 100n, 0n, 1n, 1n],
    [49n, 100n, 0n, 0n, 1n],
    [1n, 1_000_000_000n, 0n, 0n, 1n],
    [0n, 7n, 0n, 0n, 0n],
    [-5n, 7n, 0n, 0n, 0n], // nothing negative is ever earned
    [10n ** 24n + 1n, 10n ** 12n, 10n ** 12n, 10n ** 12n, 10n ** 12n + 1n], // beyond float precision
  ];
  it.each(table)('%s / %s: down %s, half_up %s, up %s', (n, d, down, halfUp, up) => {
    const got = (mode: RoundingMode) => divide(n, d, mode);
    expect([got('down'), got('half_up'), got('up')]).toEqual([down, halfUp, up]);
  });
});

describe('parseDecimal', () => {
  const accepted: [unknown, Ratio, string][] = [
    [2, ratio(2n, 1n), '2'],
    ['2', ratio(2n, 1n), '2'],
    ['1.5', ratio(15n, 10n), '1.5'],
    [1.5, ratio(15n, 10n), '1.5'],
    [1.25, ratio(125n, 100n), '1.25'],
    ['1.50', ratio(150n, 100n), '1.5'],
    ['2.0625', ratio(20_625n, 10_000n), '2.0625'],
    [100, ratio(100n, 1n), '100'],
    [1, ratio(1n, 1n), '1'],
  ];
  it.each(accepted)('reads %o as an exact ratio', (value, expected, shown) => {
    const r = parseDecimal(value, 'effect.factor', ONE, HUNDRED);
    expect(r).toEqual(expected);
    expect(show(r)).toBe(shown);
  });

  const refused: [unknown, RegExp][] = [
    ['1.23456', /at most 4 decimals/],
    [1.23456, /at most 4 decimals/],
    [-1, /decimal number/],
    ['-1', /decimal number/],
    ['abc', /decimal number/],
    ['', /decimal number/],
    ['1.', /decimal number/],
    ['.5', /decimal number/],
    [' 2', /decimal number/],
    ['1e2', /decimal number/],
    [1e21, /decimal number/],
    [Number.NaN, /decimal number/],
    [Number.POSITIVE_INFINITY, /decimal number/],
    [null, /decimal number/],
    [undefined, /decimal number/],
    [true, /decimal number/],
    [2n, /decimal number/],
    [[2], /decimal number/],
    [0.5, /from 1 to 100/], // below min
    ['0.9999', /from 1 to 100/],
    [101, /from 1 to 100/], // above max
    ['100.0001', /from 1 to 100/],
  ];
  it.each(refused)('refuses %o, naming the field', (value, message) => {
    let error: unknown;
    try {
      parseDecimal(value, 'effect.tiers.gold', ONE, HUNDRED);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'validation', field: 'effect.tiers.gold' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('effect.tiers.gold');
  });

  it('keeps the bounds inclusive and shows fractional bounds in the message', () => {
    const p = (v: unknown) => parseDecimal(v, 'effect.probability', ratio(0n, 1n), ONE);
    expect(p(0)).toEqual(ratio(0n, 1n));
    expect(p('1')).toEqual(ONE);
    expect(p('0.25')).toEqual(ratio(25n, 100n));
    expect(() => p('1.0001')).toThrow(/effect\.probability must be from 0 to 1$/);
    expect(() => parseDecimal(3, 'f', ratio(5n, 10n), ratio(25n, 10n))).toThrow(/^f must be from 0\.5 to 2\.5$/);
  });
});

describe('show', () => {
  it.each([
    [ratio(3n, 1n), '3'], [ratio(15n, 10n), '1.5'], [ratio(105n, 100n), '1.05'], [ratio(20_625n, 10_000n), '2.0625'],
    [ratio(0n, 1n), '0'], [ratio(5n, 100n), '0.05'], [ratio(200n, 100n), '2'],
  ])('%o reads %s', (r, text) => {
    expect(show(r)).toBe(text);
  });
});
