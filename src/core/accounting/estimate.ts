// The expected redemption rate estimated from the program's own history (SPEC §10): the redeemed
// share of the points issued in closed cohorts. A cohort is the points earned in one month; it
// is closed when its month has ended and none of its points is left to redeem (every lot
// redeemed, expired or returned). Points returned with their purchase never were the customer's
// and are left out:
//   rate = Σ redeemed / Σ (issued − returned), over closed cohorts, rounded half up to a basis point.
// The estimate needs at least `minHistoryMonths` closed cohorts with points in them; with fewer,
// it is shown but cannot be used.
import { divRound, BPS } from './arithmetic.js';

export interface CohortFigures {
  month: string;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
  returned: bigint;
  closed: boolean;
}

export interface Estimate {
  rateBps: number | null;
  sufficient: boolean;
  closedCohorts: number;
  minHistoryMonths: number;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
  returned: bigint;
  cohorts: CohortFigures[];
}

export function estimateRate(cohorts: readonly CohortFigures[], minHistoryMonths: number): Estimate {
  const closed = cohorts.filter((c) => c.closed && c.issued - c.returned > 0n);
  const sum = (f: (c: CohortFigures) => bigint) => closed.reduce((a, c) => a + f(c), 0n);
  const issued = sum((c) => c.issued);
  const returned = sum((c) => c.returned);
  const redeemed = sum((c) => c.redeemed);
  const base = issued - returned;
  const raw = base > 0n ? Number(divRound(redeemed * BPS, base)) : null;
  // A rate of 0 has no use (a point nobody redeems has no selling price): the estimate floors at one basis point.
  const rateBps = raw === null ? null : Math.max(1, raw);
  const sufficient = closed.length >= minHistoryMonths && rateBps !== null;
  return { rateBps, sufficient, closedCohorts: closed.length, minHistoryMonths, issued, redeemed, expired: sum((c) => c.expired), returned, cohorts: [...cohorts] };
}
