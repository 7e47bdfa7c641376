// The ledger's decisions: given a wallet's state and `now`, what one operation writes.
// Pure: no I/O, no clock. The db adapter writes a Decision in one transaction.
import { DomainError, invalid } from '../errors.js';
import { availableAt, lotExpiresAt } from '../program.js';
import { maxBig, minBig, sumBig } from '../points.js';
import { consumptionOrder, restoreToLots, takeFromLots, type LotTake } from './consumption.js';
import {
  emptyDecision,
  type Account, type Decision, type EntryKind, type Hold, type JournalEntry, type LedgerContext,
  type Lot, type NewEntry, type Posting, type WalletState,
} from './types.js';

interface EntryFields {
  amount: bigint;
  postings: Posting[];
  ref?: string | null;
  reason?: string | null;
  holdId?: string | null;
  lotId?: string | null;
  counterpartyId?: string | null;
  reversesEntryId?: string | null;
  reversedKind?: EntryKind;
}

function newEntry(ctx: LedgerContext, wallet: WalletState, kind: EntryKind, f: EntryFields): NewEntry {
  return {
    entryId: ctx.newId(),
    kind,
    programId: wallet.programId,
    walletId: wallet.walletId,
    memberId: wallet.memberId,
    amount: f.amount,
    counterpartyId: f.counterpartyId ?? null,
    holdId: f.holdId ?? null,
    lotId: f.lotId ?? null,
    reversesEntryId: f.reversesEntryId ?? null,
    idempotencyKey: ctx.idempotencyKey,
    ref: f.ref ?? null,
    actor: ctx.actor,
    reason: f.reason ?? null,
    createdAt: ctx.now,
    postings: mergePostings(f.postings),
    ...(f.reversedKind ? { reversedKind: f.reversedKind } : {}),
  };
}

/** One leg per account and member: a reversal can touch the same bucket for several reasons. */
function mergePostings(postings: Posting[]): Posting[] {
  const merged = new Map<string, Posting>();
  for (const p of postings) {
    const key = `${p.account}/${p.memberId ?? ''}`;
    const prev = merged.get(key);
    merged.set(key, prev ? { ...prev, amount: prev.amount + p.amount } : { ...p });
  }
  return [...merged.values()].filter((p) => p.amount !== 0n);
}

const member = (wallet: WalletState, account: Account, amount: bigint): Posting =>
  ({ account, memberId: wallet.memberId, amount });
const program = (account: Account, amount: bigint): Posting => ({ account, memberId: null, amount });

function requireRedeemable(wallet: WalletState): void {
  if (wallet.walletKind !== 'redeemable') {
    throw new DomainError('conflict', 'points in a qualifying wallet cannot be spent or moved', 'wallet');
  }
}

/** The lots that pay `amount`, or insufficient_points when the wallet cannot. */
function payFrom(wallet: WalletState, amount: bigint, now: Date): LotTake[] {
  requireRedeemable(wallet);
  const { takes, short } = takeFromLots(wallet.lots, amount, now);
  if (wallet.balance.available < amount || short > 0n) {
    // What the wallet could pay: its spendable lots (`amount - short` when they fall short), never more than its balance.
    const payable = maxBig(minBig(wallet.balance.available, amount - short), 0n);
    throw new DomainError('insufficient_points', `${amount} points requested, ${payable} available`, 'amount');
  }
  return takes;
}

function newLot(ctx: LedgerContext, wallet: WalletState, entryId: string, amount: bigint, timing: Pick<Lot, 'earnedAt' | 'availableAt' | 'expiresAt'>): Lot {
  return {
    lotId: ctx.newId(), memberId: wallet.memberId, walletId: wallet.walletId, entryId,
    amount, remaining: amount, pending: timing.availableAt > ctx.now, ...timing,
  };
}

function expiryFor(ctx: LedgerContext, wallet: WalletState): Date | null {
  return wallet.walletKind === 'redeemable' ? lotExpiresAt(ctx.policy.expiry, ctx.now, ctx.timeZone) : null;
}

/** Credits a new lot from a program account: earn (after the return window) or a positive adjustment (at once). */
function credit(ctx: LedgerContext, wallet: WalletState, kind: 'earn' | 'adjust', amount: bigint, ref: string | null, reason: string | null): Decision {
  const from: Account = kind === 'earn' ? 'issuance' : 'adjustment';
  const lotId = ctx.newId();
  const timing = {
    earnedAt: ctx.now,
    availableAt: kind === 'earn' ? availableAt(ctx.now, ctx.policy.returnWindowDays, ctx.timeZone) : ctx.now,
    expiresAt: expiryFor(ctx, wallet),
  };
  const pending = timing.availableAt > ctx.now;
  const entry = newEntry(ctx, wallet, kind, {
    amount, ref, reason, lotId,
    postings: [program(from, -amount), member(wallet, pending ? 'pending' : 'available', amount)],
  });
  const lot = { ...newLot(ctx, wallet, entry.entryId, amount, timing), lotId };
  return {
    ...emptyDecision(),
    entries: [entry],
    lots: [lot],
    movements: [{ entryId: entry.entryId, groupEntryId: entry.entryId, lotId, delta: amount }],
  };
}

