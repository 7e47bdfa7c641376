// Households: members pool their points in one shared wallet (the points wallet of the
// household's account member), all of them earn into it, and those allowed spend from it.
//
// The rules for points that come and go (docs/households.md):
// - joining brings all the member's points (available and pending, with their dates) into the
//   pool; a member in debt (a negative balance) settles it first; points held by an open hold
//   stay with the member until the hold ends;
// - while in the household, every point the member earns in the points wallet moves into the
//   pool in the event's own transaction (other wallets — status, tiers — stay the member's own);
// - leaving takes nothing: what the member brought and earned stays with the household, and the
//   member's own wallet earns for them again from then on.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { decidePool } from '../core/engagement/households.js';
import { uuidv7 } from '../core/ids.js';
import type { Balance, Decision, LedgerContext } from '../core/ledger/types.js';
import { positivePoints } from '../core/points.js';
import { DEFAULT_WALLET } from '../core/program.js';
import {
  currentMembership, endMembership, householdMembers, insertHousehold, insertMembership, listHouseholdRows, loadHousehold, poolJournal, positiveLots,
  recordHouseholdEntry, setCanSpend, type HouseholdRow, type MembershipRow, type PoolEntryRow,
} from '../db/households.js';
import { enqueueMessage } from '../db/jobs.js';
import { loadLotsCreatedBy, storeIdempotency, writeDecision, type LockedWallet, type Trx } from '../db/ledger.js';
import { settle } from '../db/settlement.js';
import type { Laurel } from './context.js';
import { idempotent, requireIdempotencyKey, writeOnce } from './idempotency.js';
import { getBalance, lockMemberWallet, redeemWithin, type LedgerResult } from './ledger.js';
import { optionalText, requireId, requireText } from './validate.js';

export type { PoolEntryRow };

export interface HouseholdMember {
  memberId: string;
  canSpend: boolean;
  joinedAt: Date;
}

export interface Household {
  householdId: string;
  programId: string;
  name: string;
  accountMemberId: string;
  members: HouseholdMember[];
  balance: Balance;
  createdAt: Date;
}

const memberOf = (m: MembershipRow): HouseholdMember => ({ memberId: m.member_id, canSpend: m.can_spend, joinedAt: m.joined_at });

async function present(laurel: Laurel, tenantId: string, h: HouseholdRow): Promise<Household> {
  return {
    householdId: h.household_id, programId: h.program_id, name: h.name, accountMemberId: h.account_member_id,
    members: (await householdMembers(laurel.db, tenantId, h.household_id)).map(memberOf),
    balance: await getBalance(laurel, tenantId, h.account_member_id, DEFAULT_WALLET),
    createdAt: h.created_at,
  };
}

export async function createHousehold(laurel: Laurel, tenantId: string, input: { programId: unknown; name: unknown }, idempotencyKey?: string): Promise<Household> {
  const programId = requireId(input.programId, 'programId', 'program');
  const name = requireText(input.name, 'name', 200).trim();
  const row = await writeOnce(laurel, tenantId, idempotencyKey, 'create_household', { programId, name }, async (trx, now) => {
    const program = await trx.selectFrom('wallets').select(['kind']).where('tenant_id', '=', tenantId).where('program_id', '=', programId)
      .where('code', '=', DEFAULT_WALLET).executeTakeFirst();
    if (!program) throw notFound(`program with a ${DEFAULT_WALLET} wallet`, 'programId');
    const h: HouseholdRow = { tenant_id: tenantId, household_id: uuidv7(now.getTime()), program_id: programId, name, account_member_id: uuidv7(now.getTime()), created_at: now };
    await insertHousehold(trx, h);
    return h;
  });
  return present(laurel, tenantId, { ...row, created_at: new Date(row.created_at) });
}

async function requireHousehold(laurel: Laurel | Trx, tenantId: string, householdId: unknown, lock = false): Promise<HouseholdRow> {
  const id = requireId(householdId, 'householdId', 'household');
  const h = await loadHousehold('db' in laurel ? laurel.db : laurel, tenantId, id, lock);
  if (!h) throw notFound('household', 'householdId');
  return h;
}

export async function getHousehold(laurel: Laurel, tenantId: string, householdId: string): Promise<Household> {
  return present(laurel, tenantId, await requireHousehold(laurel, tenantId, householdId));
}

/** The household a member is in now (a member token may read its own). */
export async function getMemberHousehold(laurel: Laurel, tenantId: string, memberId: string): Promise<Household> {
  const id = requireId(memberId, 'memberId', 'member');
  const current = await currentMembership(laurel.db, tenantId, id);
  if (!current) {
    const exists = await laurel.db.selectFrom('members').select('member_id').where('tenant_id', '=', tenantId).where('member_id', '=', id).executeTakeFirst();
    throw exists ? notFound('household of this member (they are in none)', 'memberId') : notFound('member', 'memberId');
  }
  return getHousehold(laurel, tenantId, current.household_id);
}

