// The ledger's vocabulary. See invariants.ts for what these must always satisfy.
import type { NegativeBalancePolicy, ProgramPolicy, WalletKind } from '../program.js';

export type MemberBucket = 'available' | 'pending' | 'held';
export type ProgramAccount = 'issuance' | 'redemption' | 'expiry' | 'adjustment' | 'write_off';
export type Account = MemberBucket | ProgramAccount;

export type EntryKind =
  | 'earn' | 'mature' | 'redeem' | 'hold' | 'release' | 'expire' | 'reverse' | 'adjust' | 'transfer';

/** One leg of a journal entry; positive credits the account, negative debits it. */
export interface Posting {
  account: Account;
  /** the member whose bucket this is; null for program accounts */
  memberId: string | null;
  amount: bigint;
}

export interface JournalEntry {
  entryId: string;
  kind: EntryKind;
  programId: string;
  walletId: string;
  memberId: string;
  amount: bigint;
  counterpartyId: string | null;
  holdId: string | null;
  lotId: string | null;
  reversesEntryId: string | null;
  idempotencyKey: string | null;
  ref: string | null;
  actor: string;
  reason: string | null;
  createdAt: Date;
}

export interface NewEntry extends JournalEntry {
  postings: Posting[];
  /** for a reversal: the kind it reverses, so lifetime counters can follow */
  reversedKind?: EntryKind;
}

export interface Lot {
  lotId: string;
  memberId: string;
  walletId: string;
  /** the entry that created the lot */
  entryId: string;
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  earnedAt: Date;
  availableAt: Date;
  expiresAt: Date | null;
}

export interface LotMovement {
  entryId: string;
  /** the consumption this movement belongs to; a reversal restores that group's net */
  groupEntryId: string;
  lotId: string;
  delta: bigint;
}

export type HoldStatus = 'active' | 'captured' | 'voided' | 'expired';

export interface Hold {
  holdId: string;
  programId: string;
  walletId: string;
  memberId: string;
  amount: bigint;
  status: HoldStatus;
  holdEntryId: string;
  expiresAt: Date;
  createdAt: Date;
  resolvedAt: Date | null;
}

export interface Balance {
  memberId: string;
  walletId: string;
  /** the wallet's code, e.g. `points` */
  wallet: string;
  available: bigint;
  pending: bigint;
  held: bigint;
  lifetimeEarned: bigint;
  lifetimeRedeemed: bigint;
  expired: bigint;
  lastActivityAt: Date | null;
}

/** A member's wallet as the core sees it when deciding. */
export interface WalletState {
  programId: string;
  walletId: string;
  walletKind: WalletKind;
  memberId: string;
  balance: Balance;
  /** lots with remaining != 0; loaded only for operations that consume or take back */
  lots: Lot[];
}

export interface LedgerContext {
  now: Date;
  newId: () => string;
  policy: ProgramPolicy;
  timeZone: string;
  actor: string;
  idempotencyKey: string | null;
}

/** Everything one operation writes, decided by the core and written by the db adapter in one transaction. */
export interface Decision {
  entries: NewEntry[];
  lots: Lot[];
  movements: LotMovement[];
  newHolds: Hold[];
  resolvedHolds: { holdId: string; status: Exclude<HoldStatus, 'active'> }[];
  /** active holds a claw-back took part of: their new, smaller amount */
  shrunkHolds: { holdId: string; amount: bigint }[];
}

export const emptyDecision = (): Decision => ({ entries: [], lots: [], movements: [], newHolds: [], resolvedHolds: [], shrunkHolds: [] });

/** One decision holding every list of `ds`, in order: written as one. */
export const mergeDecisions = (...ds: Decision[]): Decision => ({
  entries: ds.flatMap((d) => d.entries), lots: ds.flatMap((d) => d.lots), movements: ds.flatMap((d) => d.movements),
  newHolds: ds.flatMap((d) => d.newHolds), resolvedHolds: ds.flatMap((d) => d.resolvedHolds), shrunkHolds: ds.flatMap((d) => d.shrunkHolds),
});

export type { NegativeBalancePolicy };
