// `npm run bench:accounting [-- --quick] [-- --members N] [-- --events N] [-- --json]`: loyalty accounting at scale, each figure
// beside a baseline measured in the same run.
// 1. The monthly liability roll-forward (accountingReport) over EVENTS ledger events of MEMBERS members
//    (60% earns with their accounting allocation, 30% redemptions, 10% expiries, spread over 2026),
//    against the raw SQL aggregate a hand-written report would need: the month's sums by account
//    over the same tables (journal_entries ⋈ postings, accounting_entries). Bar: ≤ 3×.
// 2. The accounting write on the event path: purchases through ingestEvent on a program with
//    accounting settings against the same purchases on one without, same run, alternating. Bar: ≥ 0.85.
// The fixture is written with set-based SQL into a database of its own (<DATABASE_URL's>_accounting).
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { ManualClock } from '../src/core/clock.js';
import { parsePeriod } from '../src/core/accounting/periods.js';
import { putAccountingSettings } from '../src/services/accounting.js';
import { accountingReport } from '../src/services/accounting-reports.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { ingestEvent } from '../src/services/events.js';
import { redact } from './database.js';
import { newFixture, newMembers, type Fixture } from './fixtures.js';
import { bulkMembers, resetDatabase, siblingDatabaseUrl } from './scale.js';
import { log, median, round } from './stats.js';

const { values } = parseArgs({ options: {
  quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
  members: { type: 'string' }, events: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, concurrency: { type: 'string' },
} });
const quick = values.quick!;
const MEMBERS = Number(values.members ?? (quick ? 10_000 : 100_000));
const EVENTS = Number(values.events ?? (quick ? 100_000 : 1_000_000));
const SECONDS = Number(values.seconds ?? (quick ? 2 : 5));
const ROUNDS = Number(values.rounds ?? (quick ? 2 : 5));
const CONCURRENCY = Number(values.concurrency ?? 8);
const REPORT_RUNS = quick ? 5 : 11;
const url = siblingDatabaseUrl(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/laurel_bench', 'accounting');

const YEAR = Date.parse('2026-01-01T00:00:00+01:00');
const YEAR_MS = 365 * 86_400_000;

/** EVENTS journal entries with their two postings, and an allocation per earn, in chunks of 100,000. */
async function bulkHistory(laurel: Laurel, fx: Fixture, first: number): Promise<void> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  const wallet = fx.program.wallets.find((w) => w.code === 'points')!.walletId;
  for (let from = 1; from <= EVENTS; from += 100_000) {
    const to = Math.min(EVENTS, from + 99_999);
    await sql`
      with m as (select member_id, row_number() over (order by member_id) - 1 as n from members where tenant_id = ${t}::uuid),
      g as (
        select g, gen_random_uuid() as entry_id, case when g % 10 < 6 then 'earn' when g % 10 < 9 then 'redeem' else 'expire' end as kind,
          (g % 97 + 10)::bigint as amount, to_timestamp((${YEAR} + (g::bigint * ${YEAR_MS}) / ${EVENTS}) / 1000.0) as at, m.member_id
        from generate_series(${from}::int, ${to}::int) g join m on m.n = g % ${MEMBERS}
      ), j as (
        insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, actor, created_at)
        select ${t}::uuid, entry_id, ${p}::uuid, ${wallet}::uuid, member_id, kind, amount, 'bench', at from g
      ), legs as (
        insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
        select ${t}::uuid, entry_id, 1, ${wallet}::uuid, member_id, 'available', case when kind = 'earn' then amount else -amount end from g
        union all
        select ${t}::uuid, entry_id, 2, ${wallet}::uuid, null, case kind when 'earn' then 'issuance' when 'redeem' then 'redemption' else 'expiry' end,
          case when kind = 'earn' then -amount else amount end from g
      )
      insert into accounting_entries (tenant_id, entry_id, program_id, kind, member_id, purchase_event_id, ledger_entry_id, points, amount, price, rate_bps, carry_micro, posted_at)
      select ${t}::uuid, gen_random_uuid(), ${p}::uuid, 'allocation', member_id, gen_random_uuid(), entry_id, amount, amount * 8 / 10, amount * 100, 8000, 0, at
      from g where kind = 'earn'`.execute(laurel.db);
    log(`history: ${to - first + 1} of ${EVENTS} events`);
  }
  await sql`analyze journal_entries, postings, accounting_entries, members`.execute(laurel.db);
}

