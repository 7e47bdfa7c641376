// Employee recognition use cases: settings, the allowance job, gifts (given at once, or waiting
// for a manager), approvals, the feed, the leaderboard and the giving report. Every point moved
// is written through the ledger's decisions and writeDecision, so verifyLedger covers it.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { mergeDecisions, type Balance, type JournalEntry, type LedgerContext, type Posting } from '../core/ledger/types.js';
import { positivePoints } from '../core/points.js';
import { DEFAULT_WALLET } from '../core/program.js';
import {
  checkGift, decideGiftCredit, decideGiftSpend, periodOf, readMessage, validateSettings, type RecognitionSettings,
} from '../core/engagement/recognition.js';
import { enqueueMessage } from '../db/jobs.js';
import { readBalances, storeIdempotency, writeDecision, type LockedWallet, type Trx } from '../db/ledger.js';
import {
  decideGiftRow, givingReport, insertGift, issueAllowances, leaderboard, listGifts, listSettings, loadGift, loadSettings, saveSettings, walletsOf,
  type GiftFilter, type GiftRow, type GivingRow, type LeaderRow, type StoredSettings,
} from '../db/recognition.js';
import { milestonesOnCredit } from './achievements.js';
import type { Laurel } from './context.js';
import { idempotent, requireIdempotencyKey } from './idempotency.js';
import { lockMemberWallet, reverseWithin } from './ledger.js';
import { optionalText, requireId } from './validate.js';

export type { StoredSettings, GivingRow, LeaderRow };
const CHUNK = 5000;

async function requireProgram(laurel: Laurel, tenantId: string, programId: string): Promise<{ programId: string; timeZone: string }> {
  const id = requireId(programId, 'programId', 'program');
  const row = await laurel.db.selectFrom('programs as p').innerJoin('tenants as t', 't.tenant_id', 'p.tenant_id')
    .select(['p.program_id', 't.time_zone']).where('p.tenant_id', '=', tenantId).where('p.program_id', '=', id).executeTakeFirst();
  if (!row) throw notFound('program', 'programId');
  return { programId: row.program_id, timeZone: row.time_zone };
}

export async function getRecognition(laurel: Laurel, tenantId: string, programId: string): Promise<StoredSettings> {
  const program = await requireProgram(laurel, tenantId, programId);
  const settings = await loadSettings(laurel.db, tenantId, program.programId);
  if (!settings) throw notFound('recognition settings (the program is not a recognition program)', 'programId');
  return settings;
}

/** The tenant's recognition programs. */
export const listRecognitionPrograms = (laurel: Laurel, tenantId: string): Promise<StoredSettings[]> => listSettings(laurel.db, tenantId);

/** Makes a program a recognition program, or changes its rules; the next allowance follows them. */
export async function putRecognition(laurel: Laurel, tenantId: string, programId: string, input: unknown): Promise<StoredSettings> {
  const program = await requireProgram(laurel, tenantId, programId);
  const settings = validateSettings(input);
  const wallets = await walletsOf(laurel.db, tenantId, program.programId);
  if (!wallets.has(settings.givingWallet)) throw invalid('givingWallet', `the program has no wallet ${settings.givingWallet}`);
  const receiving = wallets.get(settings.receivingWallet);
  if (!receiving) throw invalid('receivingWallet', `the program has no wallet ${settings.receivingWallet}`);
  if (receiving !== 'redeemable') throw invalid('receivingWallet', 'received points go to a redeemable wallet');
  await laurel.db.transaction().execute((trx) => saveSettings(trx, tenantId, program.programId, settings, laurel.clock.now()));
  return (await loadSettings(laurel.db, tenantId, program.programId))!;
}

/** The allowance job: this period's allowance to every member who has not had it; set-based, chunked, resumable. */
export async function issueAllAllowances(laurel: Laurel, now: Date, only?: { tenantId: string; programId: string }, progress: (done: number) => void = () => {}) {
  let members = 0;
  let points = 0n;
  for (;;) {
    const r = await laurel.db.transaction().execute((trx) => issueAllowances(trx, now, CHUNK, only));
    members += r.members;
    points += r.points;
    progress(members);
    if (r.members < CHUNK) return { members, points };
  }
}

export async function issueProgramAllowances(laurel: Laurel, tenantId: string, programId: string) {
  const settings = await getRecognition(laurel, tenantId, programId);
  const now = laurel.clock.now();
  return issueAllAllowances(laurel, now, { tenantId, programId: settings.programId });
}

