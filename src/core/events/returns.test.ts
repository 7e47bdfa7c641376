// Returns take back exactly what the refund no longer earns, computed on the whole purchase, so
// that rounding never drifts: a full return after any partial ones nets the purchase to zero.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { goodsOf, orderTotal, purchasePoints, type PurchaseLine, type ReturnLine } from './purchase.js';
import { pointsFor, type BaseRate } from './rate.js';
import { decideReturn, returnedSoFar, type PurchaseFacts, type ReturnHistory, type ReturnRequest } from './returns.js';
import { basketArbitrary, rateArbitrary, returnPlan } from '../../../test/support/event-arbitraries.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n): PurchaseLine => ({ sku, category: null, quantity, unitPrice, discount });
const perEuro: BaseRate = { points: 1n, perMinor: 100n };
const basket = [line('LATTE-L', 2n, 1250n), line('BEANS-1KG', 1n, 999n, 100n)];

function purchaseOf(lines: PurchaseLine[], paidWithPoints: bigint, rate: BaseRate): PurchaseFacts {
  const total = orderTotal(lines, paidWithPoints);
  return { lines, total, earned: purchasePoints(total, rate), rate };
}

/** Runs returns one after the other, as the service does, keeping the history. */
function run(purchase: PurchaseFacts, requests: ReturnRequest[], manuallyReversed = 0n) {
  const done: { lines: ReturnLine[] | null; refundAmount: bigint; reverse: bigint }[] = [];
  for (const request of requests) {
    const history: ReturnHistory = {
      returned: returnedSoFar(done),
      refunded: done.reduce((s, r) => s + r.refundAmount, 0n),
      reversed: manuallyReversed + done.reduce((s, r) => s + r.reverse, 0n),
    };
    const d = decideReturn(purchase, history, request);
    done.push({ lines: 'lines' in request ? [...request.lines] : null, ...d });
  }
  return done.map(({ refundAmount, reverse }) => ({ refundAmount, reverse }));
}

const ret = (...pairs: [string, bigint][]): ReturnRequest => ({ lines: pairs.map(([sku, quantity]) => ({ sku, quantity })) });

describe('a return by lines', () => {
  const purchase = purchaseOf(basket, 0n, perEuro); // 3399 paid, 33 earned

  it('of one line refunds that line and takes back what the rest no longer earns: 33 − floor(2500/100) = 8', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n])])).toEqual([{ refundAmount: 899n, reverse: 8n }]);
  });

  it('followed by the rest takes back exactly what is left: 8 + 25 = 33', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])])).toEqual([
      { refundAmount: 899n, reverse: 8n },
      { refundAmount: 2500n, reverse: 25n },
    ]);
  });

  it('unit by unit: 12 (keeps floor(2149/100) = 21), 9 (keeps 12), 12 (keeps 0)', () => {
    expect(run(purchase, [ret(['LATTE-L', 1n]), ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 1n])])).toEqual([
      { refundAmount: 1250n, reverse: 12n },
      { refundAmount: 899n, reverse: 9n },
      { refundAmount: 1250n, reverse: 12n },
    ]);
  });

  it('spreads what points paid over the lines: 10 € in points, beans back → refund floor(2399 × 899 / 3399) = 634, 23 − 17 = 6', () => {
    const paidPartly = purchaseOf(basket, 1000n, perEuro); // 2399 paid, 23 earned
    expect(paidPartly.earned).toBe(23n);
    expect(run(paidPartly, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])])).toEqual([
      { refundAmount: 634n, reverse: 6n },
      { refundAmount: 1765n, reverse: 17n },
    ]);
  });

  it('refunds a discounted line unit by unit without losing a cent: 3 × 333 − 1 = 998 → 332, 333, 333', () => {
    const odd = purchaseOf([line('MUG', 3n, 333n, 1n)], 0n, perEuro);
    expect(run(odd, [ret(['MUG', 1n]), ret(['MUG', 1n]), ret(['MUG', 1n])]).map((r) => r.refundAmount)).toEqual([332n, 333n, 333n]);
  });

  it('refuses more units than are left, naming the line', () => {
    const history: ReturnHistory = { returned: new Map([['LATTE-L', 1n]]), refunded: 1250n, reversed: 12n };
    const attempt = () => decideReturn(purchase, history, ret(['BEANS-1KG', 1n], ['LATTE-L', 2n]));
    expect(attempt).toThrow(DomainError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'conflict', field: 'lines[1].quantity' }));
  });

  it('refuses a sku the purchase does not have', () => {
    expect(() => decideReturn(purchase, { returned: new Map(), refunded: 0n, reversed: 0n }, ret(['TEA', 1n])))
      .toThrow(expect.objectContaining({ code: 'validation', field: 'lines[0].sku' }));
  });

  it('counts points already reversed by hand: after 10 taken back manually, a full return takes the other 23', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])], 10n)).toEqual([{ refundAmount: 3399n, reverse: 23n }]);
  });

  it('never takes back less than nothing: a manual reversal beyond the target leaves the return at 0', () => {
    expect(run(purchase, [ret(['BEANS-1KG', 1n])], 20n)).toEqual([{ refundAmount: 899n, reverse: 0n }]);
  });
});

