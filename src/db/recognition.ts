// Recognition queries: settings, the set-based allowance issue, gifts, the feed, the leaderboard
// and the giving report.
import { sql } from 'kysely';
import type { Period, RecognitionSettings } from '../core/engagement/recognition.js';
import type { Trx } from './ledger.js';
import type { Db } from './schema.js';

interface SettingsRow {
  program_id: string; giving_wallet: string; receiving_wallet: string; allowance: bigint; period: Period; carry_over: boolean;
  max_gift: bigint; approval_threshold: bigint | null; value_tags: string[]; updated_at: Date;
}

export interface StoredSettings extends RecognitionSettings {
  programId: string;
  updatedAt: Date;
}

const settingsOf = (r: SettingsRow): StoredSettings => ({
  programId: r.program_id, givingWallet: r.giving_wallet, receivingWallet: r.receiving_wallet, allowance: BigInt(r.allowance),
  period: r.period, carryOver: r.carry_over, maxGift: BigInt(r.max_gift),
  approvalThreshold: r.approval_threshold === null ? null : BigInt(r.approval_threshold), values: r.value_tags, updatedAt: r.updated_at,
});

export async function loadSettings(db: Db | Trx, tenantId: string, programId: string): Promise<StoredSettings | null> {
  const { rows } = await sql<SettingsRow>`select * from recognition_programs where tenant_id = ${tenantId} and program_id = ${programId}`.execute(db);
  return rows[0] ? settingsOf(rows[0]) : null;
}

export async function listSettings(db: Db, tenantId: string): Promise<StoredSettings[]> {
  const { rows } = await sql<SettingsRow>`select * from recognition_programs where tenant_id = ${tenantId} order by program_id`.execute(db);
  return rows.map(settingsOf);
}

export async function saveSettings(trx: Trx, tenantId: string, programId: string, s: RecognitionSettings, now: Date): Promise<void> {
  await sql`insert into recognition_programs (tenant_id, program_id, giving_wallet, receiving_wallet, allowance, period, carry_over,
      max_gift, approval_threshold, value_tags, updated_at)
    values (${tenantId}, ${programId}, ${s.givingWallet}, ${s.receivingWallet}, ${s.allowance}, ${s.period}, ${s.carryOver},
      ${s.maxGift}, ${s.approvalThreshold}, ${JSON.stringify(s.values)}::jsonb, ${now})
    on conflict (tenant_id, program_id) do update set giving_wallet = excluded.giving_wallet, receiving_wallet = excluded.receiving_wallet,
      allowance = excluded.allowance, period = excluded.period, carry_over = excluded.carry_over, max_gift = excluded.max_gift,
      approval_threshold = excluded.approval_threshold, value_tags = excluded.value_tags, updated_at = excluded.updated_at`.execute(trx);
}

/** The wallets of a program by code, with their kind. */
export async function walletsOf(db: Db | Trx, tenantId: string, programId: string): Promise<Map<string, 'redeemable' | 'qualifying'>> {
  const rows = await db.selectFrom('wallets').select(['code', 'kind']).where('tenant_id', '=', tenantId).where('program_id', '=', programId).execute();
  return new Map(rows.map((r) => [r.code, r.kind]));
}

/**
 * Credits this period's allowance to every active member of every recognition program (or of one)
 * that has not had it, `chunk` wallets per statement: one journal entry (an earn into the giving
 * wallet), one lot lapsing at the period's end in the tenant's zone (none when the program carries
 * allowance over), one movement, the balance, and the row that makes a second run a no-op. Wallets
 * locked by a gift in flight are skipped and taken by the next run.
 */