export interface Gift {
  giftId: string;
  programId: string;
  giverId: string;
  receiverId: string;
  amount: bigint;
  message: string;
  value: string;
  status: GiftRow['status'];
  spendEntryId: string;
  creditEntryId: string | null;
  returnEntryId: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
  createdAt: Date;
}

export const giftOf = (r: GiftRow): Gift => ({
  giftId: r.gift_id, programId: r.program_id, giverId: r.giver_id, receiverId: r.receiver_id, amount: BigInt(r.amount), message: r.message,
  value: r.value_tag, status: r.status, spendEntryId: r.spend_entry_id, creditEntryId: r.credit_entry_id, returnEntryId: r.return_entry_id,
  decidedBy: r.decided_by, decidedAt: r.decided_at, note: r.note, createdAt: r.created_at,
});

/**
 * The webhook message of a gift as it now stands: `recognition.gift_pending` (waiting for a
 * manager), `recognition.gift_approved` (the receiver credited, at once or on approval) or
 * `recognition.gift_declined` (the allowance back to the giver). One per gift and status.
 */
async function tellGift(trx: Trx, tenantId: string, gift: Gift, now: Date): Promise<void> {
  await enqueueMessage(trx, tenantId, `recognition.gift_${gift.status}`, `recognition.gift_${gift.status}:${gift.giftId}`, {
    giftId: gift.giftId, programId: gift.programId, giverId: gift.giverId, receiverId: gift.receiverId, amount: gift.amount,
    value: gift.value, message: gift.message, status: gift.status, decidedBy: gift.decidedBy, note: gift.note,
    createdAt: gift.createdAt, decidedAt: gift.decidedAt,
  }, now);
}

export interface GiftResult {
  gift: Gift;
  entries: (JournalEntry & { postings: Posting[] })[];
  /** the giver's giving wallet, then (once credited) the receiver's receiving wallet */
  balances: Balance[];
}

function context(wallet: LockedWallet, now: Date, actor: string, key: string | null): LedgerContext {
  return { now, newId: () => uuidv7(now.getTime()), policy: wallet.policy, timeZone: wallet.timeZone, actor, idempotencyKey: key };
}

async function memberProgram(trx: Trx, tenantId: string, memberId: string, field: string): Promise<{ programId: string; status: string }> {
  const row = await trx.selectFrom('members').select(['program_id', 'status']).where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
  if (!row) throw notFound('member', field);
  return { programId: row.program_id, status: row.status };
}

export interface GiveInput {
  tenantId: string;
  idempotencyKey: string;
  actor: string;
  giverId: string;
  receiverId: unknown;
  amount: unknown;
  message: unknown;
  value: unknown;
}

/**
 * A gift: the giver's allowance is spent at once (so concurrent gifts can never give more than
 * it holds: each locks the giver's giving wallet); the receiver is credited at once, or on
 * approval when the gift is above the program's threshold.
 */