/** The month's figures a hand-written report needs, straight from the same tables. */
async function rawMonth(laurel: Laurel, fx: Fixture, start: Date, end: Date): Promise<void> {
  const wallet = fx.program.wallets.find((w) => w.code === 'points')!.walletId;
  await sql`select p.account, j.kind, sum(p.amount), sum(p.amount) filter (where j.created_at >= ${start})
    from journal_entries j join postings p on p.tenant_id = j.tenant_id and p.entry_id = j.entry_id and p.member_id is null
    where j.tenant_id = ${fx.tenantId} and j.wallet_id = ${wallet} and j.created_at < ${end} group by 1, 2`.execute(laurel.db);
  await sql`select kind, sum(amount), sum(amount) filter (where posted_at >= ${start}) from accounting_entries
    where tenant_id = ${fx.tenantId} and program_id = ${fx.program.programId} and posted_at < ${end} group by 1`.execute(laurel.db);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/** Purchases by `concurrency` workers, each on its own member, for `ms`: completed events per second. */
async function purchases(laurel: Laurel, fx: Fixture, members: string[], ms: number, label: string): Promise<number> {
  let done = 0;
  let serial = 0;
  const until = performance.now() + ms;
  await Promise.all(members.map(async (memberId) => {
    while (performance.now() < until) {
      await ingestEvent(laurel, fx.tenantId, { programId: fx.program.programId, memberId, type: 'purchase', externalId: `${label}-${memberId}-${++serial}`, lines: [{ sku: 'A', quantity: 1, unitPrice: 4250 }] });
      done++;
    }
  }));
  return done / (ms / 1000);
}

async function main(): Promise<void> {
  log(`accounting bench on ${redact(url)}: ${MEMBERS} members, ${EVENTS} events${quick ? ' (--quick)' : ''}`);
  await resetDatabase(url, true);
  // The program starts before its history (reports read nothing before a program's first month); the reports run in January 2027.
  const clock = new ManualClock('2025-12-01T10:00:00Z');
  const laurel = await openLaurel({ databaseUrl: url, poolSize: CONCURRENCY + 4 }, clock);
  try {
    const runId = `${Date.now()}`;
    // 1. roll-forward
    const books = await newFixture(laurel, runId, 'books');
    await putAccountingSettings(laurel, books.tenantId, books.program.programId, { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.8' }, 'bench');
    await laurel.db.transaction().execute(async (trx) => {
      for (let from = 1; from <= MEMBERS; from += 10_000) await bulkMembers(trx, books, 'bm-', from, Math.min(MEMBERS, from + 9_999), new Date('2025-12-01T00:00:00Z'));
    });
    await bulkHistory(laurel, books, 1);
    clock.set('2027-01-10T10:00:00Z');
    const check = await accountingReport(laurel, books.tenantId, books.program.programId, '2026-06');
    if (check.rollForward.points.issued <= 0n) throw new Error('the roll-forward read no history: the bench measures nothing');
    const month = parsePeriod('2026-06', 'Europe/Paris');
    const report: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < REPORT_RUNS; i++) {
      // alternate which side goes first, so drifting noise hits both alike
      const sides = i % 2 === 0 ? ['report', 'raw'] : ['raw', 'report'];
      for (const side of sides) {
        if (side === 'report') report.push(await timed(() => accountingReport(laurel, books.tenantId, books.program.programId, '2026-06')));
        else raw.push(await timed(() => rawMonth(laurel, books, month.start, month.end)));
      }
    }
    const rollForward = { report_ms: round(median(report)), raw_ms: round(median(raw)), ratio: round(median(report) / median(raw), 2), bar: 3 };
    // 2. event path
    const withBooks = await newFixture(laurel, runId, 'events-books');
    await putAccountingSettings(laurel, withBooks.tenantId, withBooks.program.programId, { pointValue: { points: 100, minor: 100 }, expectedRedemptionRate: '0.8' }, 'bench');
    const without = await newFixture(laurel, runId, 'events-plain');
    const a = await newMembers(laurel, withBooks, CONCURRENCY, 'a');
    const b = await newMembers(laurel, without, CONCURRENCY, 'b');
    await purchases(laurel, withBooks, a, 1000, 'warm-a');
    await purchases(laurel, without, b, 1000, 'warm-b');
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const side of order) {
        if (side === 'on') on.push(await purchases(laurel, withBooks, a, SECONDS * 1000, `on${r}`));
        else off.push(await purchases(laurel, without, b, SECONDS * 1000, `off${r}`));
      }
    }
    const eventPath = { with_accounting_per_s: round(median(on)), without_per_s: round(median(off)), ratio: round(median(on) / median(off), 3), bar: 0.85, concurrency: CONCURRENCY };
    const summary = { members: MEMBERS, events: EVENTS, rollForward, eventPath };
    console.log(`monthly roll-forward (2026-06) over ${EVENTS} events / ${MEMBERS} members: ${rollForward.report_ms} ms vs raw SQL aggregate ${rollForward.raw_ms} ms → ${rollForward.ratio}× (bar ≤ 3×)`);
    console.log(`event path, ${CONCURRENCY} workers: ${eventPath.with_accounting_per_s}/s with accounting vs ${eventPath.without_per_s}/s without → ${eventPath.ratio} (bar ≥ 0.85)`);
    if (values.json) console.log(JSON.stringify(summary));
  } finally {
    await laurel.close();
  }
}

await main();
