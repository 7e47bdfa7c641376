/*
 * The ledger's invariants. The core decides only movements that keep them; `laurel verify`
 * checks them on real data; the property tests check them after every step of random histories.
 *
 *  1. Append-only: journal entries, postings and lot movements are never updated or deleted.
 *  2. Double entry: the postings of every entry sum to zero, so all accounts together sum to zero.
 *  3. Balances follow the journal: a member's available, pending and held equal the sums of the
 *     postings to those buckets; lifetime earned/redeemed and expired equal the sums of the entries
 *     of those kinds net of their reversals.
 *  4. Lots follow their movements: a lot's remaining is the sum of its movements, and lies
 *     between 0 and its amount (between its amount and 0 for a debt lot).
 *  5. Lots back the buckets: pending = the remaining of pending lots; available = the remaining of
 *     matured lots, debt lots included; held = the amounts of active holds.
 *  6. No overdraft: only a claw-back under the `debt` policy makes available negative, and a debt
 *     is repaid before any points can be spent: a wallet never has both a debt lot and a positive
 *     matured lot.
 *  7. Idempotency: one key, one effect; the same key with another request is refused.
 */
import type { Decision, MemberBucket, NewEntry } from './types.js';
import { sumBig } from '../points.js';

export function entryIsBalanced(entry: NewEntry): boolean {
  return sumBig(entry.postings.map((p) => p.amount)) === 0n;
}

export interface BalanceChange {
  memberId: string;
  walletId: string;
  available: bigint;
  pending: bigint;
  held: bigint;
  lifetimeEarned: bigint;
  lifetimeRedeemed: bigint;
  expired: bigint;
  active: boolean;
}

const ACTIVITY = new Set(['earn', 'redeem', 'hold', 'transfer']);

/**
 * Whether an entry restarts its wallet's inactivity clock: what the member did (earn, redeem,
 * hold, transfer), and a positive adjustment. Support gives points to a member they are talking
 * to; points given to an idle wallet that then expire at the next settlement would undo the
 * gesture. A negative adjustment (a correction) is no sign of life and restarts nothing.
 */
export const isActivity = (entry: Pick<NewEntry, 'kind' | 'lotId'>): boolean =>
  ACTIVITY.has(entry.kind) || (entry.kind === 'adjust' && entry.lotId !== null);

/** What a decision does to each member's balance row: bucket sums from postings, counters from entry kinds. */
export function balanceChanges(decision: Decision): BalanceChange[] {
  const changes = new Map<string, BalanceChange>();
  const change = (memberId: string, walletId: string): BalanceChange => {
    const key = `${memberId}/${walletId}`;
    let c = changes.get(key);
    if (!c) {
      c = { memberId, walletId, available: 0n, pending: 0n, held: 0n, lifetimeEarned: 0n, lifetimeRedeemed: 0n, expired: 0n, active: false };
      changes.set(key, c);
    }
    return c;
  };
  for (const entry of decision.entries) {
    for (const p of entry.postings) {
      if (p.memberId === null) continue;
      change(p.memberId, entry.walletId)[p.account as MemberBucket] += p.amount;
    }
    const own = change(entry.memberId, entry.walletId);
    if (isActivity(entry)) own.active = true;
    if (entry.kind === 'transfer' && entry.counterpartyId) change(entry.counterpartyId, entry.walletId).active = true;
    const sign = entry.kind === 'reverse' ? -1n : 1n;
    const kind = entry.kind === 'reverse' ? entry.reversedKind : entry.kind;
    if (kind === 'earn') own.lifetimeEarned += sign * entry.amount;
    if (kind === 'redeem') own.lifetimeRedeemed += sign * entry.amount;
    if (kind === 'expire') own.expired += sign * entry.amount;
  }
  return [...changes.values()];
}