function context(wallet: LockedWallet, now: Date, actor: string, key: string | null): LedgerContext {
  return { now, newId: () => uuidv7(now.getTime()), policy: wallet.policy, timeZone: wallet.timeZone, actor, idempotencyKey: key };
}

/**
 * Writes a move of points into the pool. A pool owing a claw-back (a return of points it had
 * spent) repays it from the points arriving, as any wallet's new points repay its debt.
 */
async function writePool(trx: Trx, tenantId: string, decision: Decision, pool: LockedWallet, now: Date): Promise<void> {
  await writeDecision(trx, tenantId, decision, now);
  if (pool.state.balance.available < 0n) await settle(trx, now, { tenantId, memberId: pool.state.memberId, walletId: pool.state.walletId });
}

export interface JoinInput {
  tenantId: string;
  householdId: string;
  memberId: string;
  canSpend: unknown;
  actor: string;
  idempotencyKey?: string;
}

/**
 * Adds a member (bringing all their points into the pool), or changes what a member of the
 * household may do. A PUT: the same call again changes nothing.
 */
export async function putHouseholdMember(laurel: Laurel, input: JoinInput): Promise<{ household: Household; joined: boolean; brought: bigint }> {
  const householdId = requireId(input.householdId, 'householdId', 'household');
  const memberId = requireId(input.memberId, 'memberId', 'member');
  if (typeof input.canSpend !== 'boolean') throw invalid('canSpend', 'canSpend must be true or false');
  const canSpend = input.canSpend;
  const out = await writeOnce(laurel, input.tenantId, input.idempotencyKey, 'household_member', { householdId, memberId, canSpend }, async (trx, now) => {
    const h = await requireHousehold(trx, input.tenantId, householdId, true);
    const member = await trx.selectFrom('members').select(['program_id', 'status']).where('tenant_id', '=', input.tenantId).where('member_id', '=', memberId).executeTakeFirst();
    if (!member) throw notFound('member', 'memberId');
    const account = await trx.selectFrom('households').select('household_id').where('tenant_id', '=', input.tenantId).where('account_member_id', '=', memberId).executeTakeFirst();
    if (account) throw invalid('memberId', "a household's account cannot join a household");
    if (member.program_id !== h.program_id) throw invalid('memberId', 'the member is in another program than the household');
    const current = await currentMembership(trx, input.tenantId, memberId);
    if (current && current.household_id !== householdId) throw new DomainError('conflict', 'the member is in another household: they leave it first', 'memberId');
    if (current) {
      await setCanSpend(trx, input.tenantId, householdId, memberId, canSpend);
      return { joined: false, brought: 0n };
    }
    if (member.status !== 'active') throw new DomainError('conflict', `the member is ${member.status}`, 'memberId');
    // The member's wallet, then the pool's: the order an event earning for the member takes them.
    const own = await lockMemberWallet(trx, input.tenantId, memberId, DEFAULT_WALLET, now, { activeMember: true });
    if (own.state.balance.available < 0n) throw new DomainError('conflict', 'the member owes points (a negative balance): that debt is settled before joining', 'memberId');
    const pool = await lockMemberWallet(trx, input.tenantId, h.account_member_id, DEFAULT_WALLET, now);
    const lots = await positiveLots(trx, input.tenantId, memberId, own.state.walletId, now);
    const decision = decidePool(context(own, now, input.actor, input.idempotencyKey ?? null), own.state, pool.state, lots, `joined household ${h.name}`);
    let brought = 0n;
    if (decision) {
      await writePool(trx, input.tenantId, decision, pool, now);
      await recordHouseholdEntry(trx, input.tenantId, { entryId: decision.entries[0]!.entryId, householdId, memberId, action: 'brought' });
      brought = decision.entries[0]!.amount;
    }
    const membershipId = await insertMembership(trx, input.tenantId, { household_id: householdId, member_id: memberId, can_spend: canSpend, joined_at: now });
    await enqueueMessage(trx, input.tenantId, 'household.joined', `household.joined:${membershipId}`, {
      householdId, programId: h.program_id, name: h.name, memberId, canSpend, brought, joinedAt: now,
    }, now);
    return { joined: true, brought };
  });
  return { household: await getHousehold(laurel, input.tenantId, householdId), joined: out.joined, brought: BigInt(out.brought) };
}

/** A member leaves: they take nothing (see the top of this file). */
export async function leaveHousehold(laurel: Laurel, input: { tenantId: string; householdId: string; memberId: string }): Promise<Household> {
  const householdId = requireId(input.householdId, 'householdId', 'household');
  const memberId = requireId(input.memberId, 'memberId', 'member');
  await laurel.db.transaction().execute(async (trx) => {
    const h = await requireHousehold(trx, input.tenantId, householdId, true);
    const now = laurel.clock.now();
    const membershipId = await endMembership(trx, input.tenantId, householdId, memberId, now);
    if (membershipId === null) throw notFound('member of this household', 'memberId');
    await enqueueMessage(trx, input.tenantId, 'household.left', `household.left:${membershipId}`, {
      householdId, programId: h.program_id, name: h.name, memberId, leftAt: now,
    }, now);
  });
  return getHousehold(laurel, input.tenantId, householdId);
}

