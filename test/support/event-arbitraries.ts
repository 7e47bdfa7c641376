// Random baskets, base rates and return plans for the properties of events (core and end to end).
import fc from 'fast-check';
import type { PurchaseLine, ReturnLine } from '../../src/core/events/purchase.js';
import type { BaseRate } from '../../src/core/events/rate.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount: bigint): PurchaseLine => ({ sku, category: null, quantity, unitPrice, discount });

/** 1 to 5 lines of 1 to 6 units, up to €200 a unit, each with 0 to 100 % off. */
export const basketArbitrary = fc.array(
  fc.record({ quantity: fc.integer({ min: 1, max: 6 }), unitPrice: fc.integer({ min: 0, max: 20_000 }), discountPct: fc.integer({ min: 0, max: 100 }) }),
  { minLength: 1, maxLength: 5 },
).map((ls) => ls.map((l, i) => line(`SKU-${i}`, BigInt(l.quantity), BigInt(l.unitPrice),
  (BigInt(l.quantity) * BigInt(l.unitPrice) * BigInt(l.discountPct)) / 100n)));

/** 0 to 7 points per 1 to 700 minor units. */
export const rateArbitrary = fc.record({ points: fc.integer({ min: 0, max: 7 }), perMinor: fc.integer({ min: 1, max: 700 }) })
  .map((r): BaseRate => ({ points: BigInt(r.points), perMinor: BigInt(r.perMinor) }));

/** A return of some lines, or a refund of a percentage of what is left to refund. */
export type ReturnStep = { lines: ReturnLine[] } | { refundPct: number };

/** Every unit of the basket, shuffled, cut into returns; after some of them, a refund by amount too. */
export function returnPlan(lines: PurchaseLine[]): fc.Arbitrary<ReturnStep[]> {
  const units = lines.flatMap((l) => Array.from({ length: Number(l.quantity) }, () => l.sku));
  return fc.tuple(
    fc.shuffledSubarray(units.map((sku, i) => ({ sku, i })), { minLength: units.length, maxLength: units.length }),
    fc.array(fc.boolean(), { minLength: units.length, maxLength: units.length }),
    fc.array(fc.integer({ min: 0, max: 100 }), { minLength: units.length, maxLength: units.length }),
  ).map(([order, cuts, amountPcts]) => {
    const plan: ReturnStep[] = [];
    let chunk = new Map<string, bigint>();
    order.forEach(({ sku }, k) => {
      chunk.set(sku, (chunk.get(sku) ?? 0n) + 1n);
      if (cuts[k] || k === order.length - 1) {
        plan.push({ lines: [...chunk].map(([s, quantity]) => ({ sku: s, quantity })) });
        chunk = new Map();
        if (amountPcts[k]! < 15) plan.push({ refundPct: amountPcts[k]! });
      }
    });
    // Refunds by amount never come last: the last return brings the last units back.
    while ('refundPct' in plan[plan.length - 1]!) plan.pop();
    return plan;
  });
}
