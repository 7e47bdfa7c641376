// The rewards catalog and redemption (SPEC §6). Redeeming checks the member may (every lock of
// core/rewards/eligibility), pays — a spend, or a hold when the reward is part of a checkout —
// and issues an instance with a code the shop validates and consumes once. Cancelling an unused
// instance gives back the exact points (the same lots); an expired one follows the program.
// Every write is one transaction and idempotent under its key; stock and per-member limits are
// decided under the reward row's lock and the member's wallet lock, so races never exceed them.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { DEFAULT_WALLET } from '../core/program.js';
import { newCode, normaliseCode, type RandomSource } from '../core/rewards/codes.js';
import { locksOf, memberOrder, type Lock } from '../core/rewards/eligibility.js';
import { payable } from '../core/rewards/points-payment.js';
import { USED_ON_ISSUE, validateReward, type Reward } from '../core/rewards/reward.js';
import { basketOf } from '../core/rules/basket.js';
import { compileCondition, readsStats } from '../core/rules/conditions.js';
import { factsOf, NO_STATS } from '../core/rules/facts.js';
import { loadEventProgram, loadMemberProfile } from '../db/events.js';
import { enqueueMessage, type OutboxMessage } from '../db/jobs.js';
import { storeIdempotency, type Trx } from '../db/ledger.js';
import {
  claimRefundableInstances, codeTaken, countIssued, donationTotals, forfeitExpiredInstances, freePartnerCodes, importPartnerCodeRows,
  insertInstance, insertReward, issueInstance, listMemberInstances, listProgramInstances, listRewardRows, loadInstance, loadReward, loadRewardToIssue, memberRewardUsage, queueRewardReminders,
  replaceReward, resolveInstance, settleReservedInstances, takePartnerCode, type Instance, type InstanceFilter, type RewardRow,
} from '../db/rewards.js';
import { memberStats } from '../db/rules.js';
import type { Db } from '../db/schema.js';
import type { Laurel } from './context.js';
import { idempotent, requireIdempotencyKey, writeOnce } from './idempotency.js';
import {
  captureWithin, earnWithin, getBalance, holdWithin, lockMemberWallet, redeemWithin, reverseWithin, voidWithin, type LedgerResult,
} from './ledger.js';
import { getMember } from './members.js';
import { heldTier } from './memberships.js';
import { getProgram } from './tenants.js';
import { ladderOf } from './tiers.js';
import { optionalText, requireId } from './validate.js';

export async function createReward(laurel: Laurel, tenantId: string, programId: string, input: unknown,
  options: { idempotencyKey?: string } = {}): Promise<RewardRow> {
  const program = await getProgram(laurel, tenantId, programId);
  const definition = validateReward(input, { wallets: new Set(program.wallets.map((w) => w.code)) });
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'create_reward', { programId: program.programId, definition }, async (trx, now) => {
    await refuseTakenCode(trx, tenantId, program.programId, definition.code, null);
    return insertReward(trx, tenantId, uuidv7(now.getTime()), program.programId, definition, now);
  });
}

async function refuseTakenCode(trx: Trx, tenantId: string, programId: string, code: string, except: string | null): Promise<void> {
  const other = await trx.selectFrom('rewards').select('reward_id').where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where('code', '=', code).executeTakeFirst();
  if (other && other.reward_id !== except) throw new DomainError('conflict', `the program already has a reward ${code}`, 'code');
}

/** Replaces a reward's definition: instances already issued keep what they were issued with. */
export async function updateReward(laurel: Laurel, tenantId: string, rewardId: string, input: unknown): Promise<RewardRow> {
  const current = await getReward(laurel, tenantId, rewardId);
  const program = await getProgram(laurel, tenantId, current.reward.programId);
  const definition = validateReward(input, { wallets: new Set(program.wallets.map((w) => w.code)) });
  if (definition.value.type !== current.reward.value.type) throw invalid('value.type', 'a reward keeps its type: create another reward');
  return laurel.db.transaction().execute(async (trx) => {
    await refuseTakenCode(trx, tenantId, program.programId, definition.code, current.reward.rewardId);
    return (await replaceReward(trx, tenantId, current.reward.rewardId, definition, laurel.clock.now()))!;
  });
}

