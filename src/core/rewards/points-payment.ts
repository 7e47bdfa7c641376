// Paying with points at checkout (SPEC §6): the program says what points are worth; the POS asks
// how much of a basket points can pay, holds them, and the purchase captures the hold. A return
// of such an order gives back the points' share of what comes back. Integers throughout: the
// member never pays a point more than the money it replaces, and a full return gives back every point.
import type { PointValue } from '../program.js';
import { goodsOf, lineNet, type PurchaseLine } from '../events/purchase.js';

/** What `points` are worth in minor units, rounded down. */
export const moneyOf = (points: bigint, value: PointValue): bigint => (points * value.minor) / value.points;

/** The most points that pay for at most `amount` minor units. */
export const pointsFor = (amount: bigint, value: PointValue): bigint => (amount * value.points) / value.minor;

export interface PointsPayment {
  /** points to hold and capture */
  points: bigint;
  /** what they pay, in minor units: the purchase's paidWithPoints */
  money: bigint;
}

/** The most of `amount` the member's `available` points can pay. */
export function payable(amount: bigint, available: bigint, value: PointValue): PointsPayment {
  const wanted = pointsFor(amount, value);
  const points = available < wanted ? (available > 0n ? available : 0n) : wanted;
  return { points, money: moneyOf(points, value) };
}

export interface PaidOrder {
  lines: readonly PurchaseLine[];
  /** money paid (after the points) */
  total: bigint;
  /** points the order captured */
  pointsPaid: bigint;
}

/**
 * The points given back once the order's returns so far took back `returned` units and refunded
 * `refunded` of its money: the points' share of what came back. With money paid, the share is the
 * money refunded (refunds follow the value of what is returned); paid all in points, it is the
 * value of the units returned. Everything back: every point back.
 */
export function pointsBackSoFar(order: PaidOrder, returned: ReadonlyMap<string, bigint>, refunded: bigint): bigint {
  if (order.pointsPaid === 0n) return 0n;
  if (order.total > 0n) return (order.pointsPaid * refunded) / order.total;
  const goods = goodsOf(order.lines);
  if (goods === 0n) return 0n;
  const back = order.lines.reduce((sum, l) => sum + (lineNet(l) * (returned.get(l.sku) ?? 0n)) / l.quantity, 0n);
  return (order.pointsPaid * back) / goods;
}
