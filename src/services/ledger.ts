// Ledger use cases. Each: validate, open one transaction (idempotent), lock the wallet(s),
// settle what is due, let the core decide, write the decision, answer.
import { sql } from 'kysely';
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { balanceChanges } from '../core/ledger/invariants.js';
import {
  decideAdjust, decideCapture, decideEarn, decideHold, decideRedeem, decideReverse, decideTransfer, decideVoid,
  type ReversalTarget,
} from '../core/ledger/operations.js';
import type { Balance, Decision, Hold, JournalEntry, LedgerContext, Posting } from '../core/ledger/types.js';
import { positivePoints, MAX_POINTS } from '../core/points.js';
import { DEFAULT_WALLET } from '../core/program.js';
import {
  balanceOf, entryOf, loadActiveHolds, loadConsumption, loadEntry, loadHold, loadLots, loadLotsCreatedBy, lockWallet, lockWalletFindingKey, readBalances,
  storeIdempotency, writeDecision, type LockedWallet, type StoredResponse, type Trx,
} from '../db/ledger.js';
import { poolOfEntry, recordHouseholdEntry } from '../db/households.js';
import { settle } from '../db/settlement.js';
import type { Laurel } from './context.js';
import { idempotent, requestHash, requireIdempotencyKey, type KeyLookup } from './idempotency.js';
import { batched, type Decided } from './ledger-batch.js';
import { encodeJson } from '../core/json.js';
export type { LockedWallet } from '../db/ledger.js';
import { optionalText, requireId, requireText } from './validate.js';

export interface LedgerResult {
  entries: (JournalEntry & { postings: Posting[] })[];
  /** the balances of every wallet the operation touched, the acting member's first */
  balances: Balance[];
  hold?: Hold;
}

interface Request {
  tenantId: string;
  idempotencyKey: string;
  /** who asked: an API key, a user, a job */
  actor?: string;
}

interface MemberRequest extends Request {
  memberId: string;
  /** wallet code; the program's `points` wallet by default */
  wallet?: string;
}

export { DEFAULT_WALLET };
const MAX_HOLD_SECONDS = 30 * 86_400;

interface OpenOptions {
  /** load the spendable lots that cover this many points (the operation consumes lots) */
  lots?: bigint;
  /** refuse suspended and erased members (reversals and hold resolutions go through regardless) */
  activeMember?: boolean;
  /** look the request's idempotency key up in the same statement as the lock (the transaction's first) */
  lookup?: KeyLookup;
  /** read what rules read of the member with the lock (LockedWallet.profile) */
  profile?: boolean;
}

/** idempotent() for a work whose first statement is openWallet with `lookup`. */
const LOOKUP_IN_WORK = { lookupInWork: true };

/** Locks a wallet, brings it up to `now`, and loads its lots when the operation consumes them. */
async function openWallet(trx: Trx, tenantId: string, memberId: string, walletCode: string, now: Date, options: OpenOptions = {}): Promise<LockedWallet> {
  let wallet: LockedWallet | null;
  if (options.lookup) {
    const found = await lockWalletFindingKey(trx, tenantId, memberId, walletCode, now, options.lookup.key, options.profile);
    options.lookup.found(found.stored);
    wallet = found.wallet;
  } else {
    wallet = await lockWallet(trx, tenantId, memberId, walletCode, now, options.profile);
  }
  if (!wallet) {
    const member = await trx.selectFrom('members').select('member_id')
      .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
    throw member ? notFound(`wallet ${walletCode}`, 'wallet') : notFound('member', 'memberId');
  }
  if (options.activeMember && wallet.memberStatus !== 'active') {
    throw new DomainError('conflict', `the member is ${wallet.memberStatus}`, 'memberId');
  }
  if (wallet.due) {
    await settle(trx, now, { tenantId, memberId, walletId: wallet.state.walletId });
    wallet = (await lockWallet(trx, tenantId, memberId, walletCode, now, options.profile))!;
  }
  if (options.lots !== undefined) wallet.state.lots = await loadLots(trx, tenantId, wallet.state, now, options.lots);
  return wallet;
}