export async function getReward(laurel: Laurel, tenantId: string, rewardId: string): Promise<RewardRow> {
  const row = await loadReward(laurel.db, tenantId, requireId(rewardId, 'rewardId', 'reward'));
  if (!row) throw notFound('reward', 'rewardId');
  return row;
}

/** The catalog; each partner voucher with how many of its codes are still free. */
export async function listRewards(laurel: Laurel, tenantId: string, programId: string): Promise<(RewardRow & { partnerCodesFree?: bigint })[]> {
  const program = await getProgram(laurel, tenantId, programId);
  const rows = await listRewardRows(laurel.db, tenantId, program.programId);
  const vouchers = rows.filter((r) => r.reward.value.type === 'partner_voucher');
  const free = await freePartnerCodes(laurel.db, tenantId, vouchers.map((r) => r.reward.rewardId));
  return rows.map((r) => (r.reward.value.type === 'partner_voucher' ? { ...r, partnerCodesFree: free.get(r.reward.rewardId) ?? 0n } : r));
}

const PARTNER_CODE = /^[\x21-\x7e]{1,100}$/;
const MAX_IMPORT = 10_000;

/** Adds a partner's voucher codes to a partner_voucher reward; codes already there are skipped. */
export async function importPartnerCodes(laurel: Laurel, tenantId: string, rewardId: string, codes: unknown): Promise<{ imported: number; free: bigint }> {
  const { reward } = await getReward(laurel, tenantId, rewardId);
  if (reward.value.type !== 'partner_voucher') throw invalid('rewardId', 'only a partner_voucher reward takes partner codes');
  if (!Array.isArray(codes) || codes.length === 0 || codes.length > MAX_IMPORT) throw invalid('codes', `codes must be a list of 1 to ${MAX_IMPORT} codes`);
  codes.forEach((c, i) => {
    if (typeof c !== 'string' || !PARTNER_CODE.test(c)) throw invalid(`codes[${i}]`, `codes[${i}] must be 1 to 100 printable characters without spaces`);
  });
  const imported = await laurel.db.transaction().execute((trx) => importPartnerCodeRows(trx, tenantId, reward.rewardId, codes as string[], laurel.clock.now()));
  return { imported, free: (await freePartnerCodes(laurel.db, tenantId, [reward.rewardId])).get(reward.rewardId) ?? 0n };
}

/** What a member sees of a reward: whether they may redeem it now, and if not, why. */
export interface RewardForMember {
  reward: Reward;
  /** instances issued and not cancelled */
  issued: bigint;
  stockLeft: bigint | null;
  available: bigint;
  locks: Lock[];
}

interface MemberContext {
  tier: string | null;
  grade: string | null;
  facts: ReturnType<typeof factsOf>;
  reservedFor: (code: string) => string[];
  timeZone: string;
}

async function memberContext(db: Db, tenantId: string, programId: string, memberId: string, now: Date, channel: string | null, needsStats: boolean): Promise<MemberContext> {
  const program = (await loadEventProgram(db, tenantId, programId))!;
  const ladder = ladderOf(program.ladder);
  const stored = (await loadMemberProfile(db, tenantId, memberId))!;
  const profile = { ...stored, tier: (await heldTier(db, tenantId, ladder, memberId, stored.tier, now)).tier };
  const stats = needsStats ? await memberStats(db, tenantId, memberId, now) : NO_STATS;
  const facts = factsOf({
    event: { type: 'reward', externalId: '', channel, location: null, orderId: null, occurredAt: now, attributes: {}, currency: program.currency, paidWithPoints: 0n },
    basket: basketOf([], 0n), member: profile, stats, timeZone: program.timeZone,
  });
  return {
    tier: profile.tier, grade: profile.grade, facts, timeZone: program.timeZone,
    reservedFor: (code) => ladder?.tiers.filter((t) => t.benefits.rewardAccess.includes(code)).map((t) => t.code) ?? [],
  };
}

