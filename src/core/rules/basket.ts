// What rules see of an order: its lines with the money each one was really paid with. The part
// of an order paid with points or store credit earns nothing (SPEC §4) unless the program says it
// does, so what earns is spread over the lines in proportion to their value, to the last minor unit.
import type { PurchaseLine, ReturnLine } from '../events/purchase.js';
import { goodsOf, lineNet } from '../events/purchase.js';
import { pointsBackSoFar } from '../rewards/points-payment.js';

export interface BasketLine {
  sku: string;
  category: string | null;
  quantity: bigint;
  unitPrice: bigint;
  discount: bigint;
  /** value after the line's discount */
  net: bigint;
  /** the money share of `net`: what earns */
  paid: bigint;
}

export interface Basket {
  lines: BasketLine[];
  /** Σ net */
  goods: bigint;
  /** money paid for the whole order: Σ paid */
  paid: bigint;
}

/**
 * Splits `total` over `weights` in proportion: floor shares, then what is left one unit at a
 * time to the largest remainders (the first line on a tie). The shares sum to `total` whenever a
 * weight is positive; with no weight at all, nothing is shared.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  const sum = weights.reduce((s, w) => s + w, 0n);
  if (sum === 0n) return weights.map(() => 0n);
  const shares = weights.map((w, i) => ({ i, share: (w * total) / sum, rest: (w * total) % sum }));
  let left = total - shares.reduce((s, x) => s + x.share, 0n);
  for (const x of [...shares].sort((a, b) => (b.rest > a.rest ? 1 : b.rest < a.rest ? -1 : a.i - b.i))) {
    if (left <= 0n) break;
    if (x.rest === 0n) continue;
    x.share += 1n;
    left -= 1n;
  }
  return shares.map((x) => x.share);
}

/**
 * The basket of an order whose customer paid `paid` in money for these lines. When no line has a
 * value left but money was paid — what is kept after returns can round down to nothing, a unit
 * of a line whose discount took most of it — the money is spread by quantity: it still earns.
 */
export function basketOf(lines: readonly PurchaseLine[], paid: bigint): Basket {
  const nets = lines.map(lineNet);
  const shares = allocate(paid, nets.some((n) => n > 0n) ? nets : lines.map((l) => l.quantity));
  return { lines: lines.map((l, i) => ({ ...l, net: nets[i]!, paid: shares[i]! })), goods: goodsOf(lines), paid };
}

/**
 * The order as it stands after returns: each line keeps its unreturned units, valued at
 * floor(net × kept / bought) (a line fully kept keeps its net exactly), and `paid` is the money
 * the customer has not been refunded.
 */
export function remainingBasket(lines: readonly PurchaseLine[], returned: ReadonlyMap<string, bigint>, paid: bigint): Basket {
  const kept: PurchaseLine[] = [];
  for (const l of lines) {
    const quantity = l.quantity - (returned.get(l.sku) ?? 0n);
    if (quantity <= 0n) continue;
    const net = (lineNet(l) * quantity) / l.quantity;
    kept.push({ sku: l.sku, category: l.category, quantity, unitPrice: l.unitPrice, discount: quantity * l.unitPrice - net });
  }
  return basketOf(kept, kept.length === 0 ? 0n : paid);
}

/**
 * What an order earns on: the money paid, and with the program's earnOnPaidWithPoints, the part
 * paid with points too.
 */
export const earningBase = (money: bigint, paidWithPoints: bigint, earnOnPaidWithPoints: boolean): bigint =>
  (earnOnPaidWithPoints ? money + paidWithPoints : money);

/**
 * What an order earns on after returns that took back `returned` units and refunded `refunded`
 * of its money: the money not refunded and, when the purchase earned on the part paid with
 * points, the share of that part not given back (the same share pay-with-points gives back).
 */
export function earningBaseLeft(order: { lines: readonly PurchaseLine[]; total: bigint; paidWithPoints: bigint }, earnedOnPaidWithPoints: boolean,
  returned: ReadonlyMap<string, bigint>, refunded: bigint): bigint {
  const money = order.total - refunded;
  if (!earnedOnPaidWithPoints || order.paidWithPoints === 0n) return money;
  return money + order.paidWithPoints - pointsBackSoFar({ lines: order.lines, total: order.total, pointsPaid: order.paidWithPoints }, returned, refunded);
}

export type { PurchaseLine, ReturnLine };