describe('a return by amount', () => {
  const purchase = purchaseOf(basket, 0n, perEuro);

  it('refunds the amount: €10 back keeps floor(2399/100) = 23, takes back 10', () => {
    expect(run(purchase, [{ refundAmount: 1000n }])).toEqual([{ refundAmount: 1000n, reverse: 10n }]);
  });

  it('refuses more than is left to refund', () => {
    const history: ReturnHistory = { returned: new Map(), refunded: 3000n, reversed: 30n };
    expect(() => decideReturn(purchase, history, { refundAmount: 400n })).toThrow(expect.objectContaining({ code: 'conflict', field: 'refundAmount' }));
  });

  it('then returning every line refunds only what is left and nets the purchase to zero', () => {
    expect(run(purchase, [{ refundAmount: 3000n }, ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])])).toEqual([
      { refundAmount: 3000n, reverse: 30n },
      { refundAmount: 399n, reverse: 3n },
    ]);
  });
});

// Any basket, any rate, any sequence of partial returns ending in a full one.
describe('any sequence of returns', () => {
  it('keeps floor((total − refunded) × rate) at every step, never goes negative, and ends at exactly zero', () => {
    fc.assert(fc.property(
      basketArbitrary.chain((lines) => fc.tuple(fc.constant(lines), fc.integer({ min: 0, max: 100 }), rateArbitrary, returnPlan(lines))),
      ([lines, paidPct, rate, plan]) => {
        const purchase = purchaseOf(lines, (goodsOf(lines) * BigInt(paidPct)) / 100n, rate);
        const done: { lines: ReturnLine[] | null; refundAmount: bigint; reverse: bigint }[] = [];
        let refunded = 0n;
        let reversed = 0n;
        for (const step of plan) {
          const left = purchase.total - refunded;
          const request: ReturnRequest = 'lines' in step ? step : { refundAmount: (left * BigInt(step.refundPct)) / 100n };
          if ('refundAmount' in request && request.refundAmount === 0n) continue;
          const d = decideReturn(purchase, { returned: returnedSoFar(done), refunded, reversed }, request);
          done.push({ lines: 'lines' in request ? [...request.lines] : null, ...d });
          refunded += d.refundAmount;
          reversed += d.reverse;
          expect(d.reverse).toBeGreaterThanOrEqual(0n);
          expect(refunded).toBeLessThanOrEqual(purchase.total);
          expect(purchase.earned - reversed).toBe(pointsFor(purchase.total - refunded, rate));
        }
        expect(refunded).toBe(purchase.total);
        expect(reversed).toBe(purchase.earned);
      },
    ), { numRuns: 500 });
  });
});