export interface SpendInput {
  tenantId: string;
  householdId: string;
  idempotencyKey: string;
  actor: string;
  memberId: unknown;
  amount: unknown;
  ref?: unknown;
}

/**
 * A member spends from the pool. The membership is locked (a leave waits), then the pool's
 * balance row: two members spending the last points at once queue there, and the second finds
 * them gone (422).
 */
export async function spendFromHousehold(laurel: Laurel, input: SpendInput): Promise<LedgerResult & { householdId: string; memberId: string }> {
  const key = requireIdempotencyKey(input.idempotencyKey);
  const householdId = requireId(input.householdId, 'householdId', 'household');
  const memberId = requireId(input.memberId, 'memberId', 'member');
  const amount = positivePoints(input.amount as number, 'amount');
  const ref = optionalText(input.ref, 'ref', 200);
  return idempotent(laurel, input.tenantId, key, 'household_spend', { householdId, memberId, amount, ref }, async (trx, now, store) => {
    const h = await requireHousehold(trx, input.tenantId, householdId);
    const membership = await currentMembership(trx, input.tenantId, memberId, true);
    if (!membership || membership.household_id !== householdId) throw notFound('member of this household', 'memberId');
    if (!membership.can_spend) throw new DomainError('conflict', 'this member may not spend the household\'s points', 'memberId');
    const pool = await lockMemberWallet(trx, input.tenantId, h.account_member_id, DEFAULT_WALLET, now, { activeMember: true, lots: amount });
    const result = await redeemWithin(trx, now, pool, { tenantId: input.tenantId, idempotencyKey: key, actor: input.actor, amount, ref: ref ?? `household spend by ${memberId}` });
    await recordHouseholdEntry(trx, input.tenantId, { entryId: result.entries[0]!.entryId, householdId, memberId, action: 'spent' });
    const answer = { ...result, householdId, memberId };
    await storeIdempotency(trx, input.tenantId, store(answer), now);
    return answer;
  });
}

/**
 * Called by the event path, inside the event's transaction, after the event earned: a member of
 * a household has what they just earned in the points wallet moved into the pool, lot by lot,
 * with its dates (pending points stay pending in the pool). The event already holds the
 * member's wallet lock.
 */
export async function poolEarnings(trx: Trx, now: Date, input: { tenantId: string; memberId: string; results: LedgerResult[]; idempotencyKey: string; actor: string }): Promise<void> {
  const earned = input.results.flatMap((r) => r.entries).filter((e) => e.kind === 'earn' && e.memberId === input.memberId);
  if (earned.length === 0) return;
  const membership = await currentMembership(trx, input.tenantId, input.memberId);
  if (!membership) return;
  const own = await lockMemberWallet(trx, input.tenantId, input.memberId, DEFAULT_WALLET, now);
  const mine = earned.filter((e) => e.walletId === own.state.walletId);
  if (mine.length === 0) return;
  const pool = await lockMemberWallet(trx, input.tenantId, membership.account_member_id, DEFAULT_WALLET, now);
  const lots = [];
  for (const e of mine) lots.push(...await loadLotsCreatedBy(trx, input.tenantId, e.entryId));
  const decision = decidePool(context(own, now, input.actor, input.idempotencyKey), own.state, pool.state, lots, 'earned for the household');
  if (!decision) return;
  await writePool(trx, input.tenantId, decision, pool, now);
  await recordHouseholdEntry(trx, input.tenantId, { entryId: decision.entries[0]!.entryId, householdId: membership.household_id, memberId: input.memberId, action: 'earned' });
}

export async function householdJournal(laurel: Laurel, tenantId: string, householdId: string, page: { before: string | null; limit: number }) {
  const h = await requireHousehold(laurel, tenantId, householdId);
  return poolJournal(laurel.db, tenantId, h.household_id, h.account_member_id, page.before, page.limit);
}

/** A program's households, newest first, each with its members and pool balance. */
export async function listHouseholds(laurel: Laurel, tenantId: string, programId: string, page: { before: string | null; limit: number }): Promise<Household[]> {
  const id = requireId(programId, 'programId', 'program');
  const program = await laurel.db.selectFrom('programs').select('program_id').where('tenant_id', '=', tenantId).where('program_id', '=', id).executeTakeFirst();
  if (!program) throw notFound('program', 'programId');
  const rows = await listHouseholdRows(laurel.db, tenantId, id, page.before, page.limit);
  const out: Household[] = [];
  for (const h of rows) out.push(await present(laurel, tenantId, h));
  return out;
}
