// Set-based statements that bring wallets up to `now`: release expired holds, mature pending
// lots, expire lots, and net debts against new points. Each runs over every due row at once
// (or over one wallet, when a service settles the wallet it has locked) — never a per-row loop.
// Every statement locks the balance rows it will change before anything else, in key order,
// as the services do, so the jobs and the API cannot deadlock each other.
import { sql, type RawBuilder } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { inactiveSince, type Trx } from './ledger.js';
import type { Db } from './schema.js';

/**
 * Which wallets a statement may touch: the one a service has locked, or the chunk of due
 * wallets a job has locked into the temp table settle_wallets (see settleDue). Statements read
 * lots only after those locks are held, so nobody changes them underneath.
 */
export type Scope = { tenantId: string; memberId: string; walletId: string } | 'locked_chunk';

function inScope(scope: Scope, alias: string): RawBuilder<unknown> {
  const a = sql.raw(alias);
  if (scope === 'locked_chunk') {
    return sql`(${a}.tenant_id, ${a}.member_id, ${a}.wallet_id) in (select tenant_id, member_id, wallet_id from settle_wallets)`;
  }
  return sql`${a}.tenant_id = ${scope.tenantId} and ${a}.member_id = ${scope.memberId} and ${a}.wallet_id = ${scope.walletId}`;
}

const count = async (trx: Trx, query: RawBuilder<{ n: number }>): Promise<number> =>
  (await query.execute(trx)).rows[0]?.n ?? 0;

export async function releaseExpiredHolds(trx: Trx, now: Date, scope: Scope): Promise<number> {
  return count(trx, sql<{ n: number }>`
    with due as (
      select h.* from holds h where h.status = 'active' and h.expires_at <= ${now} and ${inScope(scope, 'h')}
      for update
    ), resolved as (
      update holds h set status = 'expired', resolved_at = ${now}
      from due where h.tenant_id = due.tenant_id and h.hold_id = due.hold_id
    ), ent as (
      insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, hold_id, actor, created_at)
      select tenant_id, laurel_uuid_v7(), program_id, wallet_id, member_id, 'release', amount, hold_id, 'system:hold-expiry', ${now}
      from due
      returning tenant_id, entry_id, wallet_id, member_id, amount, hold_id
    ), post as (
      insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
      select tenant_id, entry_id, 1, wallet_id, member_id, 'held', -amount from ent
      union all
      select tenant_id, entry_id, 2, wallet_id, member_id, 'available', amount from ent
    ), net as (
      select due.tenant_id, due.hold_id, due.hold_entry_id, mv.lot_id, -sum(mv.delta) as restore
      from due join lot_movements mv on mv.tenant_id = due.tenant_id and mv.group_entry_id = due.hold_entry_id
      group by due.tenant_id, due.hold_id, due.hold_entry_id, mv.lot_id
      having sum(mv.delta) < 0
    ), moved as (
      insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
      select net.tenant_id, laurel_uuid_v7(), ent.entry_id, net.hold_entry_id, net.lot_id, net.restore, ${now}
      from net join ent on ent.tenant_id = net.tenant_id and ent.hold_id = net.hold_id
    ), restored as (
      update lots l set remaining = l.remaining + s.restore
      from (select tenant_id, lot_id, sum(restore) as restore from net group by tenant_id, lot_id) s
      where l.tenant_id = s.tenant_id and l.lot_id = s.lot_id
    ), bal as (
      update balances b set held = b.held - s.amount, available = b.available + s.amount
      from (select tenant_id, member_id, wallet_id, sum(amount) as amount from due group by tenant_id, member_id, wallet_id) s
      where b.tenant_id = s.tenant_id and b.member_id = s.member_id and b.wallet_id = s.wallet_id
    )
    select count(*)::int as n from due`);
}

