// Household queries: the household and its account member, memberships, the pool's lots, and
// which member each pool entry was for.
import { sql } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import type { Lot } from '../core/ledger/types.js';
import { lotOf, type Trx } from './ledger.js';
import type { Db } from './schema.js';

/**
 * Not a household's account: the member row holding a pool is no person, so member lists,
 * searches and counts leave it out. `table` is the alias of a table with tenant_id and member_id.
 */
export const notHouseholdAccount = (table: string) => sql<boolean>`not exists (select 1 from households h
  where h.tenant_id = ${sql.ref(`${table}.tenant_id`)} and h.account_member_id = ${sql.ref(`${table}.member_id`)})`;

export interface HouseholdRow {
  tenant_id: string; household_id: string; program_id: string; name: string; account_member_id: string; created_at: Date;
}

export interface MembershipRow {
  household_id: string; member_id: string; can_spend: boolean; joined_at: Date; left_at: Date | null;
}

/** The household and its account member (with a balance row per wallet: the row the ledger locks), in one statement. */
export async function insertHousehold(trx: Trx, h: HouseholdRow): Promise<void> {
  await sql`
    with m as (
      insert into members (tenant_id, member_id, program_id, external_id, attributes, status, enrolled_at, updated_at)
      values (${h.tenant_id}, ${h.account_member_id}, ${h.program_id}, ${`household:${h.household_id}`}, ${JSON.stringify({ household: h.household_id })}::jsonb,
        'active', ${h.created_at}, ${h.created_at})
    ), b as (
      insert into balances (tenant_id, member_id, wallet_id, program_id)
      select tenant_id, ${h.account_member_id}, wallet_id, program_id from wallets where tenant_id = ${h.tenant_id} and program_id = ${h.program_id}
    )
    insert into households (tenant_id, household_id, program_id, name, account_member_id, created_at)
    values (${h.tenant_id}, ${h.household_id}, ${h.program_id}, ${h.name}, ${h.account_member_id}, ${h.created_at})`.execute(trx);
}

export async function loadHousehold(db: Db | Trx, tenantId: string, householdId: string, lock = false): Promise<HouseholdRow | null> {
  const { rows } = await sql<HouseholdRow>`select * from households where tenant_id = ${tenantId} and household_id = ${householdId}
    ${lock ? sql`for update` : sql``}`.execute(db);
  return rows[0] ?? null;
}

/** The household a member is in now, if any; `lock` locks the membership (a spend against a leave). */
export async function currentMembership(db: Db | Trx, tenantId: string, memberId: string, lock = false): Promise<(MembershipRow & { account_member_id: string }) | null> {
  const { rows } = await sql<MembershipRow & { account_member_id: string }>`
    select hm.household_id, hm.member_id, hm.can_spend, hm.joined_at, hm.left_at, h.account_member_id
    from household_members hm join households h on h.tenant_id = hm.tenant_id and h.household_id = hm.household_id
    where hm.tenant_id = ${tenantId} and hm.member_id = ${memberId} and hm.left_at is null
    ${lock ? sql`for update of hm` : sql``}`.execute(db);
  return rows[0] ?? null;
}

export async function householdMembers(db: Db | Trx, tenantId: string, householdId: string): Promise<MembershipRow[]> {
  const { rows } = await sql<MembershipRow>`select household_id, member_id, can_spend, joined_at, left_at from household_members
    where tenant_id = ${tenantId} and household_id = ${householdId} and left_at is null order by joined_at, member_id`.execute(db);
  return rows;
}

/** Returns the membership's id. */
export async function insertMembership(trx: Trx, tenantId: string, m: Omit<MembershipRow, 'left_at'>): Promise<string> {
  const membershipId = uuidv7(m.joined_at.getTime());
  await sql`insert into household_members (tenant_id, membership_id, household_id, member_id, can_spend, joined_at)
    values (${tenantId}, ${membershipId}, ${m.household_id}, ${m.member_id}, ${m.can_spend}, ${m.joined_at})`.execute(trx);
  return membershipId;
}

export async function setCanSpend(trx: Trx, tenantId: string, householdId: string, memberId: string, canSpend: boolean): Promise<void> {
  await sql`update household_members set can_spend = ${canSpend}
    where tenant_id = ${tenantId} and household_id = ${householdId} and member_id = ${memberId} and left_at is null`.execute(trx);
}

/** Ends the member's current membership of the household; its id, or null when they were not in it. */
export async function endMembership(trx: Trx, tenantId: string, householdId: string, memberId: string, at: Date): Promise<string | null> {
  const { rows } = await sql<{ membership_id: string }>`update household_members set left_at = ${at}
    where tenant_id = ${tenantId} and household_id = ${householdId} and member_id = ${memberId} and left_at is null
    returning membership_id`.execute(trx);
  return rows[0]?.membership_id ?? null;
}

/** A member's lots that hold points, pending or available, not expired: what joining brings. The caller holds the wallet's lock. */
export async function positiveLots(trx: Trx, tenantId: string, memberId: string, walletId: string, now: Date): Promise<Lot[]> {
  const { rows } = await sql<Parameters<typeof lotOf>[0]>`
    select lot_id, member_id, wallet_id, entry_id, amount, remaining, pending, earned_at, available_at, expires_at from lots
    where tenant_id = ${tenantId} and member_id = ${memberId} and wallet_id = ${walletId} and remaining > 0
      and (expires_at is null or expires_at > ${now})
    order by expires_at, earned_at, lot_id`.execute(trx);
  return rows.map(lotOf);
}

