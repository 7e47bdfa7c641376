// Accounting queries (migration 0050): settings, rates, the accounting journal and closed months.
// The cumulative figures of a program are one set-based pass over its journal entries, postings
// and accounting entries, with one FILTER per instant asked: a report reads its start and its end
// in the same scan.
import { sql, type RawBuilder } from 'kysely';
import type { AccountingState } from '../core/accounting/recognition.js';
import type { GlAccounts } from '../core/accounting/journal.js';
import type { Db } from './schema.js';
import type { Trx } from './ledger.js';

export interface AccountingSettingsRow {
  programId: string;
  currency: string;
  pointValue: { points: bigint; minor: bigint };
  rateMethod: 'manual' | 'estimated';
  minHistoryMonths: number;
  lifetimeFeeMonths: number;
  glAccounts: GlAccounts;
  updatedAt: Date;
}

export interface RateRow {
  effectiveFrom: Date;
  period: string;
  rateBps: number;
  method: 'manual' | 'estimated';
  inputs: unknown;
  setAt: Date;
  setBy: string;
}

export async function loadSettings(db: Db, tenantId: string, programId: string): Promise<AccountingSettingsRow | null> {
  const r = await db.selectFrom('accounting_settings').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
  return r ? {
    programId: r.program_id, currency: r.currency, pointValue: { points: BigInt(r.point_value_points), minor: BigInt(r.point_value_minor) },
    rateMethod: r.rate_method, minHistoryMonths: r.min_history_months, lifetimeFeeMonths: r.lifetime_fee_months,
    glAccounts: r.gl_accounts as GlAccounts, updatedAt: r.updated_at,
  } : null;
}

export async function saveSettings(db: Db, tenantId: string, s: AccountingSettingsRow): Promise<void> {
  const values = {
    currency: s.currency, point_value_points: s.pointValue.points, point_value_minor: s.pointValue.minor, rate_method: s.rateMethod,
    min_history_months: s.minHistoryMonths, lifetime_fee_months: s.lifetimeFeeMonths, gl_accounts: JSON.stringify(s.glAccounts), updated_at: s.updatedAt,
  };
  await db.insertInto('accounting_settings').values({ tenant_id: tenantId, program_id: s.programId, ...values })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet(values)).execute();
}

export async function listRates(db: Db, tenantId: string, programId: string): Promise<RateRow[]> {
  const rows = await db.selectFrom('accounting_rates').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .orderBy('effective_from').execute();
  return rows.map((r) => ({ effectiveFrom: r.effective_from, period: r.period, rateBps: r.rate_bps, method: r.method, inputs: r.inputs, setAt: r.set_at, setBy: r.set_by }));
}

export async function saveRate(db: Db, tenantId: string, programId: string, r: RateRow): Promise<void> {
  const values = { period: r.period, rate_bps: r.rateBps, method: r.method, inputs: r.inputs === null ? null : JSON.stringify(r.inputs), set_at: r.setAt, set_by: r.setBy };
  await db.insertInto('accounting_rates').values({ tenant_id: tenantId, program_id: programId, effective_from: r.effectiveFrom, ...values })
    .onConflict((oc) => oc.columns(['tenant_id', 'program_id', 'effective_from']).doUpdateSet(values)).execute();
}

/** What an earning purchase needs, in one statement: the settings, the rate in force and the member's rounding carry. */
export async function allocationContext(trx: Trx, tenantId: string, programId: string, memberId: string, at: Date): Promise<{
  pointValue: { points: bigint; minor: bigint }; rateBps: number; carryMicro: bigint;
} | null> {
  const { rows } = await sql<{ point_value_points: bigint; point_value_minor: bigint; rate_bps: number | null; carry_micro: bigint | null }>`
    select s.point_value_points, s.point_value_minor,
      (select r.rate_bps from accounting_rates r where r.tenant_id = s.tenant_id and r.program_id = s.program_id and r.effective_from <= ${at}
        order by r.effective_from desc limit 1) as rate_bps,
      (select e.carry_micro from accounting_entries e where e.tenant_id = s.tenant_id and e.member_id = ${memberId} and e.kind = 'allocation'
        order by e.entry_id desc limit 1) as carry_micro
    from accounting_settings s where s.tenant_id = ${tenantId} and s.program_id = ${programId}`.execute(trx);
  const r = rows[0];
  if (!r || r.rate_bps === null) return null;
  return { pointValue: { points: BigInt(r.point_value_points), minor: BigInt(r.point_value_minor) }, rateBps: r.rate_bps, carryMicro: BigInt(r.carry_micro ?? 0n) };
}