/** Debits available points into a program account, consuming lots: redeem or a negative adjustment. */
function debit(ctx: LedgerContext, wallet: WalletState, kind: 'redeem' | 'adjust', amount: bigint, ref: string | null, reason: string | null): Decision {
  const takes = payFrom(wallet, amount, ctx.now);
  const to: Account = kind === 'redeem' ? 'redemption' : 'adjustment';
  const entry = newEntry(ctx, wallet, kind, {
    amount, ref, reason, postings: [member(wallet, 'available', -amount), program(to, amount)],
  });
  return {
    ...emptyDecision(),
    entries: [entry],
    movements: takes.map((t) => ({ entryId: entry.entryId, groupEntryId: entry.entryId, lotId: t.lot.lotId, delta: -t.amount })),
  };
}

export function decideEarn(ctx: LedgerContext, wallet: WalletState, amount: bigint, ref: string | null): Decision {
  return credit(ctx, wallet, 'earn', amount, ref, null);
}

export function decideRedeem(ctx: LedgerContext, wallet: WalletState, amount: bigint, ref: string | null): Decision {
  return debit(ctx, wallet, 'redeem', amount, ref, null);
}

export function decideAdjust(ctx: LedgerContext, wallet: WalletState, amount: bigint, reason: string): Decision {
  if (amount === 0n) throw invalid('amount', 'an adjustment moves a non-zero amount');
  return amount > 0n
    ? credit(ctx, wallet, 'adjust', amount, null, reason)
    : debit(ctx, wallet, 'adjust', -amount, null, reason);
}

export function decideHold(ctx: LedgerContext, wallet: WalletState, amount: bigint, expiresAt: Date, ref: string | null): Decision {
  const takes = payFrom(wallet, amount, ctx.now);
  const holdId = ctx.newId();
  const entry = newEntry(ctx, wallet, 'hold', {
    amount, ref, holdId, postings: [member(wallet, 'available', -amount), member(wallet, 'held', amount)],
  });
  const hold: Hold = {
    holdId, programId: wallet.programId, walletId: wallet.walletId, memberId: wallet.memberId, amount,
    status: 'active', holdEntryId: entry.entryId, expiresAt, createdAt: ctx.now, resolvedAt: null,
  };
  return {
    ...emptyDecision(),
    entries: [entry],
    movements: takes.map((t) => ({ entryId: entry.entryId, groupEntryId: entry.entryId, lotId: t.lot.lotId, delta: -t.amount })),
    newHolds: [hold],
  };
}

function requireActiveHold(hold: Hold, now: Date): void {
  if (hold.status !== 'active') throw new DomainError('conflict', `the hold is ${hold.status}`, 'holdId');
  if (hold.expiresAt <= now) throw new DomainError('conflict', 'the hold has expired', 'holdId');
}

/** Gives `amount` of a hold back to available, to the lots it took them from. */
function release(ctx: LedgerContext, wallet: WalletState, hold: Hold, consumed: LotTake[], amount: bigint): Decision {
  const entry = newEntry(ctx, wallet, 'release', {
    amount, holdId: hold.holdId, postings: [member(wallet, 'held', -amount), member(wallet, 'available', amount)],
  });
  return {
    ...emptyDecision(),
    entries: [entry],
    movements: restoreToLots(consumed, amount)
      .map((r) => ({ entryId: entry.entryId, groupEntryId: hold.holdEntryId, lotId: r.lot.lotId, delta: r.amount })),
  };
}

/** Captures all of a hold, or part of it and releases the rest. `consumed` is what the hold took, per lot. */
export function decideCapture(ctx: LedgerContext, wallet: WalletState, hold: Hold, consumed: LotTake[], amount: bigint | null, ref: string | null): Decision {
  requireActiveHold(hold, ctx.now);
  const captured = amount ?? hold.amount;
  if (captured > hold.amount) throw invalid('amount', `at most the held ${hold.amount} points can be captured`);
  const entry = newEntry(ctx, wallet, 'redeem', {
    amount: captured, ref, holdId: hold.holdId,
    postings: [member(wallet, 'held', -captured), program('redemption', captured)],
  });
  const rest = hold.amount - captured;
  const released = rest > 0n ? release(ctx, wallet, hold, consumed, rest) : emptyDecision();
  return {
    ...released,
    entries: [entry, ...released.entries],
    resolvedHolds: [{ holdId: hold.holdId, status: 'captured' }],
  };
}

