// Analytics at scale: the analytics overview (services/analytics.ts: members, behaviour of members
// and control group, points by month, rewards and cost) over 1,000,000 purchase events of 100,000
// members, against a raw-SQL baseline in the same run and database: the plain aggregates over the
// same rows (count and sum of the period's events, the journal's sums by kind, the members count),
// run the same way (concurrently, on the same pool). A database of its own, written set-based:
// members, their events, one member_activity row each, an earn per event and a redeem every 10th
// (journal rows only: the reports read no balance). 10% of customers are held out.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { overview, roiReport, updateAnalyticsSettings } from '../src/services/analytics.js';
import { newFixture, type Fixture } from './fixtures.js';
import { resetDatabase, siblingDatabaseUrl } from './scale.js';
import { log, median } from './stats.js';

const ROWS_PER_STATEMENT = 100_000;
/** the fixture's year: events spread over 2026 (UTC) */
const FROM = new Date('2026-01-01T00:00:00Z');
const TO = new Date('2027-01-01T00:00:00Z');
const YEAR_S = (TO.getTime() - FROM.getTime()) / 1000;

export interface AnalyticsRound {
  first: 'laurel' | 'baseline';
  overviewMs: number;
  roiMs: number;
  baselineMs: number;
}

export interface AnalyticsResults {
  members: number;
  events: number;
  journalRows: number;
  buildMs: number;
  rounds: AnalyticsRound[];
  database: string;
  check: string;
}

async function build(laurel: Laurel, fx: Fixture, members: number, events: number): Promise<number> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  const wallet = fx.program.wallets.find((w) => w.code === 'points')!.walletId;
  const id = (kind: string, n: RawNumber) => sql`md5(${`${fx.runId}:${kind}:`}::text || ${n})::uuid`;
  type RawNumber = ReturnType<typeof sql.ref>;
  const g = sql.ref('g');
  // members enrolled over the year's first half
  for (let from = 1; from <= members; from += ROWS_PER_STATEMENT) {
    const to = Math.min(members, from + ROWS_PER_STATEMENT - 1);
    await sql`insert into members (tenant_id, member_id, program_id, external_id, attributes, status, enrolled_at, updated_at)
      select ${t}, ${id('m', g)}, ${p}, 'customer-' || g, '{}', 'active',
             ${FROM}::timestamptz + (g * ${Math.floor(YEAR_S / 2 / members)}) * interval '1 second', now()
      from generate_series(${from}::int, ${to}::int) g`.execute(laurel.db);
  }
  // event g: member g % members + 1, at a time after that member's enrolment, spend 10.00–99.99
  for (let from = 1; from <= events; from += ROWS_PER_STATEMENT) {
    const to = Math.min(events, from + ROWS_PER_STATEMENT - 1);
    const member = sql`(g % ${members} + 1)`;
    const at = sql`(${FROM}::timestamptz + interval '1 second' * (${Math.floor(YEAR_S / 2 / members)} * ${member} + (g::bigint * 7919) % ${Math.floor(YEAR_S / 2)}))`;
    const total = sql`(1000 + (g::bigint * 104729) % 9000)`;
    await sql`insert into events (tenant_id, event_id, program_id, member_id, external_id, type, occurred_at, currency, total, paid_with_points, payload, points, created_at)
      select ${t}, ${id('e', g)}, ${p}, md5(${`${fx.runId}:m:`}::text || ${member})::uuid, 'order-' || g, 'purchase', ${at}, 'EUR', ${total}, 0, '{}', 0, ${at}
      from generate_series(${from}::int, ${to}::int) g`.execute(laurel.db);
    await sql`insert into member_activity (tenant_id, event_id, program_id, member_id, occurred_at, qualifying_points, spend, visits)
      select ${t}, ${id('e', g)}, ${p}, md5(${`${fx.runId}:m:`}::text || ${member})::uuid, ${at}, ${total} / 100, ${total}, 1
      from generate_series(${from}::int, ${to}::int) g`.execute(laurel.db);
    await sql`insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, actor, created_at)
      select ${t}::uuid, ${id('j', g)}, ${p}::uuid, ${wallet}::uuid, md5(${`${fx.runId}:m:`}::text || ${member})::uuid, 'earn', ${total} / 100, 'bench', ${at}
      from generate_series(${from}::int, ${to}::int) g
      union all
      select ${t}::uuid, ${id('r', g)}, ${p}::uuid, ${wallet}::uuid, md5(${`${fx.runId}:m:`}::text || ${member})::uuid, 'redeem', 50, 'bench', ${at} + interval '1 hour'
      from generate_series(${from}::int, ${to}::int) g where g % 10 = 0`.execute(laurel.db);
  }
  // what each purchase event adds on the event path (migration 0113), in one statement
  await sql`insert into member_purchase_months (tenant_id, member_id, month, purchases, spend)
    select e.tenant_id, e.member_id, laurel_month_of(e.occurred_at, z.time_zone), count(*), sum(e.total)
    from events e join tenants z on z.tenant_id = e.tenant_id where e.tenant_id = ${t} and e.type = 'purchase' group by 1, 2, 3`.execute(laurel.db);
  await sql`analyze members, events, member_activity, journal_entries, reward_instances`.execute(laurel.db);
  const { rows: [n] } = await sql<{ n: string }>`select count(*) as n from journal_entries where tenant_id = ${t}`.execute(laurel.db);
  return Number(n!.n);
}