export async function issueAllowances(trx: Trx, now: Date, chunk: number, only?: { tenantId: string; programId: string }): Promise<{ members: number; points: bigint }> {
  const filter = only ? sql`and r.tenant_id = ${only.tenantId} and r.program_id = ${only.programId}` : sql``;
  const { rows } = await sql<{ members: number; points: bigint }>`
    with prog as (
      select r.tenant_id, r.program_id, r.allowance, r.carry_over, w.wallet_id,
        date_trunc(r.period, ${now}::timestamptz at time zone t.time_zone) at time zone t.time_zone as period_start,
        (date_trunc(r.period, ${now}::timestamptz at time zone t.time_zone)
          + case r.period when 'week' then interval '7 days' when 'month' then interval '1 month' else interval '3 months' end)
          at time zone t.time_zone as period_end
      from recognition_programs r
      join tenants t on t.tenant_id = r.tenant_id
      join wallets w on w.tenant_id = r.tenant_id and w.program_id = r.program_id and w.code = r.giving_wallet
      where true ${filter}
    ), due as (
      select p.tenant_id, p.program_id, p.wallet_id, b.member_id, p.allowance, p.period_start, p.period_end,
        case when p.carry_over then null else p.period_end end as expires_at
      from prog p
      join balances b on b.tenant_id = p.tenant_id and b.wallet_id = p.wallet_id
      join members m on m.tenant_id = b.tenant_id and m.member_id = b.member_id
      where m.status = 'active' and not exists (select 1 from recognition_allowances a where a.tenant_id = p.tenant_id
        and a.program_id = p.program_id and a.member_id = b.member_id and a.period_start = p.period_start)
      order by b.tenant_id, b.member_id, b.wallet_id
      limit ${chunk}
      for update of b skip locked
    ), ids as (
      select due.*, laurel_uuid_v7() as entry_id, laurel_uuid_v7() as lot_id from due
    ), ent as (
      insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, lot_id, ref, actor, reason, created_at)
      select tenant_id, entry_id, program_id, wallet_id, member_id, 'earn', allowance, lot_id,
        'allowance:' || to_char(period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), 'system:recognition', 'recognition allowance', ${now}
      from ids
    ), post as (
      insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
      select tenant_id, entry_id, 1, wallet_id, null, 'issuance', -allowance from ids
      union all
      select tenant_id, entry_id, 2, wallet_id, member_id, 'available', allowance from ids
    ), lot as (
      insert into lots (tenant_id, lot_id, program_id, wallet_id, member_id, entry_id, amount, remaining, pending, earned_at, available_at, expires_at)
      select tenant_id, lot_id, program_id, wallet_id, member_id, entry_id, allowance, allowance, false, ${now}, ${now}, expires_at from ids
    ), moved as (
      insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
      select tenant_id, laurel_uuid_v7(), entry_id, entry_id, lot_id, allowance, ${now} from ids
    ), bal as (
      update balances b set available = b.available + ids.allowance, lifetime_earned = b.lifetime_earned + ids.allowance,
        last_activity_at = ${now}
      from ids where b.tenant_id = ids.tenant_id and b.member_id = ids.member_id and b.wallet_id = ids.wallet_id
    ), kept as (
      insert into recognition_allowances (tenant_id, program_id, member_id, period_start, period_end, entry_id, amount, created_at)
      select tenant_id, program_id, member_id, period_start, period_end, entry_id, allowance, ${now} from ids
    )
    select count(*)::int as members, coalesce(sum(allowance), 0)::bigint as points from ids`.execute(trx);
  return { members: rows[0]!.members, points: BigInt(rows[0]!.points) };
}

export interface GiftRow {
  tenant_id: string; gift_id: string; program_id: string; giver_id: string; receiver_id: string; amount: bigint; message: string;
  value_tag: string; status: 'pending' | 'approved' | 'declined'; spend_entry_id: string; credit_entry_id: string | null;
  return_entry_id: string | null; decided_by: string | null; decided_at: Date | null; note: string | null; created_at: Date;
}

export async function insertGift(trx: Trx, g: Omit<GiftRow, 'decided_by' | 'decided_at' | 'note' | 'return_entry_id'>): Promise<void> {
  await sql`insert into recognition_gifts (tenant_id, gift_id, program_id, giver_id, receiver_id, amount, message, value_tag, status,
      spend_entry_id, credit_entry_id, created_at)
    values (${g.tenant_id}, ${g.gift_id}, ${g.program_id}, ${g.giver_id}, ${g.receiver_id}, ${g.amount}, ${g.message}, ${g.value_tag},
      ${g.status}, ${g.spend_entry_id}, ${g.credit_entry_id}, ${g.created_at})`.execute(trx);
}

export async function loadGift(db: Db | Trx, tenantId: string, giftId: string, lock = false): Promise<GiftRow | null> {
  const { rows } = await sql<GiftRow>`select * from recognition_gifts where tenant_id = ${tenantId} and gift_id = ${giftId}
    ${lock ? sql`for update` : sql``}`.execute(db);
  return rows[0] ?? null;
}