function context(wallet: LockedWallet, now: Date, request: Request): LedgerContext {
  return {
    now, newId: () => uuidv7(now.getTime()), policy: wallet.policy, timeZone: wallet.timeZone,
    actor: request.actor ?? 'api', idempotencyKey: request.idempotencyKey,
  };
}

/** Balances after the decision, computed from the locked rows: exact, because nobody else can write them. */
function project(wallets: LockedWallet[], decision: Decision, now: Date): Balance[] {
  const changes = balanceChanges(decision);
  return wallets.map(({ state }) => {
    const c = changes.find((x) => x.memberId === state.memberId && x.walletId === state.walletId);
    const b = state.balance;
    if (!c) return b;
    return {
      ...b, available: b.available + c.available, pending: b.pending + c.pending, held: b.held + c.held,
      lifetimeEarned: b.lifetimeEarned + c.lifetimeEarned, lifetimeRedeemed: b.lifetimeRedeemed + c.lifetimeRedeemed,
      expired: b.expired + c.expired, lastActivityAt: c.active ? now : b.lastActivityAt,
    };
  });
}

/** Restored lots may already be past their expiry, and new points may owe a debt: then the wallets are settled again after the write. */
function needsSettling(wallets: LockedWallet[], decision: Decision): boolean {
  const newLots = new Set(decision.lots.map((l) => l.lotId));
  return decision.movements.some((m) => m.delta > 0n && !newLots.has(m.lotId))
    || wallets.some((w) => w.state.balance.available < 0n);
}

function answerOf(decision: Decision, balances: Balance[], hold?: Hold): LedgerResult {
  const entries = decision.entries.map(({ reversedKind: _, ...entry }) => entry);
  return { entries, balances, ...(hold ? { hold } : {}) };
}

/**
 * Writes a decision and answers. When the wallets need settling after the write (needsSettling),
 * they are settled with the same statements the jobs use before answering. Otherwise the whole
 * write, idempotency record included, is one statement.
 */
async function commit(trx: Trx, now: Date, wallets: LockedWallet[], decision: Decision,
  store: ((result: LedgerResult) => StoredResponse) | null, hold?: Hold): Promise<LedgerResult> {
  const tenantId = wallets[0]!.tenantId;
  if (!needsSettling(wallets, decision)) {
    const result = answerOf(decision, project(wallets, decision, now), hold);
    await writeDecision(trx, tenantId, decision, now, store?.(result));
    return result;
  }
  await writeDecision(trx, tenantId, decision, now);
  for (const w of wallets) await settle(trx, now, { tenantId, memberId: w.state.memberId, walletId: w.state.walletId });
  const result = answerOf(decision, await readBalances(trx, tenantId, wallets.map((w) => w.state)), hold);
  if (store) await storeIdempotency(trx, tenantId, store(result), now);
  return result;
}

/** A decision on a wallet a batch locked, with its answer; null when the wallet needs settling after it (the unbatched way). */
function decidedOn(wallet: LockedWallet, now: Date, decision: Decision): Decided<LedgerResult> | null {
  return needsSettling([wallet], decision) ? null : { decision, result: answerOf(decision, project([wallet], decision, now), decision.newHolds[0]) };
}

/** earnWithin, decided on a wallet a batch locked (a batched event's earn): null to go the unbatched way. */
export function decideEarnOn(wallet: LockedWallet, now: Date, input: Request & { amount: bigint; ref: string | null }): Decided<LedgerResult> | null {
  return decidedOn(wallet, now, decideEarn(context(wallet, now, input), wallet.state, input.amount, input.ref));
}

/**
 * An operation on one member's wallet: in the next batch (ledger-batch.ts), or on its own when
 * batching is off or the batch cannot take it (a missing wallet, a debt to settle after the write,
 * a batch that failed). Both paths decide with the same core function and answer the same.
 */
