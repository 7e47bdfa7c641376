// Households: the pool is an account member's points wallet. Points move into it as whole lots,
// pending or available, keeping their dates (a purchase's points still wait out the return
// window in the pool, and expire when they would have): one transfer entry per move, from the
// member to the pool, so the journal shows whose points they were.
import { DomainError } from '../errors.js';
import { sumBig } from '../points.js';
import { emptyDecision, type Decision, type LedgerContext, type Lot, type Posting, type WalletState } from '../ledger/types.js';

/** Moves `lots` (positive, of the member `from`) into the pool wallet `to`; null when there is nothing to move. */
export function decidePool(ctx: LedgerContext, from: WalletState, to: WalletState, lots: Lot[], reason: string): Decision | null {
  if (from.walletId !== to.walletId) throw new DomainError('conflict', 'the member and the household are in different programs', 'memberId');
  const moving = lots.filter((l) => l.remaining > 0n && l.memberId === from.memberId);
  const amount = sumBig(moving.map((l) => l.remaining));
  if (amount === 0n) return null;
  const entryId = ctx.newId();
  const pending = sumBig(moving.filter((l) => l.pending).map((l) => l.remaining));
  const available = amount - pending;
  const postings: Posting[] = [];
  if (available > 0n) postings.push({ account: 'available', memberId: from.memberId, amount: -available }, { account: 'available', memberId: to.memberId, amount: available });
  if (pending > 0n) postings.push({ account: 'pending', memberId: from.memberId, amount: -pending }, { account: 'pending', memberId: to.memberId, amount: pending });
  const created: Lot[] = moving.map((l) => ({
    lotId: ctx.newId(), memberId: to.memberId, walletId: to.walletId, entryId, amount: l.remaining, remaining: l.remaining,
    pending: l.pending, earnedAt: l.earnedAt, availableAt: l.availableAt, expiresAt: l.expiresAt,
  }));
  return {
    ...emptyDecision(),
    entries: [{
      entryId, kind: 'transfer', programId: from.programId, walletId: from.walletId, memberId: from.memberId, amount,
      counterpartyId: to.memberId, holdId: null, lotId: null, reversesEntryId: null, idempotencyKey: ctx.idempotencyKey, ref: null,
      actor: ctx.actor, reason, createdAt: ctx.now, postings,
    }],
    lots: created,
    movements: [
      ...moving.map((l) => ({ entryId, groupEntryId: entryId, lotId: l.lotId, delta: -l.remaining })),
      ...created.map((l) => ({ entryId, groupEntryId: entryId, lotId: l.lotId, delta: l.amount })),
    ],
  };
}
