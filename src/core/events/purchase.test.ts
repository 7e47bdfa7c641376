// The money of a purchase and the points it earns: integers, rounded down, on what was paid in money.
import { describe, expect, it } from 'vitest';
import { goodsOf, lineNet, orderTotal, purchasePoints, type PurchaseLine } from './purchase.js';
import { DEFAULT_EARNING, pointsFor, validateEarning } from './rate.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n): PurchaseLine => ({ sku, category: null, quantity, unitPrice, discount });
const perEuro = { points: 1n, perMinor: 100n };
// 2 × €12.50, and 1 × €9.99 with €1.00 off
const basket = [line('LATTE-L', 2n, 1250n), line('BEANS-1KG', 1n, 999n, 100n)];

describe('a purchase', () => {
  it('costs Σ(quantity × unitPrice − discount): 2 × 1250 + 999 − 100 = 3399', () => {
    expect(lineNet(basket[0]!)).toBe(2500n);
    expect(lineNet(basket[1]!)).toBe(899n);
    expect(goodsOf(basket)).toBe(3399n);
    expect(orderTotal(basket, 0n)).toBe(3399n);
  });

  it('earns floor(total × points / perMinor): €33.99 at 1 point per euro is 33 points', () => {
    expect(purchasePoints(3399n, perEuro)).toBe(33n);
  });

  it('earns nothing on the part paid with points: €10 of €33.99 leaves 2399, 23 points', () => {
    expect(orderTotal(basket, 1000n)).toBe(2399n);
    expect(purchasePoints(orderTotal(basket, 1000n), perEuro)).toBe(23n);
  });

  it('rounds down, never up, at any rate', () => {
    expect(pointsFor(99n, perEuro)).toBe(0n);
    expect(pointsFor(100n, perEuro)).toBe(1n);
    // 3 points per €2.50: €10.00 is 4 × 2.50 → 12; €9.99 is 3 full steps (7.50) and 2.49 → floor(11.988) = 11
    expect(pointsFor(1000n, { points: 3n, perMinor: 250n })).toBe(12n);
    expect(pointsFor(999n, { points: 3n, perMinor: 250n })).toBe(11n);
    expect(pointsFor(0n, perEuro)).toBe(0n);
    expect(pointsFor(5000n, { points: 0n, perMinor: 1n })).toBe(0n);
  });

  it('stays exact far beyond float precision', () => {
    // 10^12 minor units at 999_999 points per 7: a float would lose the last digits
    expect(pointsFor(1_000_000_000_000n, { points: 999_999n, perMinor: 7n })).toBe(142_857_000_000_000_000n);
  });
});

describe('earning settings', () => {
  it('default to 1 point per 100 minor units and no custom actions', () => {
    expect(validateEarning({})).toEqual(DEFAULT_EARNING);
  });

  it('take integers and name the bad field', () => {
    expect(validateEarning({ basePoints: 2, basePerMinor: 50, customActionPoints: { review: 50 } }))
      .toEqual({ basePoints: 2n, basePerMinor: 50n, customActionPoints: { review: 50n } });
    expect(() => validateEarning({ basePerMinor: 0 })).toThrow(expect.objectContaining({ field: 'basePerMinor' }));
    expect(() => validateEarning({ basePoints: 1.5 })).toThrow(expect.objectContaining({ field: 'basePoints' }));
    expect(() => validateEarning({ customActionPoints: { purchase: 5 } })).toThrow(expect.objectContaining({ field: 'customActionPoints.purchase' }));
    expect(() => validateEarning({ customActionPoints: { 'Bad Name': 5 } })).toThrow(expect.objectContaining({ field: 'customActionPoints.Bad Name' }));
    expect(() => validateEarning({ customActionPoints: { review: -1 } })).toThrow(expect.objectContaining({ field: 'customActionPoints.review' }));
  });
});