export function decideVoid(ctx: LedgerContext, wallet: WalletState, hold: Hold, consumed: LotTake[]): Decision {
  if (hold.status !== 'active') throw new DomainError('conflict', `the hold is ${hold.status}`, 'holdId');
  return { ...release(ctx, wallet, hold, consumed, hold.amount), resolvedHolds: [{ holdId: hold.holdId, status: 'voided' }] };
}

/** Moves points between two members of one program; the receiver's lots keep the sender's expiry. */
export function decideTransfer(ctx: LedgerContext, from: WalletState, to: WalletState, amount: bigint, reason: string | null): Decision {
  if (from.memberId === to.memberId) throw invalid('toMemberId', 'a transfer needs two different members');
  if (from.walletId !== to.walletId) throw invalid('toMemberId', 'both members must be in the same program');
  requireRedeemable(to);
  const takes = payFrom(from, amount, ctx.now);
  const entry = newEntry(ctx, from, 'transfer', {
    amount, reason, counterpartyId: to.memberId,
    postings: [member(from, 'available', -amount), member(to, 'available', amount)],
  });
  const lots = takes.map((t) => newLot(ctx, to, entry.entryId, t.amount,
    { earnedAt: t.lot.earnedAt, availableAt: ctx.now, expiresAt: t.lot.expiresAt }));
  return {
    ...emptyDecision(),
    entries: [entry],
    lots,
    movements: [
      ...takes.map((t) => ({ entryId: entry.entryId, groupEntryId: entry.entryId, lotId: t.lot.lotId, delta: -t.amount })),
      ...lots.map((l) => ({ entryId: entry.entryId, groupEntryId: entry.entryId, lotId: l.lotId, delta: l.amount })),
    ],
  };
}

/** What a reversal needs to know about the entry it reverses. */
export interface ReversalTarget {
  entry: JournalEntry;
  /** the sum of earlier reversals of this entry */
  reversed: bigint;
  /** earn, positive adjust, transfer: the member whose points are taken back, with all their lots */
  receiver?: WalletState;
  /** the lots the entry created (for a transfer, the receiver's); with `pooledIn`, the pool's lots they became */
  createdLots?: Lot[];
  /**
   * earn, positive adjust: the wallet the entry's points were moved into as a whole (a household's
   * pool), which gives them back instead of the receiver. The reversal stays the receiver's entry
   * (their lifetime earned goes down), with the pool as its counterparty and its postings.
   */
  pooledIn?: WalletState;
  /** redeem, negative adjust, transfer: the member who paid, and what was taken from each lot, net */
  payer?: WalletState;
  consumed?: LotTake[];
  /** the consumption group those takes belong to: the hold's entry for a captured redeem */
  consumedGroupId?: string;
  /** the receiver's active holds and what each took, per lot: what the lots cannot give back is taken from them */
  holds?: { hold: Hold; consumed: LotTake[] }[];
}

const REVERSIBLE: ReadonlySet<EntryKind> = new Set(['earn', 'redeem', 'adjust', 'transfer']);

/**
 * Reverses `amount` (default: all that is left) of an entry. Points given are taken back from the
 * lots the entry created, pending first, then from the member's other lots; what is already spent
 * becomes a debt or is written off, as the program says. Points taken are restored to their lots.
 */
export function decideReverse(ctx: LedgerContext, target: ReversalTarget, amount: bigint | null, reason: string | null): Decision {
  const original = target.entry;
  if (!REVERSIBLE.has(original.kind)) {
    const hint = original.kind === 'hold' ? ' (void the hold instead)' : ' (make an adjustment instead)';
    throw new DomainError('conflict', `a ${original.kind} entry cannot be reversed${hint}`, 'entryId');
  }
  const reversible = original.amount - target.reversed;
  if (reversible === 0n) throw new DomainError('conflict', 'the entry is already fully reversed', 'entryId');
  const reversing = amount ?? reversible;
  if (reversing > reversible) throw invalid('amount', `at most ${reversible} points of this entry can still be reversed`);

  const entryId = ctx.newId();
  const postings: Posting[] = [];
  const decision = emptyDecision();
  // An entry that credited a member (earn, positive adjust, the receiving side of a transfer)
  // is taken back; one that debited a member (redeem, negative adjust, the sending side) is restored.
  const takesBack = original.kind === 'earn' || original.kind === 'transfer' || (original.kind === 'adjust' && original.lotId !== null);
  const restores = original.kind === 'redeem' || original.kind === 'transfer' || (original.kind === 'adjust' && original.lotId === null);
  const account: Account = original.kind === 'earn' ? 'issuance' : original.kind === 'redeem' ? 'redemption' : 'adjustment';

  if (takesBack) {
    const receiver = (original.kind !== 'transfer' && target.pooledIn) || target.receiver!;
    postings.push(...takeBack(ctx, receiver, target.createdLots ?? [], target.holds ?? [], reversing, entryId, original.entryId, decision));
    if (original.kind !== 'transfer') postings.push(program(account, reversing));
  }
  if (restores) {
    const payer = target.payer!;
    const group = target.consumedGroupId ?? original.entryId;
    for (const r of restoreToLots(target.consumed ?? [], reversing)) {
      decision.movements.push({ entryId, groupEntryId: group, lotId: r.lot.lotId, delta: r.amount });
    }
    postings.push(member(payer, 'available', reversing));
    if (original.kind !== 'transfer') postings.push(program(account, -reversing));
  }
  const owner = original.kind === 'transfer' ? target.payer! : (target.receiver ?? target.payer)!;
  const entry = newEntry(ctx, owner, 'reverse', {
    amount: reversing, reason, reversesEntryId: original.entryId, reversedKind: original.kind, postings,
    counterpartyId: original.kind !== 'transfer' && target.pooledIn ? target.pooledIn.memberId : original.counterpartyId,
  });
  decision.entries.push({ ...entry, entryId });
  return decision;
}