function walletOperation(laurel: Laurel, input: Request & { memberId: string }, code: string, operation: string, request: object,
  options: { activeMember: boolean; lots?: bigint }, decide: (wallet: LockedWallet, now: Date) => Decision): Promise<LedgerResult> {
  const { tenantId, memberId, idempotencyKey: key } = input;
  return batched<LedgerResult>(laurel, {
    wallet: { tenantId, memberId, code }, key, operation, requestHash: requestHash(operation, request), ...options,
    decide: (wallet, now) => decidedOn(wallet, now, decide(wallet, now)),
    alone: () => idempotent(laurel, tenantId, key, operation, request, async (trx, now, store, lookup) => {
      const wallet = await openWallet(trx, tenantId, memberId, code, now, { ...options, lookup });
      const decision = decide(wallet, now);
      return commit(trx, now, [wallet], decision, store, decision.newHolds[0]);
    }, LOOKUP_IN_WORK),
    encode: encodeJson,
  });
}

const walletCode = (code: unknown): string => (code === undefined ? DEFAULT_WALLET : requireText(code, 'wallet', 32));

export async function earn(laurel: Laurel, input: MemberRequest & { amount: bigint | number; ref?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const amount = positivePoints(input.amount, 'amount');
  const code = walletCode(input.wallet);
  const ref = optionalText(input.ref, 'ref', 200);
  return walletOperation(laurel, { ...input, idempotencyKey: key, memberId }, code, 'earn', { memberId, code, amount, ref }, { activeMember: true },
    (wallet, now) => decideEarn(context(wallet, now, input), wallet.state, amount, ref));
}

export async function redeem(laurel: Laurel, input: MemberRequest & { amount: bigint | number; ref?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const amount = positivePoints(input.amount, 'amount');
  const code = walletCode(input.wallet);
  const ref = optionalText(input.ref, 'ref', 200);
  return walletOperation(laurel, { ...input, idempotencyKey: key, memberId }, code, 'redeem', { memberId, code, amount, ref }, { activeMember: true, lots: amount },
    (wallet, now) => decideRedeem(context(wallet, now, input), wallet.state, amount, ref));
}

export async function adjust(laurel: Laurel, input: MemberRequest & { amount: bigint | number; reason: string; actor: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const reason = requireText(input.reason, 'reason', 500);
  const actor = requireText(input.actor, 'actor', 200);
  const raw = typeof input.amount === 'bigint' ? input.amount : Number.isSafeInteger(input.amount) ? BigInt(input.amount) : null;
  if (raw === null || raw === 0n || raw > MAX_POINTS || raw < -MAX_POINTS) {
    throw invalid('amount', `amount must be a non-zero integer between -${MAX_POINTS} and ${MAX_POINTS}`);
  }
  const code = walletCode(input.wallet);
  return walletOperation(laurel, { ...input, idempotencyKey: key, memberId }, code, 'adjust', { memberId, code, amount: raw, reason, actor },
    { activeMember: false, ...(raw < 0n ? { lots: -raw } : {}) },
    (wallet, now) => decideAdjust(context(wallet, now, { ...input, actor }), wallet.state, raw, reason));
}

export async function createHold(laurel: Laurel, input: MemberRequest & { amount: bigint | number; ttlSeconds: number; ref?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const amount = positivePoints(input.amount, 'amount');
  const ttl = input.ttlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_HOLD_SECONDS) {
    throw invalid('ttlSeconds', `ttlSeconds must be an integer from 1 to ${MAX_HOLD_SECONDS}`);
  }
  const code = walletCode(input.wallet);
  const ref = optionalText(input.ref, 'ref', 200);
  return walletOperation(laurel, { ...input, idempotencyKey: key, memberId }, code, 'hold', { memberId, code, amount, ttl, ref }, { activeMember: true, lots: amount },
    (wallet, now) => decideHold(context(wallet, now, input), wallet.state, amount, new Date(now.getTime() + ttl * 1000), ref));
}

/** Finds a hold, then locks its wallet and reads it again: holds change only under that lock. */
async function openHold(trx: Trx, tenantId: string, holdId: string, now: Date): Promise<{ wallet: LockedWallet; hold: Hold }> {
  const found = await loadHold(trx, tenantId, holdId);
  if (!found) throw notFound('hold', 'holdId');
  const code = (await trx.selectFrom('wallets').select('code').where('tenant_id', '=', tenantId).where('wallet_id', '=', found.walletId).executeTakeFirstOrThrow()).code;
  const wallet = await openWallet(trx, tenantId, found.memberId, code, now);
  return { wallet, hold: (await loadHold(trx, tenantId, holdId))! };
}

export async function captureHold(laurel: Laurel, input: Request & { holdId: string; amount?: bigint | number; ref?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const holdId = requireId(input.holdId, 'holdId', 'hold');
  const amount = input.amount === undefined ? null : positivePoints(input.amount, 'amount');
  const ref = optionalText(input.ref, 'ref', 200);
  return idempotent(laurel, input.tenantId, key, 'capture', { holdId, amount, ref }, (trx, now, store) =>
    captureWithin(trx, now, { ...input, holdId, amount, ref }, store));
}

/** A capture inside the caller's transaction (an event paying with points, a reward used at checkout). */
export async function captureWithin(trx: Trx, now: Date, input: Request & { holdId: string; amount: bigint | null; ref: string | null },
  store: ((result: LedgerResult) => StoredResponse) | null = null): Promise<LedgerResult> {
  const { wallet, hold } = await openHold(trx, input.tenantId, input.holdId, now);
  const consumed = await loadConsumption(trx, input.tenantId, hold.holdEntryId);
  const decision = decideCapture(context(wallet, now, input), wallet.state, hold, consumed, input.amount, input.ref);
  return commit(trx, now, [wallet], decision, store, { ...hold, status: 'captured', resolvedAt: now });
}

export async function voidHold(laurel: Laurel, input: Request & { holdId: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const holdId = requireId(input.holdId, 'holdId', 'hold');
  return idempotent(laurel, input.tenantId, key, 'void', { holdId }, (trx, now, store) => voidWithin(trx, now, { ...input, holdId }, store));
}

/** A void inside the caller's transaction (a reward reserved at checkout, cancelled). */
export async function voidWithin(trx: Trx, now: Date, input: Request & { holdId: string },
  store: ((result: LedgerResult) => StoredResponse) | null = null): Promise<LedgerResult> {
  const { wallet, hold } = await openHold(trx, input.tenantId, input.holdId, now);
  const consumed = await loadConsumption(trx, input.tenantId, hold.holdEntryId);
  const decision = decideVoid(context(wallet, now, input), wallet.state, hold, consumed);
  return commit(trx, now, [wallet], decision, store, { ...hold, status: 'voided', resolvedAt: now });
}

export async function transfer(laurel: Laurel, input: Request & { fromMemberId: string; toMemberId: string; wallet?: string; amount: bigint | number; reason?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const from = requireId(input.fromMemberId, 'fromMemberId', 'member');
  const to = requireId(input.toMemberId, 'toMemberId', 'member');
  if (from === to) throw invalid('toMemberId', 'a transfer needs two different members');
  const amount = positivePoints(input.amount, 'amount');
  const code = walletCode(input.wallet);
  const reason = optionalText(input.reason, 'reason', 500);
  return idempotent(laurel, input.tenantId, key, 'transfer', { from, to, code, amount, reason }, async (trx, now, store, lookup) => {
    // Two wallets: lock them in id order, as every other path does, so two transfers cannot deadlock.
    const [first, second] = [from, to].sort();
    const a = await openWallet(trx, input.tenantId, first!, code, now, { activeMember: true, lots: first === from ? amount : undefined, lookup });
    const b = await openWallet(trx, input.tenantId, second!, code, now, { activeMember: true, lots: second === from ? amount : undefined });
    const [sender, receiver] = first === from ? [a, b] : [b, a];
    if (sender.state.programId !== receiver.state.programId) throw invalid('toMemberId', 'both members must be in the same program');
    const decision = decideTransfer(context(sender, now, input), sender.state, receiver.state, amount, reason);
    return commit(trx, now, [sender, receiver], decision, store);
  }, LOOKUP_IN_WORK);
}

/** Reverses all, or `amount`, of an earn, redeem, adjustment or transfer. */
export async function reverseEntry(laurel: Laurel, input: Request & { entryId: string; amount?: bigint | number; reason?: string }): Promise<LedgerResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const entryId = requireId(input.entryId, 'entryId', 'journal entry');
  const amount = input.amount === undefined ? null : positivePoints(input.amount, 'amount');
  const reason = optionalText(input.reason, 'reason', 500);
  return idempotent(laurel, input.tenantId, key, 'reverse', { entryId, amount, reason }, (trx, now, store) =>
    reverseWithin(trx, now, { ...input, entryId, amount, reason }, store));
}

/**
 * A reversal inside the caller's transaction. With no `store`, no idempotency record is written:
 * the caller's own key (an event's) covers the whole transaction.
 */
export async function reverseWithin(trx: Trx, now: Date, input: Request & { entryId: string; amount: bigint | null; reason: string | null },
  store: ((result: LedgerResult) => StoredResponse) | null = null): Promise<LedgerResult> {
  const { entryId, amount, reason } = input;
  const found = await loadEntry(trx, input.tenantId, entryId);
  if (!found) throw notFound('journal entry', 'entryId');
  const { entry, walletCode: code } = found;
  const members = [...new Set([entry.memberId, entry.counterpartyId].filter((m): m is string => m !== null))].sort();
  const wallets = new Map<string, LockedWallet>();
  // A claw-back takes the entry's own lots first, then others: lots worth twice the entry cover
  // whatever the lots it created, which may be among them, still hold.
  for (const m of members) wallets.set(m, await openWallet(trx, input.tenantId, m, code, now, { lots: 2n * entry.amount }));
  // Read again under the locks: a concurrent reversal of the same entry is now visible.
  const reversed = (await loadEntry(trx, input.tenantId, entryId))!.reversed;
  const target: ReversalTarget = { entry, reversed };
  const actor = wallets.get(entry.memberId)!;
  if (entry.kind === 'transfer') {
    target.receiver = wallets.get(entry.counterpartyId!)!.state;
    target.payer = actor.state;
  } else if (entry.lotId !== null) {
    target.receiver = actor.state;
  } else {
    target.payer = actor.state;
  }
  // Points a member earned into a household's pool (or brought to it) are clawed back from the
  // pool: the member's wallet first, then the pool's, the order the event path locks them in.
  const pool = target.receiver && entry.kind !== 'transfer' ? await poolOfEntry(trx, input.tenantId, entry.entryId) : null;
  if (pool) {
    const locked = await openWallet(trx, input.tenantId, pool.accountMemberId, code, now, { lots: 2n * entry.amount });
    wallets.set(pool.accountMemberId, locked);
    target.pooledIn = locked.state;
    // The pool's lots read again under its lock: a spend may have taken from them meanwhile.
    target.createdLots = (await poolOfEntry(trx, input.tenantId, entry.entryId))!.lots;
    target.holds = await loadActiveHolds(trx, input.tenantId, locked.state.memberId, locked.state.walletId);
  } else if (target.receiver) {
    target.createdLots = await loadLotsCreatedBy(trx, input.tenantId, entry.entryId);
    target.holds = await loadActiveHolds(trx, input.tenantId, target.receiver.memberId, target.receiver.walletId);
  }
  if (target.payer) {
    const group = entry.holdId ? (await loadHold(trx, input.tenantId, entry.holdId))!.holdEntryId : entry.entryId;
    target.consumedGroupId = group;
    target.consumed = (await loadConsumption(trx, input.tenantId, group)).filter((t) => t.lot.memberId === entry.memberId);
  }
  const decision = decideReverse(context(actor, now, input), target, amount, reason);
  const ordered = [actor, ...[...wallets.values()].filter((w) => w !== actor)];
  const result = await commit(trx, now, ordered, decision, store);
  if (pool) {
    await recordHouseholdEntry(trx, input.tenantId, { entryId: decision.entries[0]!.entryId, householdId: pool.householdId, memberId: entry.memberId, action: 'returned' });
  }
  return result;
}

/**
 * Locks a member's wallet for operations made inside the caller's transaction (an event's),
 * settling what is due; with `lookup`, the caller's idempotency key is looked up under the lock.
 */
export async function lockMemberWallet(trx: Trx, tenantId: string, memberId: string, code: string, now: Date,
  options: Pick<OpenOptions, 'activeMember' | 'lookup' | 'lots' | 'profile'> = {}): Promise<LockedWallet> {
  return openWallet(trx, tenantId, memberId, code, now, options);
}

/** A spend from a wallet the caller locked with `lots` covering it, inside its transaction. */
export async function redeemWithin(trx: Trx, now: Date, wallet: LockedWallet, input: Request & { amount: bigint; ref: string | null }): Promise<LedgerResult> {
  return commit(trx, now, [wallet], decideRedeem(context(wallet, now, input), wallet.state, input.amount, input.ref), null);
}

/** A hold on a wallet the caller locked with `lots` covering it, inside its transaction. */
export async function holdWithin(trx: Trx, now: Date, wallet: LockedWallet, input: Request & { amount: bigint; expiresAt: Date; ref: string | null }): Promise<LedgerResult> {
  const decision = decideHold(context(wallet, now, input), wallet.state, input.amount, input.expiresAt, input.ref);
  return commit(trx, now, [wallet], decision, null, decision.newHolds[0]);
}

/**
 * A wallet locked earlier in this transaction, as the writes since have left it: its balance is the
 * one the last of `written` that wrote it answered (exact: the lock is held, nobody else writes it).
 * For credits only, which decide on the balance alone: the lots it was locked with are not carried.
 */
export function walletAfter(wallet: LockedWallet, written: readonly LedgerResult[]): LockedWallet {
  for (let i = written.length - 1; i >= 0; i--) {
    const balance = written[i]!.balances.find((b) => b.walletId === wallet.state.walletId);
    if (balance) return { ...wallet, due: false, state: { ...wallet.state, balance, lots: [] } };
  }
  return wallet;
}

/** An earn into a wallet the caller locked, inside its transaction; the caller's key covers it. */
export async function earnWithin(trx: Trx, now: Date, wallet: LockedWallet, input: Request & { amount: bigint; ref: string | null }): Promise<LedgerResult> {
  return commit(trx, now, [wallet], decideEarn(context(wallet, now, input), wallet.state, input.amount, input.ref), null);
}

/** One wallet's balance, or with no wallet given, every wallet of the member. */
export async function getBalances(laurel: Laurel, tenantId: string, memberId: string, wallet?: string): Promise<Balance[]> {
  const id = requireId(memberId, 'memberId', 'member');
  let query = laurel.db.selectFrom('balances as b')
    .innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
    .selectAll('b').select('w.code').where('b.tenant_id', '=', tenantId).where('b.member_id', '=', id);
  if (wallet !== undefined) query = query.where('w.code', '=', walletCode(wallet));
  const rows = await query.orderBy('w.code').execute();
  if (rows.length === 0) {
    throw wallet === undefined ? notFound('member', 'memberId') : notFound(`member or wallet ${wallet}`, 'wallet');
  }
  return rows.map(balanceOf);
}

export async function getBalance(laurel: Laurel, tenantId: string, memberId: string, wallet?: string): Promise<Balance> {
  return (await getBalances(laurel, tenantId, memberId, wallet ?? DEFAULT_WALLET))[0]!;
}

export interface JournalFilter {
  memberId: string;
  wallet?: string;
  kinds?: string[];
  from?: Date;
  to?: Date;
  /** entries older than this entry (pages go newest first) */
  before?: string | null;
  limit: number;
}

/** A member's journal, newest first, with postings; limit+1 rows so the caller knows if more follow. */
export async function listJournal(laurel: Laurel, tenantId: string, filter: JournalFilter): Promise<(JournalEntry & { postings: Posting[] })[]> {
  const memberId = requireId(filter.memberId, 'memberId', 'member');
  await getBalances(laurel, tenantId, memberId, filter.wallet);
  let q = laurel.db.selectFrom('journal_entries as e').selectAll('e')
    .where('e.tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('e.member_id', '=', memberId), eb('e.counterparty_id', '=', memberId)]));
  if (filter.wallet) {
    q = q.innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'e.tenant_id').onRef('w.wallet_id', '=', 'e.wallet_id'))
      .where('w.code', '=', filter.wallet);
  }
  if (filter.kinds?.length) q = q.where('e.kind', 'in', filter.kinds);
  if (filter.from) q = q.where('e.created_at', '>=', filter.from);
  if (filter.to) q = q.where('e.created_at', '<', filter.to);
  // Newest first by when the entry was made: settlement writes its entries with database-made
  // ids, so id order is not date order. The cursor is the last entry's id; the page after it
  // starts below that entry's (created_at, entry_id).
  if (filter.before) {
    const before = filter.before;
    q = q.where(sql<boolean>`(e.created_at, e.entry_id) < (select c.created_at, c.entry_id from journal_entries c where c.tenant_id = ${tenantId} and c.entry_id = ${before})`);
  }
  const rows = await q.orderBy('e.created_at', 'desc').orderBy('e.entry_id', 'desc').limit(filter.limit + 1).execute();
  return withPostings(laurel, tenantId, rows.map(entryOf));
}

async function withPostings(laurel: Laurel, tenantId: string, entries: JournalEntry[]): Promise<(JournalEntry & { postings: Posting[] })[]> {
  if (entries.length === 0) return [];
  const legs = await laurel.db.selectFrom('postings').select(['entry_id', 'account', 'member_id', 'amount'])
    .where('tenant_id', '=', tenantId).where('entry_id', 'in', entries.map((e) => e.entryId)).orderBy('entry_id').orderBy('leg').execute();
  return entries.map((e) => ({
    ...e,
    postings: legs.filter((l) => l.entry_id === e.entryId).map((l) => ({ account: l.account as Posting['account'], memberId: l.member_id, amount: l.amount })),
  }));
}

export async function getEntry(laurel: Laurel, tenantId: string, entryId: string): Promise<JournalEntry & { postings: Posting[] }> {
  const id = requireId(entryId, 'entryId', 'journal entry');
  const row = await laurel.db.selectFrom('journal_entries').selectAll().where('tenant_id', '=', tenantId).where('entry_id', '=', id).executeTakeFirst();
  if (!row) throw notFound('journal entry', 'entryId');
  return (await withPostings(laurel, tenantId, [entryOf(row)]))[0]!;
}

export async function getHold(laurel: Laurel, tenantId: string, holdId: string): Promise<Hold> {
  const id = requireId(holdId, 'holdId', 'hold');
  const hold = await laurel.db.transaction().execute((trx) => loadHold(trx, tenantId, id));
  if (!hold) throw notFound('hold', 'holdId');
  return hold;
}

export interface OpenLot {
  lotId: string;
  wallet: string;
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  earnedAt: Date;
  availableAt: Date;
  expiresAt: Date | null;
}

/**
 * A member's lots that still hold points (or a debt), soonest to expire first, then the ones that
 * never expire: what a member sees as "expiring soon" and support as the lots behind a balance.
 */
export async function openLots(laurel: Laurel, tenantId: string, memberId: string): Promise<OpenLot[]> {
  const id = requireId(memberId, 'memberId', 'member');
  await getBalances(laurel, tenantId, id);
  const rows = await laurel.db.selectFrom('lots as l')
    .innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'l.tenant_id').onRef('w.wallet_id', '=', 'l.wallet_id'))
    .select(['l.lot_id', 'w.code', 'l.amount', 'l.remaining', 'l.pending', 'l.earned_at', 'l.available_at', 'l.expires_at'])
    .where('l.tenant_id', '=', tenantId).where('l.member_id', '=', id).where('l.remaining', '<>', 0n)
    .orderBy('l.expires_at', (ob) => ob.asc().nullsLast()).orderBy('l.lot_id').limit(200).execute();
  return rows.map((r) => ({
    lotId: r.lot_id, wallet: r.code, amount: BigInt(r.amount), remaining: BigInt(r.remaining), pending: r.pending,
    earnedAt: r.earned_at, availableAt: r.available_at, expiresAt: r.expires_at,
  }));
}