const stockLeft = (row: RewardRow, partnerFree: bigint | undefined): bigint | null => {
  const left = row.reward.stock === null ? null : row.reward.stock - row.issued;
  if (row.reward.value.type !== 'partner_voucher') return left;
  const free = partnerFree ?? 0n;
  return left === null || free < left ? free : left;
};

/** The program's rewards as a member sees them: what they can redeem first, then what points alone keep from them, then the rest, each with why. */
export async function rewardsForMember(laurel: Laurel, tenantId: string, memberId: string, channel: string | null = null): Promise<RewardForMember[]> {
  const member = await getMember(laurel, tenantId, memberId);
  const now = laurel.clock.now();
  const rows = await listRewardRows(laurel.db, tenantId, member.programId);
  const ctx = await memberContext(laurel.db, tenantId, member.programId, member.memberId, now, channel, rows.some((r) => readsStats(r.reward.segment)));
  const usage = await memberRewardUsage(laurel.db, tenantId, member.memberId, now, ctx.timeZone);
  const partners = await freePartnerCodes(laurel.db, tenantId, rows.filter((r) => r.reward.value.type === 'partner_voucher').map((r) => r.reward.rewardId));
  const available = (await getBalance(laurel, tenantId, member.memberId)).available;
  return memberOrder(rows.map((row) => {
    const left = stockLeft(row, partners.get(row.reward.rewardId));
    return {
      reward: row.reward, issued: row.issued, stockLeft: left, available,
      locks: locksOf(row.reward, {
        now, channel, member: ctx, inSegment: row.reward.segment === null || compileCondition(row.reward.segment)(ctx.facts),
        reservedFor: ctx.reservedFor(row.reward.code), stockLeft: left, usage: (p) => usage(row.reward.rewardId, p), available,
      }),
    };
  }));
}

export interface RedeemInput {
  rewardId: string;
  memberId: string;
  /** the channel redeeming (web, app, store): channel-restricted rewards need it */
  channel?: string | null;
  /** part of a checkout: the points are held for this long, and the order captures them when it uses the reward */
  holdSeconds?: number | null;
}

export interface Redemption {
  instance: Instance;
  /** the spend (or hold) that paid it, and for store credit the credit, with the balances after them */
  ledger: LedgerResult[];
}

const MAX_HOLD_SECONDS = 30 * 86_400;
const CODE_ATTEMPTS = 5;

/** A code no instance of the tenant has: drawn again on the (2^-80-rare) collision. */
export async function freshCode(trx: Trx, tenantId: string, random?: RandomSource): Promise<string> {
  for (let i = 0; i < CODE_ATTEMPTS; i++) {
    const code = newCode(random);
    if (!(await codeTaken(trx, tenantId, code))) return code;
  }
  throw new Error(`no free reward code after ${CODE_ATTEMPTS} draws: the random source is broken`);
}

function refusal(lock: Lock): DomainError {
  if (lock.reason === 'points') return new DomainError('insufficient_points', `not enough points: ${lock.detail}`, 'rewardId');
  return new DomainError('conflict', `this member cannot redeem the reward now (${lock.reason}: ${lock.detail})`, 'rewardId');
}

