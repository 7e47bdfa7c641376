// The console dashboard's figures for one program: members, activity and the points issued,
// redeemed and expired per day (in the tenant's time zone), the outstanding liability and the
// members per tier. Each figure is one aggregate statement over the journal or the balances.
import { sql } from 'kysely';
import type { Db } from './schema.js';

export interface DashboardDay {
  date: string;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
}

export interface Dashboard {
  members: bigint;
  activeMembers: bigint;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
  /** available and pending points of the redeemable wallets: what members could still claim */
  liability: bigint;
  days: DashboardDay[];
  tiers: { tier: string | null; members: bigint }[];
}

export async function dashboard(db: Db, tenantId: string, programId: string, timeZone: string, since: Date): Promise<Dashboard> {
  const [members, active, days, liability, tiers] = await Promise.all([
    db.selectFrom('members').select((eb) => eb.fn.countAll<string>().as('n'))
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('status', '<>', 'erased').executeTakeFirstOrThrow(),
    db.selectFrom('journal_entries').select(sql<string>`count(distinct member_id)`.as('n'))
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('created_at', '>=', since)
      .where('kind', 'in', ['earn', 'redeem', 'hold']).executeTakeFirstOrThrow(),
    db.selectFrom('journal_entries as j').innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'j.tenant_id').onRef('w.wallet_id', '=', 'j.wallet_id'))
      .select([
        sql<string>`to_char((j.created_at at time zone ${timeZone})::date, 'YYYY-MM-DD')`.as('date'),
        sql<string>`coalesce(sum(j.amount) filter (where j.kind = 'earn'), 0)`.as('issued'),
        sql<string>`coalesce(sum(j.amount) filter (where j.kind = 'redeem'), 0)`.as('redeemed'),
        sql<string>`coalesce(sum(j.amount) filter (where j.kind = 'expire'), 0)`.as('expired'),
      ])
      .where('j.tenant_id', '=', tenantId).where('j.program_id', '=', programId).where('j.created_at', '>=', since).where('w.kind', '=', 'redeemable')
      .groupBy(sql`1`).orderBy(sql`1`).execute(),
    db.selectFrom('balances as b').innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
      .select(sql<string>`coalesce(sum(b.available + b.pending), 0)`.as('n'))
      .where('b.tenant_id', '=', tenantId).where('b.program_id', '=', programId).where('w.kind', '=', 'redeemable').executeTakeFirstOrThrow(),
    db.selectFrom('members').select(['tier', (eb) => eb.fn.countAll<string>().as('n')])
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('status', '<>', 'erased').groupBy('tier').orderBy('tier').execute(),
  ]);
  const series = days.map((d) => ({ date: d.date, issued: BigInt(d.issued), redeemed: BigInt(d.redeemed), expired: BigInt(d.expired) }));
  const total = (k: 'issued' | 'redeemed' | 'expired') => series.reduce((s, d) => s + d[k], 0n);
  return {
    members: BigInt(members.n), activeMembers: BigInt(active.n), issued: total('issued'), redeemed: total('redeemed'), expired: total('expired'),
    liability: BigInt(liability.n), days: series, tiers: tiers.map((t) => ({ tier: t.tier, members: BigInt(t.n) })),
  };
}
