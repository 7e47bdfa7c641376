// The money paid is spread over the lines, to the last minor unit; a return leaves a smaller basket.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PurchaseLine } from '../events/purchase.js';
import { allocate, basketOf, remainingBasket } from './basket.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n, category: string | null = null): PurchaseLine =>
  ({ sku, category, quantity, unitPrice, discount });
const sum = (xs: readonly bigint[]) => xs.reduce((s, x) => s + x, 0n);

describe('allocate', () => {
  const table: [bigint, bigint[], bigint[]][] = [
    [100n, [1n, 1n, 1n, 1n], [25n, 25n, 25n, 25n]], // exact
    [10n, [1n, 1n, 1n], [4n, 3n, 3n]], // a tie: the first line gets the unit left
    [11n, [1n, 1n, 1n], [4n, 4n, 3n]], // two units left: the first two
    [100n, [1n, 2n, 3n], [17n, 33n, 50n]], // remainders 4, 2, 0 (of 6): the largest gets the unit
    [5n, [3n, 1n, 1n], [3n, 1n, 1n]],
    [1n, [1n, 3n], [0n, 1n]], // remainders 1 and 3 (of 4): the second
    [2n, [1n, 1n, 1n], [1n, 1n, 0n]],
    [7n, [0n, 5n, 0n], [0n, 7n, 0n]], // zero weights get nothing
    [0n, [3n, 4n], [0n, 0n]],
    [0n, [0n, 0n], [0n, 0n]],
    [999n, [1000n], [999n]],
    [10n ** 12n, [1n, 1n, 1n], [333_333_333_334n, 333_333_333_333n, 333_333_333_333n]],
  ];
  it.each(table)('%s over %o is %o', (total, weights, shares) => {
    expect(allocate(total, weights)).toEqual(shares);
  });

  it('sums exactly to the total, each share within one unit of its exact part, for any weights', () => {
    fc.assert(fc.property(
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 20 }).filter((ws) => ws.some((w) => w > 0n)),
      (total, weights) => {
        const shares = allocate(total, weights);
        expect(shares).toHaveLength(weights.length);
        expect(sum(shares)).toBe(total);
        const all = sum(weights);
        shares.forEach((s, i) => {
          const floor = (weights[i]! * total) / all;
          expect(s === floor || s === floor + 1n).toBe(true);
          if (weights[i] === 0n) expect(s).toBe(0n);
        });
      },
    ), { numRuns: 300 });
  });
});

describe('basketOf', () => {
  // 2 × €12.50, 1 × €9.99 with €1.00 off: 3399 of goods
  const lines = [line('LATTE-L', 2n, 1250n, 0n, 'coffee'), line('BEANS-1KG', 1n, 999n, 100n, 'beans')];

  it('pays every line in full when nothing was paid with points', () => {
    const b = basketOf(lines, 3399n);
    expect(b.goods).toBe(3399n);
    expect(b.paid).toBe(3399n);
    expect(b.lines).toEqual([
      { sku: 'LATTE-L', category: 'coffee', quantity: 2n, unitPrice: 1250n, discount: 0n, net: 2500n, paid: 2500n },
      { sku: 'BEANS-1KG', category: 'beans', quantity: 1n, unitPrice: 999n, discount: 100n, net: 899n, paid: 899n },
    ]);
  });

  it('spreads what was paid (goods − paid with points) over the lines by value: 2399 → 1764 + 635', () => {
    // 2399 × 2500 / 3399 = 1764.46…, 2399 × 899 / 3399 = 634.53…: the larger remainder gets the unit
    const b = basketOf(lines, 3399n - 1000n);
    expect(b.goods).toBe(3399n);
    expect(b.paid).toBe(2399n);
    expect(b.lines.map((l) => [l.net, l.paid])).toEqual([[2500n, 1764n], [899n, 635n]]);
  });

  it('pays nothing when points paid everything', () => {
    const b = basketOf(lines, 0n);
    expect(b.paid).toBe(0n);
    expect(b.lines.map((l) => l.paid)).toEqual([0n, 0n]);
  });

  it('gives a free line no share', () => {
    const b = basketOf([line('CUP', 1n, 0n), line('TEA', 3n, 300n)], 500n);
    expect(b.lines.map((l) => l.paid)).toEqual([0n, 500n]);
  });
});

describe('remainingBasket', () => {
  // 3 mugs at 333 with 1 off (998), 2 lattes at 1250 (2500)
  const lines = [line('MUG', 3n, 333n, 1n, 'home'), line('LATTE-L', 2n, 1250n, 0n, 'coffee')];

  it('keeps the unreturned units valued at floor(net × kept / bought), fully kept lines exactly', () => {
    const b = remainingBasket(lines, new Map([['MUG', 1n]]), 3000n);
    // 998 × 2 / 3 = 665.33 → 665; the lattes are untouched
    expect(b.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, net: l.net, discount: l.discount }))).toEqual([
      { sku: 'MUG', quantity: 2n, net: 665n, discount: 1n },
      { sku: 'LATTE-L', quantity: 2n, net: 2500n, discount: 0n },
    ]);
    expect(b.goods).toBe(3165n);
    expect(b.paid).toBe(3000n);
    expect(sum(b.lines.map((l) => l.paid))).toBe(3000n);
    expect(b.lines.map((l) => l.category)).toEqual(['home', 'coffee']);
  });

  it.each([
    [0n, 998n], [1n, 665n], [2n, 332n],
  ])('a mug line with %s returned keeps %s', (returned, net) => {
    const b = remainingBasket(lines, new Map([['MUG', returned]]), 100n);
    expect(b.lines[0]!.net).toBe(net);
  });

  it('drops lines returned in full and spreads what is left to pay over the others', () => {
    const b = remainingBasket(lines, new Map([['LATTE-L', 2n], ['MUG', 1n]]), 600n);
    expect(b.lines.map((l) => [l.sku, l.quantity, l.net, l.paid])).toEqual([['MUG', 2n, 665n, 600n]]);
    expect(b.goods).toBe(665n);
  });

  it('spreads the money still paid by quantity when what is kept rounds down to no value: it still earns', () => {
    // 4 × 2 with 7 off is worth 1; one unit kept is floor(1 × 1 / 4) = 0, while 1 of the money is not refunded
    const cheap = [{ sku: 'TEA', category: null, quantity: 4n, unitPrice: 2n, discount: 7n }, { sku: 'CUP', category: null, quantity: 3n, unitPrice: 8n, discount: 0n }];
    const b = remainingBasket(cheap, new Map([['TEA', 3n], ['CUP', 3n]]), 1n);
    expect(b.lines.map((l) => [l.sku, l.quantity, l.net, l.paid])).toEqual([['TEA', 1n, 0n, 1n]]);
    expect(b.paid).toBe(1n);
  });

  it('is empty, with nothing paid, when everything came back, whatever is said to be paid', () => {
    const b = remainingBasket(lines, new Map([['LATTE-L', 2n], ['MUG', 3n]]), 42n);
    expect(b).toEqual({ lines: [], goods: 0n, paid: 0n });
  });

  it('keeps the whole basket when nothing came back', () => {
    expect(remainingBasket(lines, new Map(), 3498n)).toEqual(basketOf(lines, 3498n));
  });
});
