// The money of returns, computed on the whole purchase so that rounding never drifts: a full return
// after any partial ones refunds exactly what was paid. The points a return takes back are the
// rules' business (core/rules/returns.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { goodsOf, orderTotal, type PurchaseLine, type ReturnLine } from './purchase.js';
import { decideReturn, returnedSoFar, type PurchaseFacts, type ReturnHistory, type ReturnRequest } from './returns.js';
import { basketArbitrary, returnPlan } from '../../../test/support/event-arbitraries.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n): PurchaseLine => ({ sku, category: null, quantity, unitPrice, discount });
const basket = [line('LATTE-L', 2n, 1250n), line('BEANS-1KG', 1n, 999n, 100n)];

const purchaseOf = (lines: PurchaseLine[], paidWithPoints: bigint): PurchaseFacts => ({ lines, total: orderTotal(lines, paidWithPoints) });

/** Runs returns one after the other, as the service does, keeping the history. */
function run(purchase: PurchaseFacts, requests: ReturnRequest[]) {
  const done: { lines: ReturnLine[] | null; refundAmount: bigint; paidLeft: bigint }[] = [];
  for (const request of requests) {
    const history: ReturnHistory = { returned: returnedSoFar(done), refunded: done.reduce((s, r) => s + r.refundAmount, 0n) };
    const d = decideReturn(purchase, history, request);
    done.push({ lines: 'lines' in request ? [...request.lines] : null, refundAmount: d.refundAmount, paidLeft: d.paidLeft });
  }
  return done.map(({ refundAmount, paidLeft }) => ({ refundAmount, paidLeft }));
}

const ret = (...pairs: [string, bigint][]): ReturnRequest => ({ lines: pairs.map(([sku, quantity]) => ({ sku, quantity })) });

describe('a return by lines', () => {
  const purchase = purchaseOf(basket, 0n); // 3399 paid

  it('of one line refunds that line: 899, 2500 left', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n])])).toEqual([{ refundAmount: 899n, paidLeft: 2500n }]);
  });

  it('followed by the rest refunds exactly what is left', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])])).toEqual([
      { refundAmount: 899n, paidLeft: 2500n },
      { refundAmount: 2500n, paidLeft: 0n },
    ]);
  });

  it('unit by unit: 1250, 899, 1250', () => {
    expect(run(purchase, [ret(['LATTE-L', 1n]), ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 1n])])).toEqual([
      { refundAmount: 1250n, paidLeft: 2149n },
      { refundAmount: 899n, paidLeft: 1250n },
      { refundAmount: 1250n, paidLeft: 0n },
    ]);
  });

  it('spreads what points paid over the lines: €10 in points, beans back → refund floor(2399 × 899 / 3399) = 634', () => {
    expect(run(purchaseOf(basket, 1000n), [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])])).toEqual([
      { refundAmount: 634n, paidLeft: 1765n },
      { refundAmount: 1765n, paidLeft: 0n },
    ]);
  });

  it('refunds nothing in money for an order paid all in points', () => {
    expect(run(purchaseOf(basket, 3399n), [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])])).toEqual([
      { refundAmount: 0n, paidLeft: 0n }, { refundAmount: 0n, paidLeft: 0n },
    ]);
  });

  it('refunds a discounted line unit by unit without losing a cent: 3 × 333 − 1 = 998 → 332, 333, 333', () => {
    const odd = purchaseOf([line('MUG', 3n, 333n, 1n)], 0n);
    expect(run(odd, [ret(['MUG', 1n]), ret(['MUG', 1n]), ret(['MUG', 1n])])).toEqual([
      { refundAmount: 332n, paidLeft: 666n }, { refundAmount: 333n, paidLeft: 333n }, { refundAmount: 333n, paidLeft: 0n },
    ]);
  });

  it('reports the units returned so far, this return included', () => {
    const d = decideReturn(purchase, { returned: new Map([['LATTE-L', 1n]]), refunded: 1250n }, ret(['LATTE-L', 1n], ['BEANS-1KG', 1n]));
    expect(d.returned).toEqual(new Map([['LATTE-L', 2n], ['BEANS-1KG', 1n]]));
    expect(d).toMatchObject({ refundAmount: 2149n, paidLeft: 0n });
  });

  it('refuses more units than are left, naming the line', () => {
    const history: ReturnHistory = { returned: new Map([['LATTE-L', 1n]]), refunded: 1250n };
    const attempt = () => decideReturn(purchase, history, ret(['BEANS-1KG', 1n], ['LATTE-L', 2n]));
    expect(attempt).toThrow(DomainError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'conflict', field: 'lines[1].quantity' }));
    expect(attempt).toThrow(/at most 1 of sku LATTE-L/);
  });

  it('refuses a sku the purchase does not have', () => {
    expect(() => decideReturn(purchase, { returned: new Map(), refunded: 0n }, ret(['TEA', 1n])))
      .toThrow(expect.objectContaining({ code: 'validation', field: 'lines[0].sku' }));
  });
});

