// IFRS 15 allocation of an earning purchase between the goods and the points (SPEC §10), by
// relative stand-alone selling price:
//   SSP(points)   = points × point value × expected redemption rate
//   points' share = price × SSP(points) / (price + SSP(points))
// The share is the contract liability (deferred revenue); the goods keep price − share, so the
// two always add up to the price.
//
// Rounding: the exact share is computed to a millionth of a minor unit (half up), the member's
// carry is added, and the sum is rounded to the minor unit (half up); what rounding left out,
// at most half a unit either way, is the new carry, applied to the member's next purchase. So
// over any number of purchases the units allocated differ from the exact sum by at most half a
// unit plus a millionth per purchase: rounding never loses (or invents) a unit. The carry is
// per member because the member's wallet is what the event already locks: a per-program carry
// would make every purchase of a program wait on one row.
import { divRound, BPS, MICRO } from './arithmetic.js';
import type { PointValue } from '../program.js';

export interface Allocation {
  /** the points' share in minor units: the contract liability */
  amount: bigint;
  /** the exact share before rounding, in millionths of a minor unit */
  shareMicro: bigint;
  /** the SSP of the points, in millionths of a minor unit */
  sspMicro: bigint;
  /** the member's carry after this allocation, in millionths (−500,000 ≤ carry < 500,000) */
  carryMicro: bigint;
}

export function allocate(price: bigint, points: bigint, value: PointValue, rateBps: number, carryMicro: bigint): Allocation {
  // SSP = points × minor / valuePoints × bps / 10,000 = num / den, kept exact.
  const num = points * value.minor * BigInt(rateBps);
  const den = value.points * BPS;
  const sspMicro = divRound(num * MICRO, den);
  if (price <= 0n || points <= 0n) return { amount: 0n, shareMicro: 0n, sspMicro, carryMicro };
  // price × SSP / (price + SSP) = price × num / (price × den + num)
  const shareMicro = divRound(price * num * MICRO, price * den + num);
  const total = shareMicro + carryMicro;
  const amount = divRound(total, MICRO);
  return { amount, shareMicro, sspMicro, carryMicro: total - amount * MICRO };
}

/**
 * The liability a return takes back: the allocation of the points it takes back, in proportion,
 * computed on the cumulative figures so that taking back every point reverses exactly the whole
 * allocation, however many returns it takes.
 */
export function reversalOf(allocation: { amount: bigint; points: bigint }, pointsBackBefore: bigint, pointsBackNow: bigint, reversedBefore: bigint): bigint {
  if (allocation.points <= 0n) return 0n;
  const back = pointsBackBefore + pointsBackNow > allocation.points ? allocation.points : pointsBackBefore + pointsBackNow;
  const due = divRound(allocation.amount * back, allocation.points);
  return due > reversedBefore ? due - reversedBefore : 0n;
}
