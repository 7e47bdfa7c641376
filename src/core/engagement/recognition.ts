// Employee recognition: a program's giving rules, the periods its allowance runs over (in the
// tenant's zone), and the ledger decisions of a gift. A gift is two journal entries, each in one
// wallet so that every wallet's postings still sum to its balance: the giver's allowance spent
// from the giving wallet (a redeem to the program), and the receiver's points earned into the
// receiving wallet (an earn from the program). Both name the other member as counterparty.
import { DateTime } from 'luxon';
import { DomainError, invalid } from '../errors.js';
import { isObject, only, text, type Input } from '../input.js';
import { maxBig, minBig } from '../points.js';
import { takeFromLots } from '../ledger/consumption.js';
import { emptyDecision, type Decision, type LedgerContext, type Lot, type NewEntry, type WalletState } from '../ledger/types.js';
import { lotExpiresAt } from '../program.js';

export type Period = 'week' | 'month' | 'quarter';
export const PERIODS: readonly Period[] = ['week', 'month', 'quarter'];
export const MAX_ALLOWANCE = 1_000_000_000n;
export const VALUE_TAG = /^[a-z][a-z0-9_-]{0,39}$/;
export const MAX_VALUES = 20;
export const MAX_MESSAGE = 1000;

export interface RecognitionSettings {
  /** the wallet the allowance is credited to and gifts are paid from */
  givingWallet: string;
  /** the redeemable wallet received points land in */
  receivingWallet: string;
  /** points each active member gets per period */
  allowance: bigint;
  period: Period;
  /** unspent allowance stays (true) or lapses at the period's end (false) */
  carryOver: boolean;
  /** the most one gift may give */
  maxGift: bigint;
  /** gifts above this wait for a manager's approval; null: none wait */
  approvalThreshold: bigint | null;
  /** the company values a gift is tagged with */
  values: string[];
}

const WALLET = /^[a-z][a-z0-9_]{0,31}$/;

function points(value: unknown, field: string): bigint {
  const n = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : typeof value === 'bigint' ? value : null;
  if (n === null || n < 1n || n > MAX_ALLOWANCE) throw invalid(field, `${field} must be an integer from 1 to ${MAX_ALLOWANCE}`);
  return n;
}

export function validateSettings(input: unknown): RecognitionSettings {
  if (!isObject(input)) throw invalid('allowance', 'the recognition settings are an object');
  const i = input as Input;
  only(i, ['givingWallet', 'receivingWallet', 'allowance', 'period', 'carryOver', 'maxGift', 'approvalThreshold', 'values'], '');
  const wallet = (v: unknown, field: string, fallback: string) => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !WALLET.test(v)) throw invalid(field, `${field} must be a wallet code`);
    return v;
  };
  const givingWallet = wallet(i.givingWallet, 'givingWallet', 'giving');
  const receivingWallet = wallet(i.receivingWallet, 'receivingWallet', 'points');
  if (givingWallet === receivingWallet) throw invalid('receivingWallet', 'received points go to another wallet than the allowance');
  const allowance = points(i.allowance, 'allowance');
  if (typeof i.period !== 'string' || !PERIODS.includes(i.period as Period)) throw invalid('period', `period must be ${PERIODS.join(', ')}`);
  if (i.carryOver !== undefined && typeof i.carryOver !== 'boolean') throw invalid('carryOver', 'carryOver must be true or false');
  const maxGift = i.maxGift === undefined ? allowance : points(i.maxGift, 'maxGift');
  const approvalThreshold = i.approvalThreshold === undefined || i.approvalThreshold === null ? null : points(i.approvalThreshold, 'approvalThreshold');
  if (approvalThreshold !== null && approvalThreshold >= maxGift) {
    throw invalid('approvalThreshold', 'approvalThreshold must be below maxGift (gifts above it wait for approval)');
  }
  if (!Array.isArray(i.values) || i.values.length === 0 || i.values.length > MAX_VALUES) {
    throw invalid('values', `values must list 1 to ${MAX_VALUES} company values`);
  }
  const values = i.values.map((v, n) => {
    if (typeof v !== 'string' || !VALUE_TAG.test(v)) throw invalid(`values[${n}]`, 'a value tag is lower-case letters, digits, - and _ (at most 40)');
    return v;
  });
  if (new Set(values).size !== values.length) throw invalid('values', 'a value is listed twice');
  return { givingWallet, receivingWallet, allowance, period: i.period as Period, carryOver: i.carryOver ?? false, maxGift, approvalThreshold, values };
}