describe('a return by amount', () => {
  const purchase = purchaseOf(basket, 0n);

  it('refunds the amount and returns no units', () => {
    const d = decideReturn(purchase, { returned: new Map([['BEANS-1KG', 1n]]), refunded: 899n }, { refundAmount: 1000n });
    expect(d).toEqual({ refundAmount: 1000n, returned: new Map([['BEANS-1KG', 1n]]), paidLeft: 1500n });
  });

  it('may refund all that is left, and no more', () => {
    const history: ReturnHistory = { returned: new Map(), refunded: 3000n };
    expect(decideReturn(purchase, history, { refundAmount: 399n })).toMatchObject({ refundAmount: 399n, paidLeft: 0n });
    const over = () => decideReturn(purchase, history, { refundAmount: 400n });
    expect(over).toThrow(expect.objectContaining({ code: 'conflict', field: 'refundAmount' }));
    expect(over).toThrow(/at most 399/);
  });

  it('then returning every line refunds only what is left', () => {
    expect(run(purchase, [{ refundAmount: 3000n }, ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])])).toEqual([
      { refundAmount: 3000n, paidLeft: 399n },
      { refundAmount: 399n, paidLeft: 0n },
    ]);
  });

  it('then a line worth more than what is left refunds only what is left', () => {
    expect(run(purchase, [{ refundAmount: 3000n }, ret(['LATTE-L', 1n]), ret(['LATTE-L', 1n], ['BEANS-1KG', 1n])])).toEqual([
      { refundAmount: 3000n, paidLeft: 399n },
      { refundAmount: 399n, paidLeft: 0n },
      { refundAmount: 0n, paidLeft: 0n },
    ]);
  });
});

describe('returnedSoFar', () => {
  it('adds up the units of the returns by lines and skips those by amount', () => {
    expect(returnedSoFar([
      { lines: [{ sku: 'A', quantity: 1n }, { sku: 'B', quantity: 2n }] }, { lines: null }, { lines: [{ sku: 'A', quantity: 3n }] },
    ])).toEqual(new Map([['A', 4n], ['B', 2n]]));
  });
});

// Any basket, any part paid with points, any sequence of partial returns ending in a full one.
describe('any sequence of returns', () => {
  it('never refunds less than nothing or more than was paid, and refunds exactly what was paid in the end', () => {
    fc.assert(fc.property(
      basketArbitrary.chain((lines) => fc.tuple(fc.constant(lines), fc.integer({ min: 0, max: 100 }), returnPlan(lines))),
      ([lines, paidPct, plan]) => {
        const purchase = purchaseOf(lines, (goodsOf(lines) * BigInt(paidPct)) / 100n);
        const done: { lines: ReturnLine[] | null; refundAmount: bigint }[] = [];
        let refunded = 0n;
        for (const step of plan) {
          const left = purchase.total - refunded;
          const request: ReturnRequest = 'lines' in step ? step : { refundAmount: (left * BigInt(step.refundPct)) / 100n };
          if ('refundAmount' in request && request.refundAmount === 0n) continue;
          const d = decideReturn(purchase, { returned: returnedSoFar(done), refunded }, request);
          done.push({ lines: 'lines' in request ? [...request.lines] : null, refundAmount: d.refundAmount });
          refunded += d.refundAmount;
          expect(d.refundAmount).toBeGreaterThanOrEqual(0n);
          expect(d.paidLeft).toBe(purchase.total - refunded);
          expect(d.paidLeft).toBeGreaterThanOrEqual(0n);
        }
        expect(refunded).toBe(purchase.total);
        expect(returnedSoFar(done)).toEqual(new Map(lines.map((l) => [l.sku, l.quantity])));
      },
    ), { numRuns: 500 });
  });
});