export interface NewAccountingEntry {
  entryId: string;
  programId: string;
  kind: 'allocation' | 'allocation_reversal' | 'fee' | 'fee_refund';
  memberId: string | null;
  eventId: string | null;
  purchaseEventId: string | null;
  ledgerEntryId: string | null;
  points: bigint;
  amount: bigint;
  price?: bigint | null;
  sspMicro?: bigint | null;
  rateBps?: number | null;
  carryMicro?: bigint | null;
  feeRef?: string | null;
  serviceStart?: Date | null;
  serviceEnd?: Date | null;
  refundedFeeRef?: string | null;
  feeRest?: bigint | null;
  postedAt: Date;
}

export async function insertAccountingEntry(db: Db, tenantId: string, e: NewAccountingEntry): Promise<void> {
  await db.insertInto('accounting_entries').values({
    tenant_id: tenantId, entry_id: e.entryId, program_id: e.programId, kind: e.kind, member_id: e.memberId, event_id: e.eventId,
    purchase_event_id: e.purchaseEventId, ledger_entry_id: e.ledgerEntryId, points: e.points, amount: e.amount, price: e.price ?? null,
    ssp_micro: e.sspMicro ?? null, rate_bps: e.rateBps ?? null, carry_micro: e.carryMicro ?? null, fee_ref: e.feeRef ?? null,
    service_start: e.serviceStart ?? null, service_end: e.serviceEnd ?? null, refunded_fee_ref: e.refundedFeeRef ?? null, fee_rest: e.feeRest ?? null,
    posted_at: e.postedAt,
  }).execute();
}

/** A purchase's allocation and what its returns have taken back so far (points > 0 in both). */
export async function purchaseAllocation(trx: Trx, tenantId: string, purchaseEventId: string): Promise<{
  amount: bigint; points: bigint; reversed: bigint; pointsBack: bigint;
} | null> {
  const { rows } = await sql<{ amount: string | null; points: string | null; reversed: string; points_back: string; n: number }>`
    select sum(amount) filter (where kind = 'allocation') as amount, sum(points) filter (where kind = 'allocation') as points,
      coalesce(-sum(amount) filter (where kind = 'allocation_reversal'), 0) as reversed,
      coalesce(-sum(points) filter (where kind = 'allocation_reversal'), 0) as points_back,
      count(*) filter (where kind = 'allocation')::int as n
    from accounting_entries where tenant_id = ${tenantId} and purchase_event_id = ${purchaseEventId}`.execute(trx);
  const r = rows[0];
  if (!r || r.n === 0) return null;
  return { amount: BigInt(r.amount!), points: BigInt(r.points!), reversed: BigInt(r.reversed), pointsBack: BigInt(r.points_back) };
}

export async function findFee(db: Db, tenantId: string, programId: string, feeRef: string) {
  return db.selectFrom('accounting_entries').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where('kind', '=', 'fee').where('fee_ref', '=', feeRef).executeTakeFirst();
}

export async function findFeeRefund(db: Db, tenantId: string, programId: string, feeRef: string) {
  return db.selectFrom('accounting_entries').select('entry_id').where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where('kind', '=', 'fee_refund').where('fee_ref', '=', feeRef).executeTakeFirst();
}