export async function redeemReward(laurel: Laurel, tenantId: string, input: RedeemInput, options: { idempotencyKey: unknown; actor: string }): Promise<Redemption> {
  const key = requireIdempotencyKey(options.idempotencyKey);
  const rewardId = requireId(input.rewardId, 'rewardId', 'reward');
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const channel = optionalText(input.channel, 'channel', 200);
  const holdSeconds = input.holdSeconds ?? null;
  if (holdSeconds !== null && (!Number.isInteger(holdSeconds) || holdSeconds < 1 || holdSeconds > MAX_HOLD_SECONDS)) {
    throw invalid('holdSeconds', `holdSeconds must be an integer from 1 to ${MAX_HOLD_SECONDS}`);
  }
  const found = await loadReward(laurel.db, tenantId, rewardId);
  if (!found) throw notFound('reward', 'rewardId');
  const member = await getMember(laurel, tenantId, memberId);
  if (member.programId !== found.reward.programId) throw notFound('reward', 'rewardId');
  if (holdSeconds !== null && USED_ON_ISSUE.has(found.reward.value.type)) throw invalid('holdSeconds', `a ${found.reward.value.type} reward is used when it is issued: it cannot wait for a checkout`);
  const request = { rewardId, memberId, channel, holdSeconds };
  return idempotent(laurel, tenantId, key, 'redeem_reward', request, async (trx, now, store, lookup) => {
    // Wallet first, then the reward row (when it needs locking): the order every path takes.
    const wallet = await lockMemberWallet(trx, tenantId, memberId, DEFAULT_WALLET, now, { activeMember: true, lookup, lots: found.reward.cost });
    const row = (await loadRewardToIssue(trx, tenantId, rewardId))!;
    const { reward } = row;
    const ctx = await memberContext(trx, tenantId, reward.programId, memberId, now, channel, readsStats(reward.segment));
    const usage = await memberRewardUsage(trx, tenantId, memberId, now, ctx.timeZone);
    const partners = reward.value.type === 'partner_voucher' ? await freePartnerCodes(trx, tenantId, [rewardId]) : new Map<string, bigint>();
    const locks = locksOf(reward, {
      now, channel, member: ctx, inSegment: reward.segment === null || compileCondition(reward.segment)(ctx.facts),
      reservedFor: ctx.reservedFor(reward.code), stockLeft: stockLeft(row, partners.get(rewardId)), usage: (p) => usage(rewardId, p),
      available: wallet.state.balance.available,
    });
    if (locks.length > 0) throw refusal(locks[0]!);
    const instanceId = uuidv7(now.getTime());
    const code = await freshCode(trx, tenantId);
    const ref = `reward:${code}`;
    const paying = { tenantId, idempotencyKey: key, actor: options.actor };
    const ledger: LedgerResult[] = [];
    const paid = holdSeconds !== null
      ? await holdWithin(trx, now, wallet, { ...paying, amount: reward.cost, expiresAt: new Date(now.getTime() + holdSeconds * 1000), ref })
      : await redeemWithin(trx, now, wallet, { ...paying, amount: reward.cost, ref });
    ledger.push(paid);
    if (reward.value.type === 'store_credit') {
      const credit = await lockMemberWallet(trx, tenantId, memberId, reward.value.wallet, now);
      ledger.push(await earnWithin(trx, now, credit, { ...paying, amount: reward.value.amount, ref }));
    }
    const partnerCode = reward.value.type === 'partner_voucher' ? await takePartnerCode(trx, tenantId, rewardId, instanceId) : null;
    if (reward.value.type === 'partner_voucher' && partnerCode === null) throw refusal({ reason: 'stock', detail: 'no partner code left' });
    const usedNow = USED_ON_ISSUE.has(reward.value.type);
    const instance: Instance = {
      instanceId, programId: reward.programId, rewardId, memberId, code, status: holdSeconds !== null ? 'reserved' : usedNow ? 'consumed' : 'issued',
      cost: reward.cost, value: reward.value, partnerCode, channel, entryId: holdSeconds === null ? paid.entries[0]!.entryId : null,
      holdId: paid.hold?.holdId ?? null, issuedAt: now,
      expiresAt: holdSeconds !== null ? paid.hold!.expiresAt : reward.expiresAfterDays === null || usedNow ? null : new Date(now.getTime() + reward.expiresAfterDays * 86_400_000),
      resolvedAt: usedNow ? now : null, consumedRef: null,
    };
    await insertInstance(trx, tenantId, instance);
    await countIssued(trx, tenantId, rewardId, 1);
    await enqueueMessage(trx, tenantId, 'reward.issued', `reward.issued:${instanceId}`, messageOf(instance, reward), now);
    if (usedNow) await enqueueMessage(trx, tenantId, 'reward.consumed', `reward.consumed:${instanceId}`, messageOf(instance, reward), now);
    const result: Redemption = { instance, ledger };
    await storeIdempotency(trx, tenantId, store(result), now);
    return result;
  }, { lookupInWork: true });
}

