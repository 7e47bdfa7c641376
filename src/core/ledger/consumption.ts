// Which lots pay for a spend, and which get points back on a reversal.
// Spends take the soonest-expiring lots first, then the oldest; restorations undo that
// order, so the points that come back are the ones that would have expired last.
import type { Lot } from './types.js';
import { minBig } from '../points.js';

export interface LotTake {
  lot: Lot;
  amount: bigint;
}

export function consumptionOrder(a: Lot, b: Lot): number {
  const ea = a.expiresAt?.getTime() ?? Infinity;
  const eb = b.expiresAt?.getTime() ?? Infinity;
  if (ea !== eb) return ea < eb ? -1 : 1;
  const oa = a.earnedAt.getTime();
  const ob = b.earnedAt.getTime();
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.lotId < b.lotId ? -1 : a.lotId > b.lotId ? 1 : 0;
}

export function isSpendable(lot: Lot, now: Date): boolean {
  return !lot.pending && lot.remaining > 0n && (lot.expiresAt === null || lot.expiresAt > now);
}

/** Takes up to `amount` from the spendable lots in consumption order; `short` is what they could not cover. */
export function takeFromLots(lots: Lot[], amount: bigint, now: Date): { takes: LotTake[]; short: bigint } {
  const takes: LotTake[] = [];
  let left = amount;
  for (const lot of lots.filter((l) => isSpendable(l, now)).sort(consumptionOrder)) {
    if (left === 0n) break;
    const take = minBig(lot.remaining, left);
    takes.push({ lot, amount: take });
    left -= take;
  }
  return { takes, short: left };
}

/** Gives back up to `amount` of what a consumption took, per lot, newest-expiring first. */
export function restoreToLots(consumed: LotTake[], amount: bigint): LotTake[] {
  const restores: LotTake[] = [];
  let left = amount;
  for (const { lot, amount: taken } of [...consumed].sort((a, b) => consumptionOrder(b.lot, a.lot))) {
    if (left === 0n) break;
    const give = minBig(taken, left);
    restores.push({ lot, amount: give });
    left -= give;
  }
  return restores;
}