/** Whether a fee was refunded before: its service ended at that first refund, nothing of it is deferred any more. */
export async function feeRefunded(db: Db, tenantId: string, programId: string, refundedFeeRef: string): Promise<boolean> {
  const row = await db.selectFrom('accounting_entries').select('entry_id').where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where('kind', '=', 'fee_refund').where('refunded_fee_ref', '=', refundedFeeRef).executeTakeFirst();
  return row !== undefined;
}

/**
 * The program's cumulative figures before each instant, in one pass: the points wallet's program
 * accounts (issuance, redemption, expiry, adjustment, write-off) by journal entry kind, and the
 * accounting journal; fees recognised straight-line to each instant (the arithmetic of core/accounting/fees.ts).
 */
/** `amount` recognised straight-line over the row's service period by instant t, rounded half up (core/accounting/fees.ts); null over an empty period. */
const straightLine = (amount: RawBuilder<unknown>, t: Date) => {
  const span = sql`(extract(epoch from (service_end - service_start)) * 1000)`;
  return sql`floor((2 * ${amount}::numeric * greatest(least(extract(epoch from (${t}::timestamptz - service_start)) * 1000, ${span}), 0) + ${span}) / nullif(2 * ${span}, 0))`;
};

export async function cumulativeStates(db: Db, tenantId: string, programId: string, walletId: string, instants: readonly Date[]): Promise<AccountingState[]> {
  if (instants.length === 0) return [];
  const ledgerCols = instants.map((t, i) => sql`
    coalesce(-sum(p.amount) filter (where p.account = 'issuance' and j.kind = 'earn' and j.created_at < ${t}), 0) as issued_${sql.raw(String(i))},
    coalesce(sum(p.amount) filter (where p.account = 'issuance' and j.kind <> 'earn' and j.created_at < ${t}), 0) as returned_${sql.raw(String(i))},
    coalesce(sum(p.amount) filter (where p.account = 'redemption' and j.created_at < ${t}), 0) as redeemed_${sql.raw(String(i))},
    coalesce(sum(p.amount) filter (where p.account = 'expiry' and j.created_at < ${t}), 0) as expired_${sql.raw(String(i))},
    coalesce(-sum(p.amount) filter (where p.account in ('adjustment', 'write_off') and j.created_at < ${t}), 0) as adjusted_${sql.raw(String(i))}`);
  const accountingCols = instants.map((t, i) => sql`
    coalesce(sum(amount) filter (where kind = 'allocation' and posted_at < ${t}), 0) as allocations_${sql.raw(String(i))},
    coalesce(-sum(amount) filter (where kind = 'allocation_reversal' and posted_at < ${t}), 0) as reversals_${sql.raw(String(i))},
    coalesce(sum(amount) filter (where kind = 'fee' and posted_at < ${t}), 0) as fees_received_${sql.raw(String(i))},
    coalesce(-sum(amount) filter (where kind = 'fee_refund' and posted_at < ${t}), 0) as fees_refunded_${sql.raw(String(i))},
    coalesce(sum(case when kind = 'fee' and posted_at < ${t} then ${straightLine(sql`amount`, t)}
      when kind = 'fee_refund' and posted_at < ${t} then amount + fee_rest - coalesce(${straightLine(sql`fee_rest`, t)}, 0) end), 0) as fees_recognised_${sql.raw(String(i))}`);
  const [ledger, accounting] = await Promise.all([
    sql<Record<string, string>>`
      select ${sql.join(ledgerCols)}
      from journal_entries j join postings p on p.tenant_id = j.tenant_id and p.entry_id = j.entry_id and p.member_id is null
      where j.tenant_id = ${tenantId} and j.wallet_id = ${walletId}`.execute(db),
    sql<Record<string, string>>`
      select ${sql.join(accountingCols)}
      from accounting_entries where tenant_id = ${tenantId} and program_id = ${programId}`.execute(db),
  ]);
  const l = ledger.rows[0]!;
  const a = accounting.rows[0]!;
  return instants.map((_, i) => ({
    allocations: BigInt(a[`allocations_${i}`]!), reversals: BigInt(a[`reversals_${i}`]!),
    issued: BigInt(l[`issued_${i}`]!), returned: BigInt(l[`returned_${i}`]!), redeemed: BigInt(l[`redeemed_${i}`]!),
    expired: BigInt(l[`expired_${i}`]!), adjusted: BigInt(l[`adjusted_${i}`]!),
    feesReceived: BigInt(a[`fees_received_${i}`]!), feesRefunded: BigInt(a[`fees_refunded_${i}`]!), feesRecognised: BigInt(a[`fees_recognised_${i}`]!),
  }));
}