export async function give(laurel: Laurel, input: GiveInput): Promise<GiftResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const giverId = requireId(input.giverId, 'memberId', 'member');
  const receiverId = requireId(input.receiverId, 'receiverId', 'member');
  if (giverId === receiverId) throw invalid('receiverId', 'a member cannot give to themselves');
  const amount = positivePoints(input.amount as number, 'amount');
  const message = readMessage(input.message);
  if (typeof input.value !== 'string') throw invalid('value', 'value must be one of the program\'s company values');
  const value = input.value;
  return idempotent(laurel, input.tenantId, key, 'recognition_gift', { giverId, receiverId, amount, message, value }, async (trx, now, store) => {
    const giver = await memberProgram(trx, input.tenantId, giverId, 'memberId');
    const receiver = await memberProgram(trx, input.tenantId, receiverId, 'receiverId');
    if (receiver.programId !== giver.programId) throw invalid('receiverId', 'the receiver is in another program');
    if (receiver.status !== 'active') throw new DomainError('conflict', `the receiver is ${receiver.status}`, 'receiverId');
    const settings = await loadSettings(trx, input.tenantId, giver.programId);
    if (!settings) throw new DomainError('conflict', 'the member\'s program is not a recognition program', 'memberId');
    const { needsApproval } = checkGift(settings, { giverId, receiverId, amount, message, value });
    // Both wallets locked in member order, as the ledger does, so crossing gifts never deadlock.
    const locks: [string, string][] = [[giverId, settings.givingWallet], [receiverId, settings.receivingWallet]];
    const locked = new Map<string, LockedWallet>();
    for (const [m, code] of locks.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      locked.set(m, await lockMemberWallet(trx, input.tenantId, m, code, now, { activeMember: true, ...(m === giverId ? { lots: amount } : {}) }));
    }
    const giving = locked.get(giverId)!;
    const receiving = locked.get(receiverId)!;
    const giftId = uuidv7(now.getTime());
    const ref = `gift:${giftId}`;
    const spend = decideGiftSpend(context(giving, now, input.actor, key), giving.state, amount, receiverId, ref);
    const credit = needsApproval ? null : decideGiftCredit(context(receiving, now, input.actor, key), receiving.state, amount, giverId, ref);
    const decision = credit ? mergeDecisions(spend, credit) : spend;
    await writeDecision(trx, input.tenantId, decision, now);
    if (credit) await receiverMilestones(trx, now, settings, { tenantId: input.tenantId, programId: giver.programId, memberId: receiverId, key, actor: input.actor });
    const row: Omit<GiftRow, 'decided_by' | 'decided_at' | 'note' | 'return_entry_id'> = {
      tenant_id: input.tenantId, gift_id: giftId, program_id: giver.programId, giver_id: giverId, receiver_id: receiverId, amount, message,
      value_tag: value, status: credit ? 'approved' : 'pending', spend_entry_id: spend.entries[0]!.entryId,
      credit_entry_id: credit ? credit.entries[0]!.entryId : null, created_at: now,
    };
    await insertGift(trx, row);
    const balances = await readBalances(trx, input.tenantId, credit ? [giving.state, receiving.state] : [giving.state]);
    const result: GiftResult = {
      gift: giftOf({ ...row, decided_by: credit ? 'auto' : null, decided_at: credit ? now : null, note: null, return_entry_id: null }),
      entries: decision.entries.map(({ reversedKind: _, ...e }) => e),
      balances,
    };
    if (credit) await decideGiftRow(trx, input.tenantId, giftId, { status: 'approved', creditEntryId: row.credit_entry_id, returnEntryId: null, decidedBy: 'auto', note: null, at: now });
    await tellGift(trx, input.tenantId, result.gift, now);
    await storeIdempotency(trx, input.tenantId, store(result), now);
    return result;
  });
}

/** A gift received into the points wallet moves the balance the program's milestones watch. */
async function receiverMilestones(trx: Trx, now: Date, settings: { receivingWallet: string }, ctx: { tenantId: string; programId: string; memberId: string; key: string; actor: string }): Promise<void> {
  if (settings.receivingWallet === DEFAULT_WALLET) await milestonesOnCredit(trx, now, ctx);
}

export interface DecideInput {
  tenantId: string;
  idempotencyKey: string;
  actor: string;
  giftId: string;
  note?: unknown;
}

/** A manager approves a waiting gift: the receiver is credited. */
export async function approveGift(laurel: Laurel, input: DecideInput): Promise<GiftResult> {
  return decide(laurel, input, 'approved');
}

/** A manager declines a waiting gift: the giver's allowance comes back (and lapses, if its period has ended). */
export async function declineGift(laurel: Laurel, input: DecideInput): Promise<GiftResult> {
  return decide(laurel, input, 'declined');
}

