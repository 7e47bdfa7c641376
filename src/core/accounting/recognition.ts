// Revenue recognition of the points' contract liability (SPEC §10), on the program's pool of points.
//
// Cumulative catch-up: what is recognised to date is a function of the figures to date and the
// expected redemption rate now, never a sum of past decisions, so a changed estimate corrects
// everything before it at once:
//   pool P       = points issued − taken back by returns + adjustments = redeemed + expired + outstanding
//   expected X   = P × rate, but at least what was redeemed and at most what was redeemed plus
//                  what is still outstanding (expired points can no longer be redeemed)
//   recognised C = allocated × redeemed / X   (all of it once nothing is outstanding)
// C splits into three parts that add up exactly:
//   redemption = allocated × redeemed / P          (the points redeemed, at their average value)
//   breakage   = allocated × redeemed / max(redeemed, P × rate) − redemption
//                (the expected unredeemed points, recognised in proportion to redemptions)
//   expiry     = C − redemption − breakage        (what expiries beyond the estimate release)
// Each is rounded half up to the minor unit; 0 ≤ redemption ≤ redemption + breakage ≤ C ≤ allocated.
import { BPS, divRound, maxB, minB } from './arithmetic.js';

/** The program's cumulative figures up to an instant. Points are those of the points wallet. */
export interface AccountingState {
  /** liability allocated by purchases, gross (minor units) */
  allocations: bigint;
  /** liability taken back by returns, gross */
  reversals: bigint;
  /** points issued by earns */
  issued: bigint;
  /** points taken back by reversals of earns (returns) */
  returned: bigint;
  /** points redeemed, net of cancelled redemptions */
  redeemed: bigint;
  expired: bigint;
  /** adjustments and write-offs, signed */
  adjusted: bigint;
  /** membership fees received (deferred), refunded (given back), and recognised over their periods net of refunds */
  feesReceived: bigint;
  feesRefunded: bigint;
  feesRecognised: bigint;
}

export const ZERO_STATE: AccountingState = {
  allocations: 0n, reversals: 0n, issued: 0n, returned: 0n, redeemed: 0n, expired: 0n, adjusted: 0n, feesReceived: 0n, feesRefunded: 0n, feesRecognised: 0n,
};

export const outstandingOf = (s: AccountingState): bigint => s.issued - s.returned - s.redeemed - s.expired + s.adjusted;
export const allocatedOf = (s: AccountingState): bigint => s.allocations - s.reversals;

export interface Recognised {
  /** revenue recognised to date, C */
  total: bigint;
  redemption: bigint;
  breakage: bigint;
  expiry: bigint;
}

export function recognise(s: AccountingState, rateBps: number): Recognised {
  const allocated = allocatedOf(s);
  if (allocated <= 0n) return { total: 0n, redemption: 0n, breakage: 0n, expiry: 0n };
  const redeemed = maxB(s.redeemed, 0n);
  const outstanding = outstandingOf(s);
  const pool = redeemed + s.expired + outstanding;
  const rate = BigInt(rateBps);
  const capped = (n: bigint, d: bigint): bigint => (d > 0n ? minB(allocated, maxB(divRound(allocated * n, d), 0n)) : 0n);
  const redemption = capped(redeemed, pool);
  const expectedNoExpiry = maxB(redeemed * BPS, pool * rate);
  const base = maxB(capped(redeemed * BPS, expectedNoExpiry), redemption);
  const expected = minB(expectedNoExpiry, (redeemed + outstanding) * BPS);
  const total = outstanding <= 0n ? allocated : maxB(capped(redeemed * BPS, expected), base);
  return { total, redemption, breakage: base - redemption, expiry: total - base };
}

/** A period's movements: every line is signed as it changes the liability (or the points outstanding). */
export interface RollForward {
  money: {
    opening: bigint; issued: bigint; returned: bigint; redeemed: bigint; breakage: bigint; expired: bigint; estimateChange: bigint; closing: bigint;
    /** revenue recognised in the period: −(redeemed + breakage + expired + estimateChange) */
    revenue: bigint;
  };
  points: { opening: bigint; issued: bigint; returned: bigint; redeemed: bigint; expired: bigint; adjusted: bigint; closing: bigint };
  fees: { opening: bigint; received: bigint; refunded: bigint; recognised: bigint; closing: bigint };
}

/**
 * From the state at the period's start (under the rate used then) to the state at its end (under the
 * period's rate). The estimate change is the catch-up on the opening figures; the other lines are
 * the period's own movements under the new rate. opening + lines = closing, to the unit, by construction.
 */
export function rollForward(start: AccountingState, startRate: number, end: AccountingState, endRate: number): RollForward {
  const before = recognise(start, startRate);
  const revised = recognise(start, endRate);
  const after = recognise(end, endRate);
  const opening = allocatedOf(start) - before.total;
  const closing = allocatedOf(end) - after.total;
  const money = {
    opening,
    issued: end.allocations - start.allocations,
    returned: -(end.reversals - start.reversals),
    redeemed: -(after.redemption - revised.redemption),
    breakage: -(after.breakage - revised.breakage),
    expired: -(after.expiry - revised.expiry),
    estimateChange: -(revised.total - before.total),
    closing,
    revenue: after.total - before.total,
  };
  const points = {
    opening: outstandingOf(start),
    issued: end.issued - start.issued,
    returned: -(end.returned - start.returned),
    redeemed: -(end.redeemed - start.redeemed),
    expired: -(end.expired - start.expired),
    adjusted: end.adjusted - start.adjusted,
    closing: outstandingOf(end),
  };
  const deferred = (s: AccountingState) => s.feesReceived - s.feesRefunded - s.feesRecognised;
  const fees = {
    opening: deferred(start),
    received: end.feesReceived - start.feesReceived,
    refunded: -(end.feesRefunded - start.feesRefunded),
    recognised: -(end.feesRecognised - start.feesRecognised),
    closing: deferred(end),
  };
  return { money, points, fees };
}
