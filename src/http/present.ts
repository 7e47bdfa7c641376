// Domain values as API objects: every object names its kind (`object`), like Stripe's.
import type { Balance, Hold, JournalEntry, Posting } from '../core/ledger/types.js';
import type { Explained } from '../core/events/event.js';
import type { LedgerResult } from '../services/ledger.js';

export const presentBalance = (b: Balance) => ({
  object: 'balance' as const, memberId: b.memberId, wallet: b.wallet, available: b.available, pending: b.pending,
  held: b.held, lifetimeEarned: b.lifetimeEarned, lifetimeRedeemed: b.lifetimeRedeemed, expired: b.expired,
  lastActivityAt: b.lastActivityAt?.toISOString() ?? null,
});

export const presentEntry = (e: JournalEntry & { postings: Posting[] }) => ({
  object: 'journal_entry' as const, entryId: e.entryId, kind: e.kind, memberId: e.memberId, walletId: e.walletId,
  amount: e.amount, counterpartyId: e.counterpartyId, holdId: e.holdId, lotId: e.lotId, reversesEntryId: e.reversesEntryId,
  ref: e.ref, actor: e.actor, reason: e.reason, createdAt: new Date(e.createdAt).toISOString(),
  postings: e.postings.map((p) => ({ account: p.account, memberId: p.memberId, amount: p.amount })),
});

export const presentHold = (h: Hold) => ({
  object: 'hold' as const, holdId: h.holdId, memberId: h.memberId, walletId: h.walletId, amount: h.amount, status: h.status,
  expiresAt: new Date(h.expiresAt).toISOString(), createdAt: new Date(h.createdAt).toISOString(),
  resolvedAt: h.resolvedAt ? new Date(h.resolvedAt).toISOString() : null,
});

export const presentLedgerResult = (r: LedgerResult) => ({
  object: 'ledger_result' as const,
  entries: r.entries.map(presentEntry),
  balances: r.balances.map(presentBalance),
  ...(r.hold ? { hold: presentHold(r.hold) } : {}),
});

/** Bigints in JSON: every amount Laurel stores is at most 10^12, exact as a JSON number. */
export function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

export const presentExplained = (a: Explained) => ({
  ruleId: a.ruleId, version: a.version, name: a.name, campaignId: a.campaignId, effect: a.effect, wallet: a.wallet,
  points: Number(a.points), uncapped: Number(a.uncapped), limitedBy: a.limitedBy,
  detail: plain(a.detail) as Record<string, string | number | boolean | null>,
});