export interface CloseRow {
  month: string;
  startAt: Date;
  endAt: Date;
  state: { figures: Record<keyof AccountingState, string>; rateBps: number };
  closedAt: Date;
  closedBy: string;
}

export async function listCloses(db: Db, tenantId: string, programId: string): Promise<CloseRow[]> {
  const rows = await db.selectFrom('accounting_closes').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .orderBy('end_at').execute();
  return rows.map((r) => ({ month: r.month, startAt: r.start_at, endAt: r.end_at, state: r.state as CloseRow['state'], closedAt: r.closed_at, closedBy: r.closed_by }));
}

export async function insertCloses(db: Db, tenantId: string, programId: string, closes: readonly CloseRow[]): Promise<void> {
  if (closes.length === 0) return;
  await db.insertInto('accounting_closes').values(closes.map((c) => ({
    tenant_id: tenantId, program_id: programId, month: c.month, start_at: c.startAt, end_at: c.endAt, state: JSON.stringify(c.state),
    closed_at: c.closedAt, closed_by: c.closedBy,
  }))).execute();
}

export interface Cohort {
  month: string;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
  returned: bigint;
  closed: boolean;
}

/**
 * Points earned per month (in the tenant's zone) with what became of them: a cohort is closed
 * when its month has ended and none of its lots has anything left (or is still pending).
 */
export async function cohorts(db: Db, tenantId: string, walletId: string, timeZone: string, before: Date): Promise<Cohort[]> {
  const { rows } = await sql<{ month: string; issued: string; expired: string; returned: string; closed: boolean }>`
    with moved as (
      select m.lot_id,
        coalesce(-sum(m.delta) filter (where j.kind = 'expire'), 0) as expired,
        coalesce(-sum(m.delta) filter (where j.kind = 'reverse' and j.reverses_entry_id = l.entry_id), 0) as returned
      from lots l join lot_movements m on m.tenant_id = l.tenant_id and m.lot_id = l.lot_id
        join journal_entries j on j.tenant_id = m.tenant_id and j.entry_id = m.entry_id
      where l.tenant_id = ${tenantId} and l.wallet_id = ${walletId} and l.amount > 0
      group by m.lot_id
    ), taken as (
      select u.lot_id, sum(u.amount) as expired
      from lot_expiries x cross join unnest(x.lot_ids, x.amounts) u(lot_id, amount)
      where x.tenant_id = ${tenantId} and x.wallet_id = ${walletId}
      group by u.lot_id
    )
    select to_char(l.earned_at at time zone ${timeZone}, 'YYYY-MM') as month, sum(l.amount) as issued,
      coalesce(sum(mv.expired), 0) + coalesce(sum(tk.expired), 0) as expired, coalesce(sum(mv.returned), 0) as returned,
      bool_and(l.remaining = 0 and not l.pending) as closed
    from lots l join journal_entries e on e.tenant_id = l.tenant_id and e.entry_id = l.entry_id and e.kind = 'earn'
      left join moved mv on mv.lot_id = l.lot_id
      left join taken tk on tk.lot_id = l.lot_id
    where l.tenant_id = ${tenantId} and l.wallet_id = ${walletId} and l.amount > 0 and l.earned_at < ${before}
    group by 1 order by 1`.execute(db);
  return rows.map((r) => {
    const issued = BigInt(r.issued);
    const expired = BigInt(r.expired);
    const returned = BigInt(r.returned);
    return { month: r.month, issued, expired, returned, redeemed: issued - expired - returned, closed: r.closed };
  });
}
