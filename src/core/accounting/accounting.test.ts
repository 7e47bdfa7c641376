import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allocate, reversalOf } from './allocation.js';
import { divRound, parseRate, ratio } from './arithmetic.js';
import { feeRecognised } from './fees.js';
import { recognise, rollForward, ZERO_STATE, type AccountingState } from './recognition.js';

const at = (s: Partial<AccountingState>): AccountingState => ({ ...ZERO_STATE, ...s });

describe('IFRS 15 Illustrative Example 52, in the core', () => {
  it('allocates 100,000 CU between goods and 10,000 points of SSP 9,500: 91,324 and 8,676', () => {
    const a = allocate(100_000n, 10_000n, { points: 1n, minor: 1n }, 9_500, 0n);
    expect(a.amount).toBe(8_676n);
    expect(100_000n - a.amount).toBe(91_324n);
    expect(a.sspMicro).toBe(9_500_000_000n);
  });

  it('recognises 4,110 in year 1 and 3,493 in year 2 after the estimate moves to 9,700', () => {
    const y1 = at({ allocations: 8_676n, issued: 10_000n, redeemed: 4_500n });
    const y2 = at({ allocations: 8_676n, issued: 10_000n, redeemed: 8_500n });
    const first = rollForward(ZERO_STATE, 9_500, y1, 9_500);
    expect(first.money).toMatchObject({ opening: 0n, issued: 8_676n, revenue: 4_110n, closing: 4_566n });
    const second = rollForward(y1, 9_500, y2, 9_700);
    expect(second.money).toMatchObject({ opening: 4_566n, revenue: 3_493n, closing: 1_073n, estimateChange: 85n });
    expect(recognise(y2, 9_700).total).toBe(7_603n);
  });
});

describe('allocation rounding', () => {
  it('never loses a unit: over many purchases the allocations stay within half a unit of the exact sum', () => {
    fc.assert(fc.property(fc.array(fc.record({ price: fc.bigInt(1n, 10_000_000n), points: fc.bigInt(1n, 100_000n) }), { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1, max: 10_000 }), (purchases, bps) => {
        let carry = 0n;
        let total = 0n;
        let exactMicro = 0n;
        for (const p of purchases) {
          const a = allocate(p.price, p.points, { points: 100n, minor: 37n }, bps, carry);
          expect(a.amount).toBeGreaterThanOrEqual(0n);
          expect(a.amount).toBeLessThanOrEqual(p.price);
          carry = a.carryMicro;
          total += a.amount;
          exactMicro += a.shareMicro;
        }
        // |total − exact| ≤ half a unit (the carry) — in millionths, exactly the carry
        expect(total * 1_000_000n + carry).toBe(exactMicro);
        expect(carry >= -500_000n && carry < 500_000n).toBe(true);
      }));
  });

  it('returns take back the allocation in proportion, all of it with the last point', () => {
    const alloc = { amount: 8_676n, points: 10_000n };
    const first = reversalOf(alloc, 0n, 3_333n, 0n);
    const second = reversalOf(alloc, 3_333n, 3_333n, first);
    const third = reversalOf(alloc, 6_666n, 3_334n, first + second);
    expect(first + second + third).toBe(8_676n);
  });
});

describe('arithmetic', () => {
  it('rounds halves up and reads rates with at most 4 decimals', () => {
    expect(divRound(5n, 2n)).toBe(3n);
    expect(divRound(-5n, 2n)).toBe(-2n);
    expect(parseRate('0.95', 'r')).toBe(9_500);
    expect(parseRate('1', 'r')).toBe(10_000);
    expect(() => parseRate('0.95001', 'r')).toThrow(/at most 4 decimals/);
    expect(() => parseRate('0', 'r')).toThrow(/above 0/);
    expect(ratio(4_500n, 10_000n)).toBe('0.45');
  });

  it('fees are recognised straight-line, whole at the end of their period', () => {
    const start = new Date('2027-01-01T00:00:00Z');
    const end = new Date('2028-01-01T00:00:00Z');
    expect(feeRecognised(12_000n, start, end, new Date('2026-12-01T00:00:00Z'))).toBe(0n);
    expect(feeRecognised(36_500n, start, end, new Date('2027-01-02T00:00:00Z'))).toBe(100n);
    expect(feeRecognised(12_000n, start, end, new Date('2029-01-01T00:00:00Z'))).toBe(12_000n);
  });
});