/** The period holding `at`, on the tenant's calendar: [start, end). Weeks start on Monday. */
export function periodOf(period: Period, at: Date, timeZone: string): { start: Date; end: Date } {
  const local = DateTime.fromJSDate(at, { zone: timeZone });
  const start = local.startOf(period);
  return { start: start.toJSDate(), end: start.plus({ [`${period}s`]: 1 }).toJSDate() };
}

export interface GiftInput {
  giverId: string;
  receiverId: string;
  amount: bigint;
  message: string;
  value: string;
}

/** Checks a gift against the program's rules; answers whether it waits for approval. */
export function checkGift(settings: RecognitionSettings, gift: GiftInput): { needsApproval: boolean } {
  if (gift.giverId === gift.receiverId) throw invalid('receiverId', 'a member cannot give to themselves');
  if (gift.amount > settings.maxGift) throw invalid('amount', `a gift gives at most ${settings.maxGift} points`);
  if (!settings.values.includes(gift.value)) throw invalid('value', `value must be one of ${settings.values.join(', ')}`);
  return { needsApproval: settings.approvalThreshold !== null && gift.amount > settings.approvalThreshold };
}

export function readMessage(value: unknown): string {
  return text(value, 'message', MAX_MESSAGE);
}

function entry(ctx: LedgerContext, wallet: WalletState, kind: 'earn' | 'redeem', amount: bigint, counterpartyId: string, ref: string, reason: string | null, lotId: string | null): NewEntry {
  const credit = kind === 'earn';
  return {
    entryId: ctx.newId(), kind, programId: wallet.programId, walletId: wallet.walletId, memberId: wallet.memberId, amount,
    counterpartyId, holdId: null, lotId, reversesEntryId: null, idempotencyKey: ctx.idempotencyKey, ref, actor: ctx.actor,
    reason, createdAt: ctx.now,
    postings: credit
      ? [{ account: 'issuance', memberId: null, amount: -amount }, { account: 'available', memberId: wallet.memberId, amount }]
      : [{ account: 'available', memberId: wallet.memberId, amount: -amount }, { account: 'redemption', memberId: null, amount }],
  };
}

/**
 * The giver's allowance spent on a gift: a redeem from the giving wallet, soonest-lapsing lots
 * first. Refused (insufficient points, 422) when the allowance cannot pay it. The giving wallet
 * may be qualifying, so that no ordinary redemption or transfer can spend it: only gifts do.
 */
export function decideGiftSpend(ctx: LedgerContext, giving: WalletState, amount: bigint, receiverId: string, ref: string): Decision {
  const { takes, short } = takeFromLots(giving.lots, amount, ctx.now);
  if (giving.balance.available < amount || short > 0n) {
    const left = maxBig(minBig(giving.balance.available, amount - short), 0n);
    throw new DomainError('insufficient_points', `${amount} points to give, ${left} left in the allowance`, 'amount');
  }
  const e = entry(ctx, giving, 'redeem', amount, receiverId, ref, 'recognition gift', null);
  return {
    ...emptyDecision(), entries: [e],
    movements: takes.map((t) => ({ entryId: e.entryId, groupEntryId: e.entryId, lotId: t.lot.lotId, delta: -t.amount })),
  };
}

/**
 * The receiver's points: an earn into the receiving wallet, available at once (a gift has no
 * return window), expiring as the program's policy says.
 */
export function decideGiftCredit(ctx: LedgerContext, receiving: WalletState, amount: bigint, giverId: string, ref: string): Decision {
  if (receiving.walletKind !== 'redeemable') throw new DomainError('conflict', 'received points go to a redeemable wallet', 'receivingWallet');
  const lotId = ctx.newId();
  const e = entry(ctx, receiving, 'earn', amount, giverId, ref, 'recognition gift', lotId);
  const lot: Lot = {
    lotId, memberId: receiving.memberId, walletId: receiving.walletId, entryId: e.entryId, amount, remaining: amount, pending: false,
    earnedAt: ctx.now, availableAt: ctx.now, expiresAt: lotExpiresAt(ctx.policy.expiry, ctx.now, ctx.timeZone),
  };
  return { ...emptyDecision(), entries: [e], lots: [lot], movements: [{ entryId: e.entryId, groupEntryId: e.entryId, lotId, delta: amount }] };
}