async function decide(laurel: Laurel, input: DecideInput, status: 'approved' | 'declined'): Promise<GiftResult> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const giftId = requireId(input.giftId, 'giftId', 'gift');
  const note = optionalText(input.note, 'note', 500);
  return idempotent(laurel, input.tenantId, key, `recognition_${status}`, { giftId, note }, async (trx, now, store) => {
    const found = await loadGift(trx, input.tenantId, giftId, true);
    if (!found) throw notFound('gift', 'giftId');
    if (found.status !== 'pending') throw new DomainError('conflict', `the gift is already ${found.status}`, 'giftId');
    const settings = (await loadSettings(trx, input.tenantId, found.program_id))!;
    const amount = BigInt(found.amount);
    let entries: GiftResult['entries'];
    let balances: Balance[];
    let creditEntryId: string | null = null;
    let returnEntryId: string | null = null;
    if (status === 'approved') {
      const receiving = await lockMemberWallet(trx, input.tenantId, found.receiver_id, settings.receivingWallet, now);
      const credit = decideGiftCredit(context(receiving, now, input.actor, key), receiving.state, amount, found.giver_id, `gift:${giftId}`);
      await writeDecision(trx, input.tenantId, credit, now);
      await receiverMilestones(trx, now, settings, { tenantId: input.tenantId, programId: found.program_id, memberId: found.receiver_id, key, actor: input.actor });
      entries = credit.entries.map(({ reversedKind: _, ...e }) => e);
      creditEntryId = credit.entries[0]!.entryId;
      balances = await readBalances(trx, input.tenantId, [receiving.state]);
    } else {
      const reversed = await reverseWithin(trx, now, {
        tenantId: input.tenantId, idempotencyKey: key, actor: input.actor, entryId: found.spend_entry_id, amount: null, reason: 'recognition gift declined',
      });
      entries = reversed.entries;
      returnEntryId = reversed.entries[0]!.entryId;
      balances = reversed.balances.filter((b) => b.memberId === found.giver_id);
    }
    await decideGiftRow(trx, input.tenantId, giftId, { status, creditEntryId, returnEntryId, decidedBy: input.actor, note, at: now });
    const result: GiftResult = {
      gift: giftOf({ ...found, status, credit_entry_id: creditEntryId, return_entry_id: returnEntryId, decided_by: input.actor, decided_at: now, note }),
      entries, balances,
    };
    await tellGift(trx, input.tenantId, result.gift, now);
    await storeIdempotency(trx, input.tenantId, store(result), now);
    return result;
  });
}

export async function getGift(laurel: Laurel, tenantId: string, giftId: string): Promise<Gift> {
  const id = requireId(giftId, 'giftId', 'gift');
  const row = await loadGift(laurel.db, tenantId, id);
  if (!row) throw notFound('gift', 'giftId');
  return giftOf(row);
}

export async function listProgramGifts(laurel: Laurel, tenantId: string, filter: Omit<GiftFilter, 'programId'> & { programId: string }): Promise<Gift[]> {
  const program = await requireProgram(laurel, tenantId, filter.programId);
  const memberId = filter.memberId === undefined ? undefined : requireId(filter.memberId, 'memberId', 'member');
  return (await listGifts(laurel.db, tenantId, { ...filter, memberId, programId: program.programId })).map(giftOf);
}

/** The feed a member's portal shows: the approved gifts of their program, newest first. */
export async function memberFeed(laurel: Laurel, tenantId: string, memberId: string, page: { before: string | null; limit: number }): Promise<Gift[]> {
  const id = requireId(memberId, 'memberId', 'member');
  const member = await laurel.db.selectFrom('members').select('program_id').where('tenant_id', '=', tenantId).where('member_id', '=', id).executeTakeFirst();
  if (!member) throw notFound('member', 'memberId');
  return (await listGifts(laurel.db, tenantId, { programId: member.program_id, status: 'approved', ...page })).map(giftOf);
}

export interface Board {
  programId: string;
  period: RecognitionSettings['period'];
  from: Date;
  to: Date;
  leaders: LeaderRow[];
}

/** The period holding `at` (default now), on the tenant's calendar, and its most recognised members. */
export async function getLeaderboard(laurel: Laurel, tenantId: string, programId: string, at: Date | null, limit: number): Promise<Board> {
  const program = await requireProgram(laurel, tenantId, programId);
  const settings = await getRecognition(laurel, tenantId, program.programId);
  const { start, end } = periodOf(settings.period, at ?? laurel.clock.now(), program.timeZone);
  return { programId: program.programId, period: settings.period, from: start, to: end, leaders: await leaderboard(laurel.db, tenantId, program.programId, start, end, limit) };
}

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Giving by a member attribute (team, department…) within [from, to); defaults: the current period. */
export async function getGivingReport(laurel: Laurel, tenantId: string, programId: string, q: { attribute: string; from?: Date; to?: Date }) {
  const program = await requireProgram(laurel, tenantId, programId);
  if (!ATTRIBUTE.test(q.attribute)) throw invalid('attribute', 'attribute is the name of a member attribute, such as team');
  const settings = await getRecognition(laurel, tenantId, program.programId);
  const current = periodOf(settings.period, laurel.clock.now(), program.timeZone);
  const from = q.from ?? current.start;
  const to = q.to ?? current.end;
  if (to <= from) throw invalid('to', 'to must be after from');
  return { programId: program.programId, attribute: q.attribute, from, to, groups: await givingReport(laurel.db, tenantId, program.programId, q.attribute, from, to) };
}