export async function matureLots(trx: Trx, now: Date, scope: Scope): Promise<number> {
  return count(trx, sql<{ n: number }>`
    with due as (
      select l.tenant_id, l.lot_id, l.program_id, l.wallet_id, l.member_id, l.remaining
      from lots l where l.pending and l.available_at <= ${now} and ${inScope(scope, 'l')}
    ), matured as (
      update lots l set pending = false from due where l.tenant_id = due.tenant_id and l.lot_id = due.lot_id
    ), ent as (
      insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, lot_id, actor, created_at)
      select tenant_id, laurel_uuid_v7(), program_id, wallet_id, member_id, 'mature', remaining, lot_id, 'system:maturation', ${now}
      from due where remaining > 0
      returning tenant_id, entry_id, wallet_id, member_id, amount
    ), post as (
      insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
      select tenant_id, entry_id, 1, wallet_id, member_id, 'pending', -amount from ent
      union all
      select tenant_id, entry_id, 2, wallet_id, member_id, 'available', amount from ent
    ), bal as (
      update balances b set pending = b.pending - s.amount, available = b.available + s.amount
      from (select tenant_id, member_id, wallet_id, sum(remaining) as amount from due
            group by tenant_id, member_id, wallet_id) s
      where b.tenant_id = s.tenant_id and b.member_id = s.member_id and b.wallet_id = s.wallet_id
    )
    select count(*)::int as n from due where remaining > 0`);
}

