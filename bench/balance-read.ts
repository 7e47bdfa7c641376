// Balance reads: getBalance for a member with a short history and for one with a long one.
// Reading a balance reads the member's balance row; it must never scan the journal.
import { sql } from 'kysely';
import { verifyLedger, formatReport } from '../src/db/verify.js';
import type { Laurel } from '../src/services/context.js';
import { earn, getBalance } from '../src/services/ledger.js';
import { EARN_AMOUNT } from './earn.js';
import { newMembers, type Fixture } from './fixtures.js';
import { runLoad, type LoadResult } from './load.js';
import { log } from './stats.js';

export interface Histories {
  small: string;
  large: string;
  smallEntries: number;
  largeEntries: number;
  verifyMs: number;
  bulkMs: number;
}

function pointsWallet(fx: Fixture): string {
  const w = fx.program.wallets.find((x) => x.code === 'points');
  if (!w) throw new Error('the bench program has no points wallet');
  return w.walletId;
}

/**
 * Writes `count` earns for a member in one set-based statement, exactly the rows `earn` writes
 * (see writeDecision): per earn one journal entry, two postings (issuance -a, member available +a),
 * one lot and one lot movement; then the balance row moves by the total, under its lock.
 * No idempotency records: they are not part of the ledger history, and nobody replays these keys.
 */
export async function bulkEarnHistory(laurel: Laurel, fx: Fixture, memberId: string, count: number): Promise<void> {
  const walletId = pointsWallet(fx);
  const t = fx.tenantId;
  const p = fx.program.programId;
  const a = EARN_AMOUNT;
  const total = a * BigInt(count);
  const now = laurel.clock.now();
  // The history ends now, one entry per millisecond before it.
  const start = new Date(now.getTime() - count);
  await laurel.db.transaction().execute(async (trx) => {
    const locked = await sql<{ available: bigint }>`select available from balances
      where tenant_id = ${t} and member_id = ${memberId} and wallet_id = ${walletId} for update`.execute(trx);
    if (locked.rows.length !== 1) throw new Error('large-history member has no balance row');
    await sql`
      with src as materialized (
        select g, laurel_uuid_v7() as entry_id, laurel_uuid_v7() as lot_id, laurel_uuid_v7() as movement_id,
               ${start}::timestamptz + g * interval '1 millisecond' as at
        from generate_series(1, ${count}::int) g
      ), e as (
        insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, counterparty_id,
          hold_id, lot_id, reverses_entry_id, idempotency_key, ref, actor, reason, created_at)
        select ${t}::uuid, entry_id, ${p}::uuid, ${walletId}::uuid, ${memberId}::uuid, 'earn', ${a}::bigint, null,
          null, lot_id, null, 'bench-bulk-' || ${fx.runId}::text || '-' || g, 'order-bulk-' || g, 'api', null, at
        from src
      ), p as (
        insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
        select ${t}::uuid, entry_id, 1, ${walletId}::uuid, null, 'issuance', -${a}::bigint from src
        union all
        select ${t}::uuid, entry_id, 2, ${walletId}::uuid, ${memberId}::uuid, 'available', ${a}::bigint from src
      ), l as (
        insert into lots (tenant_id, lot_id, program_id, wallet_id, member_id, entry_id, amount, remaining, pending,
          earned_at, available_at, expires_at)
        select ${t}::uuid, lot_id, ${p}::uuid, ${walletId}::uuid, ${memberId}::uuid, entry_id, ${a}::bigint, ${a}::bigint, false,
          at, at, null
        from src
      ), m as (
        insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
        select ${t}::uuid, movement_id, entry_id, entry_id, lot_id, ${a}::bigint, at from src
      )
      update balances set available = available + ${total}::bigint, lifetime_earned = lifetime_earned + ${total}::bigint,
        last_activity_at = (select max(at) from src)
      where tenant_id = ${t} and member_id = ${memberId} and wallet_id = ${walletId}`.execute(trx);
  });
  await sql`analyze journal_entries, postings, lots, lot_movements`.execute(laurel.db);
}

export async function buildHistories(laurel: Laurel, fx: Fixture, smallEntries: number, largeEntries: number): Promise<Histories> {
  const [small, large] = await newMembers(laurel, fx, 2, 'history') as [string, string];
  for (let i = 0; i < smallEntries; i++) {
    await earn(laurel, { tenantId: fx.tenantId, memberId: small, amount: EARN_AMOUNT, idempotencyKey: `bench-${fx.runId}-small-${i}` });
  }
  log(`writing a ${largeEntries}-entry history in bulk`);
  let t = Date.now();
  await bulkEarnHistory(laurel, fx, large, largeEntries);
  const bulkMs = Date.now() - t;
  log(`bulk history written in ${bulkMs} ms; verifying the tenant's ledger`);
  t = Date.now();
  const report = await verifyLedger(laurel.db, laurel.clock.now(), fx.tenantId);
  const verifyMs = Date.now() - t;
  if (!report.ok) throw new Error(`the bench's bulk history is inconsistent:\n${formatReport(report)}`);
  for (const [member, n] of [[small, smallEntries], [large, largeEntries]] as const) {
    const b = await getBalance(laurel, fx.tenantId, member);
    const entries = await laurel.db.selectFrom('journal_entries').select((eb) => eb.fn.countAll<string>().as('n'))
      .where('tenant_id', '=', fx.tenantId).where('member_id', '=', member).executeTakeFirstOrThrow();
    if (b.available !== EARN_AMOUNT * BigInt(n) || Number(entries.n) !== n) {
      throw new Error(`member ${member}: ${entries.n} entries, balance ${b.available}; expected ${n} entries`);
    }
  }
  log(`ledger verified (${verifyMs} ms): every invariant holds`);
  return { small, large, smallEntries, largeEntries, verifyMs, bulkMs };
}

export async function runReads(laurel: Laurel, fx: Fixture, memberId: string, concurrency: number, warmupMs: number, durationMs: number): Promise<LoadResult> {
  return runLoad({ concurrency, warmupMs, durationMs, op: () => getBalance(laurel, fx.tenantId, memberId) });
}