/** The same rows, aggregated plainly: what any report of them must read at least. */
async function baseline(laurel: Laurel, fx: Fixture): Promise<void> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  await Promise.all([
    sql`select count(*) from members where tenant_id = ${t} and program_id = ${p} and status <> 'erased' and enrolled_at < ${TO}`.execute(laurel.db),
    sql`select count(distinct member_id), count(*), sum(total) from events
        where tenant_id = ${t} and program_id = ${p} and occurred_at >= ${FROM} and occurred_at < ${TO} and type = 'purchase'`.execute(laurel.db),
    sql`select kind, sum(amount) from journal_entries
        where tenant_id = ${t} and program_id = ${p} and created_at >= ${FROM} and created_at < ${TO} group by kind`.execute(laurel.db),
  ]);
}

const timed = async (run: () => Promise<unknown>): Promise<number> => {
  const start = performance.now();
  await run();
  return performance.now() - start;
};

export async function analyticsBenchmark(url: string, runId: string, o: { members: number; events: number; rounds: number }): Promise<AnalyticsResults> {
  const dbUrl = siblingDatabaseUrl(url, 'analytics');
  await resetDatabase(dbUrl, true);
  const laurel = await openLaurel({ databaseUrl: dbUrl, poolSize: 8 });
  try {
    const fx = await newFixture(laurel, runId, 'analytics', undefined, []);
    await updateAnalyticsSettings(laurel, fx.tenantId, fx.program.programId, { controlShareBp: 1000, grossMarginBp: 4000 }, 'bench');
    log(`analytics: writing ${o.members} members and ${o.events} events`);
    const start = performance.now();
    const journalRows = await build(laurel, fx, o.members, o.events);
    const buildMs = performance.now() - start;
    const period = { from: FROM.toISOString(), to: TO.toISOString() };
    const run = () => overview(laurel, fx.tenantId, fx.program.programId, period);
    // warm: plans and the pages of the index ranges, for both sides alike
    const first = await run();
    await baseline(laurel, fx);
    const rounds: AnalyticsRound[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const laurelFirst = r % 2 === 0;
      let overviewMs = 0;
      let baselineMs = 0;
      if (laurelFirst) overviewMs = await timed(run);
      baselineMs = await timed(() => baseline(laurel, fx));
      if (!laurelFirst) overviewMs = await timed(run);
      const roiMs = await timed(() => roiReport(laurel, fx.tenantId, fx.program.programId, period));
      rounds.push({ first: laurelFirst ? 'laurel' : 'baseline', overviewMs, roiMs, baselineMs });
      log(`analytics round ${r + 1}: overview ${overviewMs.toFixed(0)} ms, roi ${roiMs.toFixed(0)} ms, baseline ${baselineMs.toFixed(0)} ms`);
    }
    const orders = first.groups.members.orders + first.groups.control.orders;
    const check = orders === BigInt(o.events) && first.members === BigInt(o.members)
      ? `ok: the overview counts ${orders} orders of ${first.members} members (${first.controlMembers} held out), as written`
      : `MISMATCH: the overview counts ${orders} orders of ${first.members} members; ${o.events} and ${o.members} were written`;
    return { members: o.members, events: o.events, journalRows, buildMs, rounds, database: new URL(dbUrl).pathname.slice(1), check };
  } finally {
    await laurel.close();
    await resetDatabase(dbUrl, false);
  }
}

export interface AnalyticsSummary {
  members: number;
  events: number;
  overview_ms: number;
  roi_ms: number;
  baseline_ms: number;
  ratio: number;
  roi_ratio: number;
}

export function summarizeAnalytics(e: AnalyticsResults): AnalyticsSummary {
  const overviewMs = median(e.rounds.map((r) => r.overviewMs));
  const roiMs = median(e.rounds.map((r) => r.roiMs));
  const baselineMs = median(e.rounds.map((r) => r.baselineMs));
  return {
    members: e.members, events: e.events, overview_ms: Math.round(overviewMs), roi_ms: Math.round(roiMs), baseline_ms: Math.round(baselineMs),
    ratio: Math.round((overviewMs / baselineMs) * 100) / 100, roi_ratio: Math.round((roiMs / baselineMs) * 100) / 100,
  };
}