/**
 * Takes `amount` back from a receiver: the created lots first, then other lots, then the points
 * active holds keep aside (newest hold first), and only then a debt or a write-off. Points held
 * are the member's: writing off while they stay held would let a void give the written-off points back.
 */
function takeBack(ctx: LedgerContext, receiver: WalletState, created: Lot[], holds: { hold: Hold; consumed: LotTake[] }[],
  amount: bigint, entryId: string, originalId: string, decision: Decision): Posting[] {
  const postings: Posting[] = [];
  let left = amount;
  for (const lot of [...created].filter((l) => l.remaining > 0n).sort(consumptionOrder)) {
    if (left === 0n) break;
    const take = minBig(lot.remaining, left);
    decision.movements.push({ entryId, groupEntryId: originalId, lotId: lot.lotId, delta: -take });
    postings.push(member(receiver, lot.pending ? 'pending' : 'available', -take));
    left -= take;
  }
  const createdIds = new Set(created.map((l) => l.lotId));
  const others = receiver.lots.filter((l) => !createdIds.has(l.lotId));
  const { takes, short: shortOfLots } = takeFromLots(others, left, ctx.now);
  for (const t of takes) decision.movements.push({ entryId, groupEntryId: entryId, lotId: t.lot.lotId, delta: -t.amount });
  postings.push(member(receiver, 'available', -sumBig(takes.map((t) => t.amount))));
  const short = takeFromHolds(receiver, holds, shortOfLots, entryId, decision, postings);
  if (short > 0n) {
    if (ctx.policy.negativeBalance === 'debt') {
      const debt: Lot = {
        lotId: ctx.newId(), memberId: receiver.memberId, walletId: receiver.walletId, entryId,
        amount: -short, remaining: -short, pending: false, earnedAt: ctx.now, availableAt: ctx.now, expiresAt: null,
      };
      decision.lots.push(debt);
      decision.movements.push({ entryId, groupEntryId: entryId, lotId: debt.lotId, delta: -short });
      postings.push(member(receiver, 'available', -short));
    } else {
      postings.push(program('write_off', -short));
    }
  }
  return postings;
}

/**
 * Takes up to `amount` from active holds, newest first: each hold gives the points back to the lots
 * it took them from (in its own consumption group) and the claw-back takes them from there, so the
 * lots are unchanged and the hold keeps aside only what is left; a hold emptied is voided.
 * Returns what the holds could not cover.
 */
function takeFromHolds(receiver: WalletState, holds: { hold: Hold; consumed: LotTake[] }[], amount: bigint,
  entryId: string, decision: Decision, postings: Posting[]): bigint {
  let left = amount;
  const newest = [...holds].filter((h) => h.hold.status === 'active' && h.hold.memberId === receiver.memberId)
    .sort((a, b) => b.hold.createdAt.getTime() - a.hold.createdAt.getTime() || (a.hold.holdId < b.hold.holdId ? 1 : -1));
  for (const { hold, consumed } of newest) {
    if (left === 0n) break;
    const take = minBig(hold.amount, left);
    for (const r of restoreToLots(consumed, take)) {
      decision.movements.push({ entryId, groupEntryId: hold.holdEntryId, lotId: r.lot.lotId, delta: r.amount });
      decision.movements.push({ entryId, groupEntryId: entryId, lotId: r.lot.lotId, delta: -r.amount });
    }
    postings.push(member(receiver, 'held', -take));
    if (take === hold.amount) decision.resolvedHolds.push({ holdId: hold.holdId, status: 'voided' });
    else decision.shrunkHolds.push({ holdId: hold.holdId, amount: hold.amount - take });
    left -= take;
  }
  return left;
}