// A partner code, once given out, is the member's: it never returns to the pool (they saw it and may have used it at the
// partner). Every reward message names it, so the brand can ask the partner to void one whose instance was cancelled or expired.
const messageOf = (i: Instance, reward: Pick<Reward, 'code' | 'name'>) => ({
  instanceId: i.instanceId, rewardId: i.rewardId, rewardCode: reward.code, rewardName: reward.name, memberId: i.memberId, programId: i.programId,
  points: i.cost, status: i.status, expiresAt: i.expiresAt, partnerCode: i.partnerCode,
});

export interface Validation {
  instance: Instance;
  reward: RewardRow;
  /** whether a shop may consume it now */
  usable: boolean;
  /** why not: consumed, cancelled, expired, reserved-hold-expired… */
  reason: string | null;
}

function usability(i: Instance, now: Date): string | null {
  if (i.status === 'consumed') return `already used${i.consumedRef ? ` (${i.consumedRef})` : ''}`;
  if (i.status === 'cancelled') return 'cancelled';
  if (i.status === 'expired' || (i.expiresAt !== null && i.expiresAt <= now)) return 'expired';
  return null;
}

/** What a shop or POS sees when it scans or types a code; nothing changes. */
export async function validateInstance(laurel: Laurel, tenantId: string, code: unknown): Promise<Validation> {
  const instance = await loadInstance(laurel.db, tenantId, { code: normaliseCode(code) });
  if (!instance) throw notFound('reward code', 'code');
  const reward = (await loadReward(laurel.db, tenantId, instance.rewardId))!;
  const reason = usability(instance, laurel.clock.now());
  return { instance, reward, usable: reason === null, reason };
}

/** The shop uses the reward on an order: once. A reserved one's hold is captured now. */
export async function consumeInstance(laurel: Laurel, tenantId: string, input: { code: unknown; orderRef?: unknown },
  options: { idempotencyKey: unknown; actor: string }): Promise<Redemption> {
  const key = requireIdempotencyKey(options.idempotencyKey);
  const code = normaliseCode(input.code);
  const orderRef = optionalText(input.orderRef, 'orderRef', 200);
  return idempotent(laurel, tenantId, key, 'consume_reward', { code, orderRef }, async (trx, now, store) => {
    const instance = await loadInstance(trx, tenantId, { code }, { lock: true });
    if (!instance) throw notFound('reward code', 'code');
    const why = usability(instance, now);
    if (why !== null) throw new DomainError('conflict', `the reward cannot be used: ${why}`, 'code');
    const ledger = instance.holdId
      ? [await captureWithin(trx, now, { tenantId, idempotencyKey: key, actor: options.actor, holdId: instance.holdId, amount: null, ref: orderRef ?? `reward:${code}` })]
      : [];
    const used: Instance = { ...instance, status: 'consumed', resolvedAt: now, consumedRef: orderRef, entryId: ledger[0]?.entries[0]!.entryId ?? instance.entryId };
    await resolveInstance(trx, tenantId, instance.instanceId, 'consumed', now, { consumedRef: orderRef, entryId: used.entryId });
    const reward = (await loadReward(trx, tenantId, instance.rewardId))!.reward;
    await enqueueMessage(trx, tenantId, 'reward.consumed', `reward.consumed:${instance.instanceId}`, messageOf(used, reward), now);
    const result: Redemption = { instance: used, ledger };
    await storeIdempotency(trx, tenantId, store(result), now);
    return result;
  });
}