export async function decideGiftRow(trx: Trx, tenantId: string, giftId: string, change: {
  status: 'approved' | 'declined'; creditEntryId: string | null; returnEntryId: string | null; decidedBy: string; note: string | null; at: Date;
}): Promise<void> {
  await sql`update recognition_gifts set status = ${change.status}, credit_entry_id = ${change.creditEntryId},
      return_entry_id = ${change.returnEntryId}, decided_by = ${change.decidedBy}, note = ${change.note}, decided_at = ${change.at}
    where tenant_id = ${tenantId} and gift_id = ${giftId}`.execute(trx);
}

export interface GiftFilter {
  programId: string;
  status?: GiftRow['status'];
  memberId?: string;
  before?: string | null;
  limit: number;
}

/** Gifts newest first (limit + 1 rows, so the caller knows if more follow). */
export async function listGifts(db: Db, tenantId: string, f: GiftFilter): Promise<GiftRow[]> {
  const { rows } = await sql<GiftRow>`select * from recognition_gifts
    where tenant_id = ${tenantId} and program_id = ${f.programId}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${f.memberId ? sql`and (giver_id = ${f.memberId} or receiver_id = ${f.memberId})` : sql``}
      ${f.before ? sql`and gift_id < ${f.before}` : sql``}
    order by gift_id desc limit ${f.limit + 1}`.execute(db);
  return rows;
}

export interface LeaderRow { member_id: string; external_id: string | null; received: bigint; gifts: number }

/** Members by points received in approved gifts given within [from, to). */
export async function leaderboard(db: Db, tenantId: string, programId: string, from: Date, to: Date, limit: number): Promise<LeaderRow[]> {
  const { rows } = await sql<LeaderRow>`
    select g.receiver_id as member_id, m.external_id, sum(g.amount)::bigint as received, count(*)::int as gifts
    from recognition_gifts g join members m on m.tenant_id = g.tenant_id and m.member_id = g.receiver_id
    where g.tenant_id = ${tenantId} and g.program_id = ${programId} and g.status = 'approved'
      and g.created_at >= ${from} and g.created_at < ${to}
    group by g.receiver_id, m.external_id
    order by received desc, gifts desc, g.receiver_id
    limit ${limit}`.execute(db);
  return rows.map((r) => ({ ...r, received: BigInt(r.received) }));
}

export interface GivingRow { group: string | null; given: bigint; giftsGiven: number; givers: number; received: bigint; giftsReceived: number }

/** Approved gifts within [from, to) by a member attribute (team, department…) of giver and of receiver. */
export async function givingReport(db: Db, tenantId: string, programId: string, attribute: string, from: Date, to: Date): Promise<GivingRow[]> {
  const { rows } = await sql<{ grp: string | null; given: bigint; gifts_given: number; givers: number; received: bigint; gifts_received: number }>`
    with g as (
      select g.amount, g.giver_id, gm.attributes ->> ${attribute} as giver_group, rm.attributes ->> ${attribute} as receiver_group
      from recognition_gifts g
      join members gm on gm.tenant_id = g.tenant_id and gm.member_id = g.giver_id
      join members rm on rm.tenant_id = g.tenant_id and rm.member_id = g.receiver_id
      where g.tenant_id = ${tenantId} and g.program_id = ${programId} and g.status = 'approved'
        and g.created_at >= ${from} and g.created_at < ${to}
    ), sides as (
      select giver_group as grp, amount as given, 1 as gave, giver_id, 0::bigint as received, 0 as got from g
      union all
      select receiver_group, 0::bigint, 0, null, amount, 1 from g
    )
    select grp, sum(given)::bigint as given, sum(gave)::int as gifts_given, count(distinct giver_id)::int as givers,
      sum(received)::bigint as received, sum(got)::int as gifts_received
    from sides group by grp order by given desc, received desc, grp nulls last`.execute(db);
  return rows.map((r) => ({
    group: r.grp, given: BigInt(r.given), giftsGiven: r.gifts_given, givers: r.givers, received: BigInt(r.received), giftsReceived: r.gifts_received,
  }));
}