/** Lots in wallets idle for longer than an inactivity policy allows. */
function idleLots(now: Date, filter: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
    select l.tenant_id, l.lot_id, l.program_id, l.wallet_id, l.member_id, l.remaining
    from lots l
    join balances b on b.tenant_id = l.tenant_id and b.member_id = l.member_id and b.wallet_id = l.wallet_id
    join programs p on p.tenant_id = l.tenant_id and p.program_id = l.program_id
    join tenants t on t.tenant_id = l.tenant_id
    where p.expiry_kind = 'inactivity' and not l.pending and l.remaining > 0 and l.expires_at is null
      and ${inactiveSince(sql`b.last_activity_at`, sql`p.expiry_months`, sql`t.time_zone`, now)} and ${filter}`;
}

/** Lots due to expire: past their date, or in a wallet idle for too long. */
function dueToExpire(now: Date, scope: Scope): RawBuilder<unknown> {
  return sql`
    select l.tenant_id, l.lot_id, l.program_id, l.wallet_id, l.member_id, l.remaining
    from lots l
    where not l.pending and l.remaining > 0 and l.expires_at <= ${now} and ${inScope(scope, 'l')}
    union all
    ${idleLots(now, inScope(scope, 'l'))}`;
}

export async function expireLots(trx: Trx, now: Date, scope: Scope): Promise<{ lots: number; points: bigint }> {
  const { rows } = await sql<{ lots: number; points: bigint }>`
    with due as (${dueToExpire(now, scope)}),
    expired as (
      update lots l set remaining = 0 from due where l.tenant_id = due.tenant_id and l.lot_id = due.lot_id
    ), grp as (
      select tenant_id, program_id, wallet_id, member_id, laurel_uuid_v7() as entry_id, sum(remaining) as amount,
        array_agg(lot_id order by lot_id) as lot_ids, array_agg(remaining order by lot_id) as amounts
      from due group by tenant_id, program_id, wallet_id, member_id
    ), ent as (
      insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, actor, created_at)
      select tenant_id, entry_id, program_id, wallet_id, member_id, 'expire', amount, 'system:expiry', ${now} from grp
    ), post as (
      insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
      select tenant_id, entry_id, 1, wallet_id, member_id, 'available', -amount from grp
      union all
      select tenant_id, entry_id, 2, wallet_id, null, 'expiry', amount from grp
    ), taken as (
      insert into lot_expiries (tenant_id, entry_id, wallet_id, lot_ids, amounts, created_at)
      select tenant_id, entry_id, wallet_id, lot_ids, amounts, ${now} from grp
    ), bal as (
      update balances b set available = b.available - grp.amount, expired = b.expired + grp.amount
      from grp where b.tenant_id = grp.tenant_id and b.member_id = grp.member_id and b.wallet_id = grp.wallet_id
    )
    select count(*)::int as lots, coalesce(sum(remaining), 0)::bigint as points from due`.execute(trx);
  return rows[0] ?? { lots: 0, points: 0n };
}

/**
 * Repays debts (negative lots left by claw-backs) from spendable lots, oldest debt first,
 * soonest-expiring points first. Both sides are laid out as intervals on a running total per
 * wallet; each overlap of a debt interval and a points interval is one repayment.
 * Balances do not move: available already counts the debt.
 */
export async function repayDebts(trx: Trx, now: Date, scope: Scope): Promise<number> {
  return count(trx, sql<{ n: number }>`
    with debt as (
      select tenant_id, member_id, wallet_id, lot_id, entry_id, -remaining as owed,
        sum(-remaining) over (partition by tenant_id, member_id, wallet_id order by earned_at, lot_id) + remaining as start
      from lots l where l.remaining < 0 and ${inScope(scope, 'l')}
    ), credit as (
      select l.tenant_id, l.member_id, l.wallet_id, l.lot_id, l.remaining,
        sum(l.remaining) over (partition by l.tenant_id, l.member_id, l.wallet_id
                               order by l.expires_at nulls last, l.earned_at, l.lot_id) - l.remaining as start
      from lots l
      where l.remaining > 0 and not l.pending and (l.expires_at is null or l.expires_at > ${now}) and ${inScope(scope, 'l')}
        and exists (select 1 from lots d where d.tenant_id = l.tenant_id and d.member_id = l.member_id
                    and d.wallet_id = l.wallet_id and d.remaining < 0)
    ), pairs as (
      select d.tenant_id, d.lot_id as debt_lot, d.entry_id as debt_entry, c.lot_id as credit_lot,
        least(d.start + d.owed, c.start + c.remaining) - greatest(d.start, c.start) as amount
      from debt d join credit c on c.tenant_id = d.tenant_id and c.member_id = d.member_id and c.wallet_id = d.wallet_id
      where least(d.start + d.owed, c.start + c.remaining) > greatest(d.start, c.start)
    ), moves as (
      select tenant_id, debt_entry, credit_lot as lot_id, -amount as delta from pairs
      union all
      select tenant_id, debt_entry, debt_lot, amount from pairs
    ), moved as (
      insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
      select tenant_id, laurel_uuid_v7(), debt_entry, debt_entry, lot_id, delta, ${now} from moves
    ), netted as (
      update lots l set remaining = l.remaining + s.delta
      from (select tenant_id, lot_id, sum(delta) as delta from moves group by tenant_id, lot_id) s
      where l.tenant_id = s.tenant_id and l.lot_id = s.lot_id
    )
    select count(*)::int as n from pairs`);
}

export interface SettlementReport {
  wallets: number;
  holdsReleased: number;
  lotsMatured: number;
  lotsExpired: number;
  pointsExpired: bigint;
  debtsRepaid: number;
}

const emptyReport = (): SettlementReport =>
  ({ wallets: 0, holdsReleased: 0, lotsMatured: 0, lotsExpired: 0, pointsExpired: 0n, debtsRepaid: 0 });

/** Brings wallets up to `now`: holds first (they give points back), then maturation, expiry, debts. */
export async function settle(trx: Trx, now: Date, scope: Scope): Promise<SettlementReport> {
  const holdsReleased = await releaseExpiredHolds(trx, now, scope);
  const lotsMatured = await matureLots(trx, now, scope);
  const expired = await expireLots(trx, now, scope);
  const debtsRepaid = await repayDebts(trx, now, scope);
  return { wallets: 1, holdsReleased, lotsMatured, lotsExpired: expired.lots, pointsExpired: expired.points, debtsRepaid };
}

/** Whether the wallet `s` of settle_wallets is still due: the checks of dueWallets, for that wallet, each on its index. */
function stillDue(now: Date): RawBuilder<unknown> {
  const of = (a: string) => sql.raw(`${a}.tenant_id = s.tenant_id and ${a}.member_id = s.member_id and ${a}.wallet_id = s.wallet_id`);
  return sql`
    exists (select 1 from holds h where ${of('h')} and h.status = 'active' and h.expires_at <= ${now})
    or exists (select 1 from lots l where ${of('l')} and l.pending and l.available_at <= ${now})
    or exists (select 1 from lots l where ${of('l')} and not l.pending and l.remaining > 0 and l.expires_at <= ${now})
    or exists (${idleLots(now, of('l'))})
    or exists (select 1 from lots d where ${of('d')} and d.remaining < 0 and exists (select 1 from lots c where ${of('c')}
      and c.remaining > 0 and not c.pending))`;
}

type WalletKey = { tenant_id: string; member_id: string; wallet_id: string };

/** Wallets with anything due at `now`: a hold to release, a lot to mature or expire, a debt to repay. */
const dueWallets = (now: Date) => sql`
  select tenant_id, member_id, wallet_id from holds where status = 'active' and expires_at <= ${now}
  union
  select tenant_id, member_id, wallet_id from lots where pending and available_at <= ${now}
  union
  select tenant_id, member_id, wallet_id from lots where not pending and remaining > 0 and expires_at <= ${now}
  union
  select l.tenant_id, l.member_id, l.wallet_id from (${idleLots(now, sql`true`)}) l
  union
  select d.tenant_id, d.member_id, d.wallet_id from lots d
  where d.remaining < 0 and exists (select 1 from lots c where c.tenant_id = d.tenant_id and c.member_id = d.member_id
    and c.wallet_id = d.wallet_id and c.remaining > 0 and not c.pending)`;

/**
 * Settles every due wallet, a chunk of `chunkSize` wallets per transaction. Wallets locked by
 * a request (or another worker) are skipped and left for the next run, so any number of
 * workers can run this at once, and a run cut short leaves only whole chunks done.
 *
 * The due set is found once per run, into settle_due under the run's id, and chunks are taken
 * from it in key order after the last one: each chunk then costs its own size. (Finding it for
 * every chunk read the whole backlog and joined every balance row of the database each time.)
 * settle_due is a table, not a temp table: every statement of the run may reach another server
 * session (a pool, a transaction pooler such as PgBouncer), and each sees it. Between chunks,
 * requests go ahead. A wallet that falls due during the run waits for the next.
 */
export async function settleDue(db: Db, now: Date, chunkSize = 5000, onChunk?: (total: SettlementReport) => void): Promise<SettlementReport> {
  const runId = uuidv7();
  // (rows of a run that died before its end)
  await sql`delete from settle_due where created_at < now() - interval '1 day'`.execute(db);
  await sql`insert into settle_due (run_id, tenant_id, member_id, wallet_id) select ${runId}::uuid, * from (${dueWallets(now)}) due`.execute(db);
  await sql`analyze settle_due`.execute(db);
  try {
    const total = emptyReport();
    let after: WalletKey | null = null;
    for (;;) {
      const chunk: (SettlementReport & { last: WalletKey }) | null = await db.transaction().execute(async (trx) => {
        await sql`create temp table if not exists settle_wallets (
          tenant_id uuid, member_id uuid, wallet_id uuid, primary key (tenant_id, member_id, wallet_id)
        ) on commit delete rows`.execute(trx);
        const from = after === null ? sql`true` : sql`(d.tenant_id, d.member_id, d.wallet_id) > (${after.tenant_id}::uuid, ${after.member_id}::uuid, ${after.wallet_id}::uuid)`;
        const { rows } = await sql<WalletKey>`
          with taken as (
            select b.tenant_id, b.member_id, b.wallet_id from settle_due d
            join balances b on b.tenant_id = d.tenant_id and b.member_id = d.member_id and b.wallet_id = d.wallet_id
            where d.run_id = ${runId} and ${from}
            order by d.tenant_id, d.member_id, d.wallet_id
            limit ${chunkSize}
            for update of b skip locked
          ), kept as (
            insert into settle_wallets select * from taken
          )
          select tenant_id, member_id, wallet_id from taken order by tenant_id desc, member_id desc, wallet_id desc limit 1`.execute(trx);
        if (rows.length === 0) return null;
        // A wallet another worker settled since this run found its due set is locked all the same:
        // drop those, so each wallet is counted by one worker.
        await sql`delete from settle_wallets s where not (${stillDue(now)})`.execute(trx);
        const wallets = Number((await sql<{ n: number }>`select count(*)::int as n from settle_wallets`.execute(trx)).rows[0]!.n);
        return { ...(await settle(trx, now, 'locked_chunk')), wallets, last: rows[0]! };
      });
      if (!chunk) return total;
      after = chunk.last;
      total.wallets += chunk.wallets;
      total.holdsReleased += chunk.holdsReleased;
      total.lotsMatured += chunk.lotsMatured;
      total.lotsExpired += chunk.lotsExpired;
      total.pointsExpired += chunk.pointsExpired;
      total.debtsRepaid += chunk.debtsRepaid;
      onChunk?.(total);
    }
  } finally {
    await sql`delete from settle_due where run_id = ${runId}`.execute(db);
  }
}