/** Gives an unused instance's points back — the same lots — and its unit back to the stock. */
export async function cancelInstance(laurel: Laurel, tenantId: string, instanceId: string, options: { idempotencyKey: unknown; actor: string }): Promise<Redemption> {
  const key = requireIdempotencyKey(options.idempotencyKey);
  const id = requireId(instanceId, 'instanceId', 'reward instance');
  return idempotent(laurel, tenantId, key, 'cancel_reward', { id }, async (trx, now, store) => {
    const instance = await loadInstance(trx, tenantId, { instanceId: id }, { lock: true });
    if (!instance) throw notFound('reward instance', 'instanceId');
    if (instance.status !== 'issued' && instance.status !== 'reserved') throw new DomainError('conflict', `the reward is ${instance.status}: only an unused one can be cancelled`, 'instanceId');
    const given = await giveBack(trx, now, tenantId, instance, { idempotencyKey: key, actor: options.actor, reason: 'reward cancelled' });
    const ledger = given ? [given] : [];
    await resolveInstance(trx, tenantId, instance.instanceId, 'cancelled', now);
    await countIssued(trx, tenantId, instance.rewardId, -1);
    const cancelled: Instance = { ...instance, status: 'cancelled', resolvedAt: now };
    const reward = (await loadReward(trx, tenantId, instance.rewardId))!.reward;
    await enqueueMessage(trx, tenantId, 'reward.cancelled', `reward.cancelled:${instance.instanceId}`, messageOf(cancelled, reward), now);
    const result: Redemption = { instance: cancelled, ledger };
    await storeIdempotency(trx, tenantId, store(result), now);
    return result;
  });
}

/**
 * A free instance of a catalog reward, as a redemption issues one but costing no points: what an
 * achievement or a membership's period gives. The reward row is locked after the caller's locks
 * (the member's wallet, or the membership); when its stock is gone or it is disabled nothing is
 * issued (null).
 */
export async function issueFreeInstance(trx: Trx, now: Date, to: { tenantId: string; memberId: string; rewardId: string }): Promise<string | null> {
  const row = await loadRewardToIssue(trx, to.tenantId, to.rewardId);
  if (!row || !row.reward.enabled || (row.reward.stock !== null && row.issued >= row.reward.stock)) return null;
  const instanceId = uuidv7(now.getTime());
  for (let i = 0; i < CODE_ATTEMPTS; i++) {
    const { instance, told } = freeInstance(row.reward, to.memberId, instanceId, now);
    // Its code drawn again on the (2^-80-rare) collision, as freshCode does.
    if (await issueInstance(trx, to.tenantId, instance, told, now)) return instanceId;
  }
  throw new Error(`no free reward code after ${CODE_ATTEMPTS} draws: the random source is broken`);
}

/** A free instance of `reward` for a member, with a new code, and the reward.issued message telling it. */
export function freeInstance(reward: Reward, memberId: string, instanceId: string, now: Date): { instance: Instance; told: OutboxMessage } {
  const instance: Instance = {
    instanceId, programId: reward.programId, rewardId: reward.rewardId, memberId, code: newCode(), status: 'issued',
    cost: 0n, value: reward.value, partnerCode: null, channel: null, entryId: null, holdId: null, issuedAt: now,
    expiresAt: reward.expiresAfterDays === null ? null : new Date(now.getTime() + reward.expiresAfterDays * 86_400_000), resolvedAt: null, consumedRef: null,
  };
  const told = { type: 'reward.issued', dedupeKey: `reward.issued:${instanceId}`, payload: {
    instanceId, rewardId: reward.rewardId, rewardCode: reward.code, rewardName: reward.name, memberId, programId: reward.programId, points: 0n,
    status: 'issued', expiresAt: instance.expiresAt, partnerCode: null,
  } };
  return { instance, told };
}

/** The points of an unused instance, back where they came from: the hold voided, or the spend reversed onto its lots; a free one (a referral's or an achievement's) has none. */
async function giveBack(trx: Trx, now: Date, tenantId: string, instance: Instance, request: { idempotencyKey: string; actor: string; reason: string }): Promise<LedgerResult | null> {
  if (instance.holdId) return voidWithin(trx, now, { tenantId, ...request, holdId: instance.holdId });
  if (instance.entryId === null) return null;
  return reverseWithin(trx, now, { tenantId, ...request, entryId: instance.entryId!, amount: null });
}

export async function memberInstances(laurel: Laurel, tenantId: string, memberId: string, before: string | null, limit: number): Promise<Instance[]> {
  const member = await getMember(laurel, tenantId, memberId);
  return listMemberInstances(laurel.db, tenantId, member.memberId, before, limit);
}

