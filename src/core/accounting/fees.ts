// Paid membership fees (SPEC §8, §10): a fee is a contract liability when received and revenue
// over the service period it pays for, straight-line by the second, rounded half up on the
// cumulative figure (so the whole fee is recognised at the period's end, never a unit more).
// Lifetime plans have no end: by policy they are recognised over the program's
// `lifetimeFeeMonths` (the expected life of a lifetime membership) from the payment.
import { divRound } from './arithmetic.js';

export function feeRecognised(amount: bigint, start: Date, end: Date, at: Date): bigint {
  const span = BigInt(end.getTime() - start.getTime());
  if (span <= 0n) return at.getTime() >= start.getTime() ? amount : 0n;
  const elapsed = BigInt(Math.min(Math.max(at.getTime() - start.getTime(), 0), end.getTime() - start.getTime()));
  return divRound(amount * elapsed, span);
}
