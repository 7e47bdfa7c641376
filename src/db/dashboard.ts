// The console dashboard's figures for one program: members, activity and the points issued,
// redeemed and expired per day (in the tenant's time zone: the analytics series, db/analytics.ts),
// the outstanding liability and the members per tier. Each figure is one aggregate statement.
import { notHouseholdAccount } from './households.js';
import { sql } from 'kysely';
import { pointsSeries } from './analytics.js';
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

export async function dashboard(db: Db, tenantId: string, programId: string, timeZone: string, since: Date, now: Date): Promise<Dashboard> {
  const [members, active, days, liability, tiers] = await Promise.all([
    db.selectFrom('members').select((eb) => eb.fn.countAll<string>().as('n'))
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('status', '<>', 'erased').where(notHouseholdAccount('members')).executeTakeFirstOrThrow(),
    db.selectFrom('journal_entries').select(sql<string>`count(distinct member_id)`.as('n'))
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('created_at', '>=', since)
      .where('kind', 'in', ['earn', 'redeem', 'hold']).where(notHouseholdAccount('journal_entries')).executeTakeFirstOrThrow(),
    // the analytics series, by day: net of reversals, so a return lowers the day's issued points
    pointsSeries(db, { tenantId, programId, timeZone, from: since, to: new Date(now.getTime() + 1), controlShareBp: 0, holdoutSalt: programId }, 'day'),
    db.selectFrom('balances as b').innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
      .select(sql<string>`coalesce(sum(b.available + b.pending), 0)`.as('n'))
      .where('b.tenant_id', '=', tenantId).where('b.program_id', '=', programId).where('w.kind', '=', 'redeemable').executeTakeFirstOrThrow(),
    db.selectFrom('members').select(['tier', (eb) => eb.fn.countAll<string>().as('n')])
      .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('status', '<>', 'erased').where(notHouseholdAccount('members')).groupBy('tier').orderBy('tier').execute(),
  ]);
  const series = days.map((d) => ({ date: d.start, issued: d.issued, redeemed: d.redeemed, expired: d.expired }));
  const total = (k: 'issued' | 'redeemed' | 'expired') => series.reduce((s, d) => s + d[k], 0n);
  return {
    members: BigInt(members.n), activeMembers: BigInt(active.n), issued: total('issued'), redeemed: total('redeemed'), expired: total('expired'),
    liability: BigInt(liability.n), days: series, tiers: tiers.map((t) => ({ tier: t.tier, members: BigInt(t.n) })),
  };
}