/** A program's reward instances, newest first, filtered: the console's redemptions list. */
export async function programInstances(laurel: Laurel, tenantId: string, programId: string, filter: Omit<InstanceFilter, 'rewardId' | 'memberId'> & { rewardId?: unknown; memberId?: unknown }): Promise<Instance[]> {
  const program = await getProgram(laurel, tenantId, programId);
  const rewardId = filter.rewardId === undefined ? undefined : requireId(filter.rewardId, 'rewardId', 'reward');
  const memberId = filter.memberId === undefined ? undefined : requireId(filter.memberId, 'memberId', 'member');
  return listProgramInstances(laurel.db, tenantId, program.programId, { ...filter, rewardId, memberId });
}

export async function getInstance(laurel: Laurel, tenantId: string, instanceId: string): Promise<Instance> {
  const instance = await loadInstance(laurel.db, tenantId, { instanceId: requireId(instanceId, 'instanceId', 'reward instance') });
  if (!instance) throw notFound('reward instance', 'instanceId');
  return instance;
}

export async function donations(laurel: Laurel, tenantId: string, programId: string, period: { from: Date | null; to: Date | null }) {
  const program = await getProgram(laurel, tenantId, programId);
  return donationTotals(laurel.db, tenantId, program.programId, period);
}

const REFUND_CHUNK = 500;

/**
 * The reward_expiry job: reserved instances whose hold is over are settled, unused instances
 * past their date expire — their points back when the program refunds them — and members are
 * reminded before theirs expire. All set-based, except refunds: each is a reversal of its own
 * spend onto its own lots, so they go through the ledger one instance at a time, a chunk per
 * transaction, the instances locked SKIP LOCKED so two workers never refund one twice.
 */
export async function expireRewards(laurel: Laurel, now: Date, progress: (done: number) => void = () => {}) {
  const settled = await settleReservedInstances(laurel.db, now);
  const forfeited = await forfeitExpiredInstances(laurel.db, now);
  let refunded = 0;
  for (;;) {
    const n = await laurel.db.transaction().execute(async (trx) => {
      const due = await claimRefundableInstances(trx, now, REFUND_CHUNK);
      for (const i of due) {
        await giveBack(trx, now, i.tenantId, i, { idempotencyKey: `reward-expiry:${i.instanceId}`, actor: 'system:reward-expiry', reason: 'reward expired unused' });
        await resolveInstance(trx, i.tenantId, i.instanceId, 'expired', now);
        await enqueueMessage(trx, i.tenantId, 'reward.expired', `reward.expired:${i.instanceId}`, {
          instanceId: i.instanceId, rewardId: i.rewardId, memberId: i.memberId, programId: i.programId, points: i.cost, refunded: true,
          partnerCode: i.partnerCode,
        }, now);
      }
      return due.length;
    });
    refunded += n;
    progress(settled + forfeited + refunded);
    if (n < REFUND_CHUNK) break;
  }
  const reminders = await queueRewardReminders(laurel.db, now);
  return { settled, forfeited, refunded, reminders };
}

export interface PointsQuote {
  memberId: string;
  /** the member's available points */
  available: bigint;
  /** the most points the basket can take, and the money they pay (minor units) */
  points: bigint;
  money: bigint;
  pointValue: { points: bigint; minor: bigint };
}

/** How much of a basket of `amount` minor units the member's points can pay, at the program's value; nothing is held. */
export async function quotePointsPayment(laurel: Laurel, tenantId: string, input: { memberId: unknown; amount: unknown }): Promise<PointsQuote> {
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const amount = input.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1 || amount > 1_000_000_000_000) {
    throw invalid('amount', 'amount must be the basket in minor units, an integer from 1 to 10^12');
  }
  const member = await getMember(laurel, tenantId, memberId);
  const program = await getProgram(laurel, tenantId, member.programId);
  if (!program.pointValue) throw new DomainError('conflict', 'this program does not take points as payment (set its pointValue)', 'memberId');
  const available = (await getBalance(laurel, tenantId, member.memberId)).available;
  const pay = payable(BigInt(amount), available, program.pointValue);
  return { memberId: member.memberId, available, ...pay, pointValue: program.pointValue };
}
