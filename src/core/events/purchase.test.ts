// The money of a purchase: integers, on what was paid in money. What it earns is the rules' business (core/rules).
import { describe, expect, it } from 'vitest';
import { goodsOf, lineNet, orderTotal, type PurchaseLine } from './purchase.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n): PurchaseLine => ({ sku, category: null, quantity, unitPrice, discount });
// 2 × €12.50, and 1 × €9.99 with €1.00 off
const basket = [line('LATTE-L', 2n, 1250n), line('BEANS-1KG', 1n, 999n, 100n)];

describe('a purchase', () => {
  it('costs Σ(quantity × unitPrice − discount): 2 × 1250 + 999 − 100 = 3399', () => {
    expect(lineNet(basket[0]!)).toBe(2500n);
    expect(lineNet(basket[1]!)).toBe(899n);
    expect(goodsOf(basket)).toBe(3399n);
    expect(orderTotal(basket, 0n)).toBe(3399n);
  });

  it('is paid in money for what points did not pay: €10 of €33.99 in points leaves 2399', () => {
    expect(orderTotal(basket, 1000n)).toBe(2399n);
    expect(orderTotal(basket, 3399n)).toBe(0n);
  });

  it('counts a free line and a fully discounted line as nothing', () => {
    expect(goodsOf([line('CUP', 3n, 0n), line('GIFT', 2n, 500n, 1000n)])).toBe(0n);
    expect(goodsOf([])).toBe(0n);
  });

  it('stays exact far beyond float precision', () => {
    // 10^6 units at 10^6 − 1 minor units, less 1: a float would lose the last digit
    expect(lineNet(line('BULK', 1_000_000n, 999_999n, 1n))).toBe(999_998_999_999n);
    expect(orderTotal([line('A', 1n, 1_000_000_000_000n), line('B', 1n, 1n)], 1n)).toBe(1_000_000_000_000n);
  });
});