export type HouseholdAction = 'brought' | 'earned' | 'spent' | 'returned';

export async function recordHouseholdEntry(trx: Trx, tenantId: string, e: { entryId: string; householdId: string; memberId: string; action: HouseholdAction }): Promise<void> {
  await sql`insert into household_entries (tenant_id, entry_id, household_id, member_id, action)
    values (${tenantId}, ${e.entryId}, ${e.householdId}, ${e.memberId}, ${e.action})`.execute(trx);
}

export interface PoolEntryRow {
  entry_id: string; kind: string; amount: bigint; member_id: string; counterparty_id: string | null; ref: string | null;
  reason: string | null; created_at: Date; action: string | null; for_member_id: string | null; pool_change: bigint;
}

/** The pool's journal, newest first, each entry with the member it was for and what it did to the pool. */
export async function poolJournal(db: Db, tenantId: string, householdId: string, accountId: string, before: string | null, limit: number): Promise<PoolEntryRow[]> {
  const { rows } = await sql<PoolEntryRow>`
    select e.entry_id, e.kind, e.amount, e.member_id, e.counterparty_id, e.ref, e.reason, e.created_at, he.action, he.member_id as for_member_id,
      coalesce((select sum(p.amount) from postings p where p.tenant_id = e.tenant_id and p.entry_id = e.entry_id and p.member_id = ${accountId}
        and p.account in ('available', 'pending', 'held')), 0)::bigint as pool_change
    from journal_entries e
    join wallets w on w.tenant_id = e.tenant_id and w.wallet_id = e.wallet_id and w.code = 'points'
    left join household_entries he on he.tenant_id = e.tenant_id and he.entry_id = e.entry_id and he.household_id = ${householdId}
    where e.tenant_id = ${tenantId} and (e.member_id = ${accountId} or e.counterparty_id = ${accountId})
      ${before ? sql`and e.entry_id < ${before}` : sql``}
    order by e.entry_id desc limit ${limit + 1}`.execute(db);
  return rows.map((r) => ({ ...r, amount: BigInt(r.amount), pool_change: BigInt(r.pool_change) }));
}

/** A program's households, newest first (limit + 1 rows, so the caller knows if more follow). */
export async function listHouseholdRows(db: Db, tenantId: string, programId: string, before: string | null, limit: number): Promise<HouseholdRow[]> {
  const { rows } = await sql<HouseholdRow>`select * from households where tenant_id = ${tenantId} and program_id = ${programId}
    ${before ? sql`and household_id < ${before}` : sql``} order by household_id desc limit ${limit + 1}`.execute(db);
  return rows;
}

/**
 * The household pool the points an entry created were moved into (brought on joining, or earned
 * while a member), and the pool's lots they became (those of that move with the same dates);
 * null when they stayed with the member. Followed through lot movements, whatever the member's
 * membership is now: a claw-back follows the points.
 */
export async function poolOfEntry(trx: Trx, tenantId: string, entryId: string): Promise<{ householdId: string; accountMemberId: string; lots: Lot[] } | null> {
  const { rows } = await sql<{ household_id: string; account_member_id: string; lot_id: string | null } & Partial<Parameters<typeof lotOf>[0]>>`
    with src as (
      select l.lot_id, l.earned_at, l.available_at, l.expires_at from lot_movements c
      join lots l on l.tenant_id = c.tenant_id and l.lot_id = c.lot_id
      where c.tenant_id = ${tenantId} and c.group_entry_id = ${entryId} and c.entry_id = ${entryId} and c.delta > 0
    ), moved as (
      select he.household_id, h.account_member_id, min(he.entry_id::text)::uuid as transfer_id from src
      join lot_movements m on m.tenant_id = ${tenantId} and m.lot_id = src.lot_id and m.delta < 0
      join household_entries he on he.tenant_id = m.tenant_id and he.entry_id = m.entry_id and he.action in ('brought', 'earned')
      join households h on h.tenant_id = he.tenant_id and h.household_id = he.household_id
      group by he.household_id, h.account_member_id
      order by transfer_id limit 1
    )
    select moved.household_id, moved.account_member_id, l.lot_id, l.member_id, l.wallet_id, l.entry_id, l.amount, l.remaining, l.pending,
      l.earned_at, l.available_at, l.expires_at
    from moved
    left join lot_movements t on t.tenant_id = ${tenantId} and t.group_entry_id = moved.transfer_id and t.entry_id = moved.transfer_id and t.delta > 0
    left join lots l on l.tenant_id = t.tenant_id and l.lot_id = t.lot_id and l.member_id = moved.account_member_id
      and exists (select 1 from src where src.earned_at = l.earned_at and src.available_at = l.available_at and src.expires_at is not distinct from l.expires_at)`.execute(trx);
  if (rows.length === 0) return null;
  return {
    householdId: rows[0]!.household_id, accountMemberId: rows[0]!.account_member_id,
    lots: rows.filter((r) => r.lot_id !== null).map((r) => lotOf(r as Parameters<typeof lotOf>[0])),
  };
}
