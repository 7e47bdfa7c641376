// `npm run bench [-- --json] [-- --quick]`: earn through the service layer against a pgbench
// baseline at concurrency 1, 8 and 32, purchases against 20 rules next to them, and balance reads
// for a short and a long history, the settle job expiring 1,000,000 lots against a raw-SQL UPDATE
// (`--only expiry` runs just that), and the tier_reviews job reviewing 100,000 members against a
// raw-SQL UPDATE (`--only tiers`), purchases at c=32 with referrals on against off (`--only referrals`),
// purchases at concurrency 32 with 10 achievements against none (`--only achievements`), the same with
// referrals on too against neither (`--only engagement`, the issue's bar), and the
// analytics overview over 1,000,000 events of 100,000 members against raw-SQL aggregates of the
// same rows (`--only analytics`).
// Progress goes to stderr; the report to stdout, and with --json its last line is the summary.
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { earn, redeem } from '../src/services/ledger.js';
import { ACHIEVEMENTS_CONCURRENCY, achievementsBenchmark, type AchievementsSummary } from './achievements.js';
import { engagementBenchmark, type EngagementSummary } from './engagement.js';
import { buildHistories, runReads } from './balance-read.js';
import { ensureDatabase, redact, withParam } from './database.js';
import { EARN_AMOUNT, runEarn, type Connect } from './earn.js';
import { EXPIRY_MONTHS, expiryBenchmark, LOTS_PER_MEMBER, SETTLE_CHUNK } from './expiry.js';
import { newFixture, newMembers, type Fixture } from './fixtures.js';
import { HTTP_CONNECTIONS, httpBenchmark } from './http.js';
import type { LoadResult } from './load.js';
import { parseOptions, type BenchOptions } from './options.js';
import { Pgbench } from './pgbench.js';
import { BackendCpu, explain, QueryProfiler, withValues, type StatementKind } from './profile.js';
import {
  barsOf, barsTable, earnTable, expirySteps, expiryTable, firedTable, httpTable, readTable, rulesTable, summarize, summarizeExpiry, summarizeHttp, summarizeRules,
  summarizeTiers, summarizeVerify, table, tierSteps, tiersTable, type EarnLevel, type ExpirySummary, type ReadSide, type RulesLevel, type RulesSummary, type TiersSummary, type VerifySummary,
} from './report.js';
import {
  addEarned, BASKETS, celParses, checkRules, countCelParses, evaluateBenchmark, historyLatency, newRulesFixture, noEarnings, runRules,
  type Earned, type RulesFixture,
} from './rules.js';
import { referralsBenchmark, REFERRAL_CONCURRENCY, summarizeReferrals, type ReferralsSummary } from './referrals.js';
import { log, median, round } from './stats.js';
import { analyticsBenchmark, summarizeAnalytics, type AnalyticsSummary } from './analytics.js';
import { ACTIVITY_PER_MEMBER, REVIEW_CHUNK_MEMBERS, TIERS, tiersBenchmark } from './tiers.js';
import { verifyBenchmark } from './verify.js';

const APP_NAME = 'laurel-bench';
const READ_CONCURRENCY = 8;

const out: string[] = [];
const print = (s = ''): void => { out.push(s); };

interface EarnResults {
  levels: EarnLevel[];
  completed: number;
  /** the rule runs (none without a rules fixture) and the events they completed, warm-ups included */
  rules: RulesLevel[];
  rulesCompleted: number;
  earned: Earned;
}

/**
 * Per round and level: earn, the rule runs (when `rf`), pgbench; the next round the other way
 * round. The rule runs sit between the two sides they are divided by, so drifting noise hits
 * all three alike.
 */
async function earnBenchmark(connect: Connect, pgbench: Pgbench, fx: Fixture, o: BenchOptions, rf: RulesFixture | null): Promise<EarnResults> {
  const warmupMs = o.warmupSeconds * 1000;
  const durationMs = o.seconds * 1000;
  const levels: EarnLevel[] = o.levels.map((c) => ({ concurrency: c, earn: [], baseline: [] }));
  const rules: RulesLevel[] = rf ? o.levels.map((c) => ({ concurrency: c, runs: [] })) : [];
  const earned = noEarnings();
  let completed = 0;
  let rulesCompleted = 0;
  const top = Math.max(...o.levels);
  log(`warming up (earn${rf ? ', rules' : ''} and pgbench at concurrency ${top})`);
  completed += (await runEarn(connect, fx, top, 0, Math.max(1000, warmupMs * 2), 'warmup')).completed;
  if (rf) rulesCompleted += (await runRules(connect, rf, top, 0, Math.max(1000, warmupMs * 2), 'warmup')).completed;
  await pgbench.run(top, 1);
  // Planner statistics for the tables the warm-up filled, as a live database has them.
  await connect(1).then(async (l) => {
    await sql`analyze tenants, programs, wallets, members, balances, journal_entries, postings, lots, lot_movements, idempotency_keys,
      events, rules, rule_versions, campaigns, rule_awards`.execute(l.db);
    await l.close();
  });
  for (let round = 0; round < o.rounds; round++) {
    for (const [i, level] of levels.entries()) {
      const c = level.concurrency;
      // Alternate which side goes first, so drifting noise hits both alike.
      const sides = round % 2 === 0 ? ['earn', 'rules', 'pgbench'] : ['pgbench', 'rules', 'earn'];
      for (const side of sides) {
        if (side === 'rules') {
          if (!rf) continue;
          const r = await runRules(connect, rf, c, warmupMs, durationMs, `r${round}c${c}`);
          rulesCompleted += r.completed;
          addEarned(earned, r.earned);
          rules[i]!.runs.push(r);
          log(`round ${round + 1}/${o.rounds} c=${c}: rules ${r.perSecond.toFixed(1)} events/s (p50 ${r.p50Ms.toFixed(2)} ms, ${r.parses} CEL parses)`);
        } else if (side === 'earn') {
          const r = await runEarn(connect, fx, c, warmupMs, durationMs, `r${round}c${c}`);
          completed += r.completed;
          level.earn.push(r);
          log(`round ${round + 1}/${o.rounds} c=${c}: earn ${r.perSecond.toFixed(1)}/s (p50 ${r.p50Ms.toFixed(2)} ms)`);
        } else {
          const b = await pgbench.run(c, o.seconds);
          level.baseline.push(b);
          log(`round ${round + 1}/${o.rounds} c=${c}: pgbench ${b.tps.toFixed(1)} tps`);
        }
      }
    }
  }
  return { levels, completed, rules, rulesCompleted, earned };
}

/** Every acknowledged earn is in the journal once, and every balance is its member's earns. */
async function checkEarns(laurel: Laurel, fx: Fixture, completed: number): Promise<string> {
  const { rows } = await sql<{ entries: string; wrong: string; members: string }>`
    select (select count(*) from journal_entries where tenant_id = ${fx.tenantId}) as entries,
           (select count(*) from members where tenant_id = ${fx.tenantId}) as members,
           (select count(*) from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
             cross join lateral (select coalesce(sum(j.amount), 0) as total from journal_entries j
               where j.tenant_id = b.tenant_id and j.member_id = b.member_id and j.wallet_id = b.wallet_id) s
             where b.tenant_id = ${fx.tenantId} and w.code = 'points'
               and (b.available <> s.total or b.lifetime_earned <> s.total)) as wrong`
    .execute(laurel.db);
  const r = rows[0]!;
  if (Number(r.entries) !== completed || Number(r.wrong) !== 0) {
    throw new Error(`earn check failed: ${completed} earns acknowledged, ${r.entries} journal entries, ${r.wrong} balances off`);
  }
  return `${completed} earns acknowledged = ${r.entries} journal entries; all ${r.members} members' balances equal their journal`;
}

async function readBenchmark(laurel: Laurel, fx: Fixture, o: BenchOptions) {
  const h = await buildHistories(laurel, fx, o.smallHistory, o.largeHistory);
  const small: ReadSide = { entries: h.smallEntries, runs: [] };
  const large: ReadSide = { entries: h.largeEntries, runs: [] };
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? [[small, h.small], [large, h.large]] as const : [[large, h.large], [small, h.small]] as const;
    for (const [side, member] of order) {
      const r = await runReads(laurel, fx, member, READ_CONCURRENCY, o.warmupSeconds * 500, o.readSeconds * 1000);
      side.runs.push(r);
      log(`round ${round + 1}/${o.rounds}: getBalance (${side.entries} entries) ${r.perSecond.toFixed(0)}/s`);
    }
  }
  return { h, small, large };
}

/** Sequential earns (or redeems) on a member: median latency in ms. */
async function sequentialLatency(laurel: Laurel, fx: Fixture, memberId: string, n: number, label: string, op: typeof earn = earn): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(laurel, { tenantId: fx.tenantId, memberId, amount: EARN_AMOUNT, idempotencyKey: `bench-${fx.runId}-${label}-${i}` });
    times.push(performance.now() - t);
  }
  return median(times);
}

const KINDS: StatementKind[] = ['begin', 'idempotency lookup', 'lock+load wallet', 'write decision', 'commit', 'other'];

async function profileEarn(laurel: Laurel, connect: Connect, pgbench: Pgbench, fx: Fixture, readFx: Fixture, url: string, o: BenchOptions, largeMember: string, smallMember: string): Promise<void> {
  const seconds = Math.max(2, Math.min(o.seconds, 4));
  const profiler = new QueryProfiler();
  const levels = [...new Set([Math.min(...o.levels), Math.max(...o.levels)])];
  const rows: (string | number)[][] = [];
  const header = ['per earn (mean)', ...levels.map((c) => `c=${c}`)];
  const cols: Map<string, string>[] = [];
  const seen = new Set<string>();
  let lastMembers: string[] = [];
  for (const c of levels) {
    const col = new Map<string, string>();
    profiler.reset();
    profiler.install();
    const cpu = new BackendCpu(url, APP_NAME);
    await cpu.start();
    let r: LoadResult & { members: string[] };
    try {
      // Count only the earns' statements: not the pool's migration check, nor the making of members.
      r = await runEarn(connect, fx, c, o.warmupSeconds * 1000, seconds * 1000, `profile-c${c}`, () => profiler.reset());
    } finally {
      profiler.uninstall();
    }
    const server = await cpu.stop();
    r.members.forEach((m) => seen.add(m));
    lastMembers = r.members;
    const n = r.completed;
    let statements = 0;
    let inStatements = 0;
    for (const k of KINDS) {
      const t = profiler.tallies.get(k);
      if (!t) continue;
      statements += t.count;
      inStatements += t.totalMs;
      col.set(`${k} round trip ms`, `${(t.totalMs / t.count).toFixed(3)} ×${(t.count / n).toFixed(2)}`);
    }
    const poolMs = profiler.poolWait.count ? profiler.poolWait.totalMs / n : 0;
    col.set('statements (round trips) per earn', (statements / n).toFixed(2));
    col.set('pool connect wait ms', poolMs.toFixed(3));
    col.set('earn latency ms (mean)', r.meanMs.toFixed(3));
    col.set('  of which in statements ms', (inStatements / n).toFixed(3));
    const outside = r.meanMs - inStatements / n - poolMs;
    // Under load a round trip also holds the wait for the event loop to run its callback: then
    // the whole latency is in the round trips and this rest is noise around 0.
    col.set('  of which outside (Node JS between statements) ms', outside > 0 ? outside.toFixed(3) : `~0 (${outside.toFixed(3)})`);
    col.set('earn/s (instrumented)', r.perSecond.toFixed(1));
    col.set('node CPU ms per earn', r.nodeCpuMsPerOp.toFixed(3));
    col.set('server backend CPU ms per earn', (server.backendCpuSeconds * 1000 / n).toFixed(3));
    col.set('machine CPU busy (laurel run)', `${(server.machineBusy * 100).toFixed(0)}%`);
    const bcpu = new BackendCpu(url, 'pgbench');
    await bcpu.start();
    const b = await pgbench.run(c, seconds);
    const bs = await bcpu.stop();
    col.set('pgbench: tps', b.tps.toFixed(1));
    col.set('pgbench: latency ms (4 statements)', b.latencyMs.toFixed(3));
    col.set('pgbench: server backend CPU ms per txn', (bs.backendCpuSeconds * 1000 / Math.max(1, b.transactions)).toFixed(3));
    col.set('machine CPU busy (pgbench run)', `${(bs.machineBusy * 100).toFixed(0)}%`);
    cols.push(col);
    log(`profiled c=${c}`);
  }
  const keys = [...new Set(cols.flatMap((c) => [...c.keys()]))];
  for (const k of keys) rows.push([k, ...cols.map((c) => c.get(k) ?? '-')]);
  const lotsRow = await laurel.db.selectFrom('lots').select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', fx.tenantId).where('member_id', '=', lastMembers[0]!).executeTakeFirstOrThrow();
  const lotsAfter = Number(lotsRow.n);

  print('where an earn\'s time goes (instrumented runs; "round trip" is client-observed, ×N = statements per earn)');
  print(table(header, rows));
  print();

  // The server's side of the two big statements.
  const lock = profiler.samples.get('lock+load wallet');
  const write = profiler.samples.get('write decision');
  const plans: (string | number)[][] = [];
  if (lock) {
    // The sample is some profiled member's; point it at others (the history members live in the reads tenant).
    const [fresh] = await newMembers(laurel, fx, 1, 'explain');
    const to = (member: string, tenant: string) => new Map([...seen].map((m) => [m, member] as [string, string]).concat([[fx.tenantId, tenant]]));
    for (const [label, member, tenant] of [
      ['member with 0 lots', fresh!, fx.tenantId],
      [`member with ${lotsAfter} lots (after a profile run)`, lastMembers[0]!, fx.tenantId],
      [`member with ${o.smallHistory}+ lots`, smallMember, readFx.tenantId],
      [`member with ${o.largeHistory}+ lots`, largeMember, readFx.tenantId]] as const) {
      const p = await explain(url, withValues(lock, to(member, tenant)), true);
      plans.push([`lock+load wallet, ${label}`, p.planningMs.toFixed(3), p.executionMs?.toFixed(3) ?? '-']);
    }
  }
  if (write) {
    const p = await explain(url, write, false);
    plans.push(['write decision (one earn)', p.planningMs.toFixed(3), '(not executed)']);
  }
  print('server time of the two big statements (EXPLAIN ANALYZE on a warm connection, best of 3; Laurel prepares them, so it plans them once per connection, not per call)');
  print(table(['statement', 'planning ms', 'execution ms'], plans));
  print();
}

async function printRules(laurel: Laurel, rf: RulesFixture, rules: RulesLevel[], levels: EarnLevel[], s: RulesSummary,
  earned: Earned, check: string, o: BenchOptions): Promise<void> {
  const n = o.quick ? 5 : 20;
  const latency = await historyLatency(laurel, rf, n);
  print(`rules (ingestEvent: a purchase of ${s.lines} lines, a new externalId each, against ${s.rules} enabled purchase rules; each worker its own member;`);
  print('run per round between earn and pgbench); ratio to earn = median events/s ÷ median earn/s above; paired = ÷ the earn run of the same round');
  print(rulesTable(rules, levels, s));
  const e = s.per_event;
  print(`per event: ${e.rules_fired} rules fired, ${e.awards} gave more than 0, ${e.points} points and ${e.credit_minor} minor units of store credit (means over ${earned.events} events)`);
  print(firedTable(rf, earned));
  const c = s.cel;
  print(`CEL: ${c.conditions} distinct conditions; the parser ran ${c.parses_cold_load} times at the process's first load of the rules, ${c.parses_warm_load} when loaded again,`);
  print(`${c.parses_in_runs} times in the ${c.events_in_runs} events of the rule runs (warm-ups included), ${c.parses_in_evaluate} in the evaluate() loops;`
    + ` compileCondition returns the function each rule holds: ${c.same_function ? 'yes' : 'NO'} (total parses in this process: ${celParses()})`);
  const v = s.evaluate;
  print(`evaluate() in process, no database, these rules and baskets: ${v.evaluations_per_s}/s (${v.us_per_evaluation} µs; ${v.evaluations_per_cpu_s} per CPU second);`
    + ` the first call ${v.first_evaluation_us} µs (CEL type-checks each AST on its first run), later ${v.later_evaluation_us} µs;`);
  print(`an event's whole pure decision (basketOf, factsOf, evaluate twice as evaluateEarning does with a budgeted rule): ${v.decisions_per_s}/s`);
  print(`sequential event latency (median of ${n}): a fresh member ${latency.freshMs.toFixed(2)} ms, the member with the most purchases (${latency.purchases}) ${latency.longMs.toFixed(2)} ms`);
  print(`check: ${check}`);
  print();
}

/** The settle job over members × 10 due lots, then the baseline's UPDATEs over a copy of the rows; printed. */
async function expiryPart(url: string, runId: string, o: BenchOptions): Promise<ExpirySummary> {
  const e = await expiryBenchmark(url, runId, { members: o.expiryMembers, rounds: o.expiryRounds });
  const s = summarizeExpiry(e, SETTLE_CHUNK);
  print(`expiry (the settle job, runJobNow(laurel, 'settle'), chunks of ${SETTLE_CHUNK} wallets: ${e.members} members × ${LOTS_PER_MEMBER} lots = ${e.lots} lots,`);
  print(`rolling ${EXPIRY_MONTHS}-month expiry, the clock moved a day past the last lot's expiry; each round in database ${e.database}, created for it)`);
  print('vs the baseline in the same run and database: one transaction over a copy');
  print('of the same rows (same indexes): UPDATE balances FROM the per-member sum of the due lots, then UPDATE lots SET remaining = 0; ratio = Laurel s ÷ baseline s (target ≤ 3)');
  print(expiryTable(e));
  print(`ratio ${s.ratio.toFixed(2)} (paired median ${s.ratio_paired.toFixed(2)}): ${s.ratio <= 3 ? 'within' : 'NOT within'} 3× the baseline; `
    + `Laurel ${s.lots_per_s} lots/s, baseline ${s.baseline_lots_per_s} lots/s`);
  print(`where the job's time goes (statements' round trips, as this process sees them): ${expirySteps(s)}`);
  print(`memory: RSS ${s.rss_before_mb} MB before the job, peak ${s.rss_peak_mb} MB during it (+${s.rss_growth_mb} MB; heap +${s.heap_growth_mb} MB)`);
  print(`check: laurel verify of the tenant: ok (${s.verify_s} s); ${e.rounds.at(-1)!.check}`);
  print();
  return s;
}

/** The tier_reviews job over members on a four-tier ladder, then the baseline's UPDATE over a copy of them; printed. */
async function tiersPart(url: string, runId: string, o: BenchOptions): Promise<TiersSummary> {
  const e = await tiersBenchmark(url, runId, { members: o.tierMembers, rounds: o.tierRounds });
  const s = summarizeTiers(e, REVIEW_CHUNK_MEMBERS);
  print(`tiers (the tier_reviews job, runJobNow(laurel, 'tier_reviews') → reviewTiers, chunks of ${REVIEW_CHUNK_MEMBERS} members: ${e.members} members`);
  print(`on ${TIERS.map(([c, t]) => `${c} ${t}`).join(' / ')} qualifying points a calendar year (period-end review, no grace), ${ACTIVITY_PER_MEMBER} activity rows each`);
  print(`(${e.activityRows} in all), due 2027-01-01 00:00 Europe/Paris, run at 00:05; each round in database ${e.database}, created for it)`);
  print('vs the baseline in the same run and database: one UPDATE of a copy of the members (same indexes) joined to');
  print('the per-member 2026 sum of member_activity, new tier by a CASE over the thresholds; ratio = Laurel s ÷ baseline s (target ≤ 3)');
  print(tiersTable(e));
  print(`ratio ${s.ratio.toFixed(2)} (paired median ${s.ratio_paired.toFixed(2)}; per round ${s.ratios.map((x) => x.toFixed(2)).join(' ')}): `
    + `${s.ratio <= 3 ? 'within' : 'NOT within'} 3× the baseline; Laurel ${s.members_per_s} members/s, baseline ${s.baseline_members_per_s} members/s`);
  print(`where the job's time goes (statements' round trips, as this process sees them; node = the rest): ${tierSteps(s)}`);
  print(`memory: RSS ${s.rss_before_mb} MB before the job, peak ${s.rss_peak_mb} MB during it (+${s.rss_growth_mb} MB; heap +${s.heap_growth_mb} MB)`);
  print(`check: ${e.rounds.at(-1)!.check}`);
  print();
  return s;
}

/** Purchases at c=32 with referrals on against the same program with them off, in this run; printed. */
async function referralsPart(laurel: Laurel, connect: Connect, runId: string, o: BenchOptions): Promise<ReferralsSummary> {
  const b = await referralsBenchmark(laurel, connect, runId, o);
  const s = summarizeReferrals(b);
  print(`referrals (ingestEvent purchases at c=${REFERRAL_CONCURRENCY}, each worker its own member, 1 rule; "on": referrals on, every member a referee`);
  print('of one of 8 referrers, so each worker\'s first purchase qualifies a referral and pays both sides; "off": the same program without referrals;');
  print(`${o.rounds} round(s) of ${o.seconds} s, sides alternating; ratio = median on events/s ÷ median off events/s)`);
  print(table(['side', 'events/s', 'p99 ms'], [['on', String(s.on_events_per_s), String(s.on_p99_ms)], ['off', String(s.off_events_per_s), String(s.off_p99_ms)]]));
  print(`ratio ${s.ratio.toFixed(2)} (paired median ${s.ratio_paired.toFixed(2)})`);
  print(`check: ${b.check}`);
  print();
  return s;
}

/** Purchases with 10 achievements against the same program without, alternating; printed. */
async function achievementsPart(laurel: Laurel, connect: Connect, runId: string, o: BenchOptions): Promise<AchievementsSummary> {
  const s = await achievementsBenchmark(laurel, connect, runId, o);
  print(`achievements (purchases through ingestEvent at concurrency ${ACHIEVEMENTS_CONCURRENCY}, 3 lines each, a day apart per member, ${o.rounds} round(s) of ${o.seconds} s per side:`);
  print('a program with 10 active achievements — counters, spend, distinct categories, two streaks, a challenge with a segment, a stamp card');
  print('issuing a free product, a balance milestone, a hidden monthly repeatable — vs the same program without them, same run and database)');
  print(`with ${s.with_per_s} events/s, without ${s.without_per_s} events/s; ratio ${s.ratio.toFixed(2)} (per round ${s.ratios.map((x) => x.toFixed(2)).join(' ')}): `
    + `${s.ratio >= 0.8 ? 'meets' : 'does NOT meet'} the bar (≥ 0.8); ${s.unlocks} unlocks during the runs`);
  print(`check: ${s.check}`);
  print();
  return s;
}

/** Purchases with 10 achievements and referrals on against the same program with neither, alternating; printed. */
async function engagementPart(laurel: Laurel, connect: Connect, runId: string, o: BenchOptions): Promise<EngagementSummary> {
  const s = await engagementBenchmark(laurel, connect, runId, o);
  print(`engagement (purchases through ingestEvent at concurrency ${s.concurrency}, ${o.rounds} round(s) of ${o.seconds} s per side, sides alternating: a program with`);
  print('the 10 achievements of the achievements part AND referrals on — every worker a new referee each run, so its first purchase qualifies a');
  print('referral and pays both sides — vs the same program with neither, same run and database; ratio = median with ÷ median without)');
  print(table(['side', 'events/s', 'p99 ms'], [['with', String(s.with_per_s), String(s.with_p99_ms)], ['without', String(s.without_per_s), String(s.without_p99_ms)]]));
  print(`ratio ${s.ratio.toFixed(2)} (paired median ${s.ratio_paired.toFixed(2)}; per round ${s.ratios.map((x) => x.toFixed(2)).join(' ')}): `
    + `${s.ratio >= 0.8 ? 'meets' : 'does NOT meet'} the bar (≥ 0.8); ${s.unlocks} unlocks, ${s.referrals_qualified} referrals qualified during the runs`);
  print(`check: ${s.check}`);
  print();
  return s;
}

/** The analytics overview and ROI report over a year of purchases, then the raw aggregates of the same rows; printed. */
async function analyticsPart(url: string, runId: string, o: BenchOptions): Promise<AnalyticsSummary> {
  const e = await analyticsBenchmark(url, runId, { members: o.analyticsMembers, events: o.analyticsEvents, rounds: o.analyticsRounds });
  const s = summarizeAnalytics(e);
  print(`analytics (GET …/analytics/overview → services/analytics.ts overview: ${e.members} members, ${e.events} purchase events over 2026 with their`);
  print(`activity rows, ${e.journalRows} journal rows; 10% held out; written set-based in ${(e.buildMs / 1000).toFixed(1)} s in database ${e.database}, created for it)`);
  print('vs the baseline in the same run and database: count and sum of the period\'s events, the journal\'s sums by kind and the members count,');
  print('run concurrently on the same pool; ratio = overview ms ÷ baseline ms (target ≤ 3); the ROI report (per-customer spend by group) beside it');
  print(table(['round', 'first', 'overview ms', 'roi ms', 'baseline ms'], e.rounds.map((r, i) => [String(i + 1), r.first, r.overviewMs.toFixed(0), r.roiMs.toFixed(0), r.baselineMs.toFixed(0)])));
  print(`ratio ${s.ratio.toFixed(2)} (${s.ratio <= 3 ? 'within' : 'NOT within'} 3× the baseline); ROI report ${s.roi_ratio.toFixed(2)}× the baseline`);
  print(`check: ${e.check}`);
  print();
  return s;
}

/** verifyLedger over a tenant of N members and over one of 10 × N, each in a database of its own; printed. */
async function verifyPart(url: string, runId: string, o: BenchOptions): Promise<VerifySummary> {
  const v = await verifyBenchmark(url, runId, { members: o.verifyMembers, rounds: o.verifyRounds });
  const s = summarizeVerify(v);
  print(`verify (verifyLedger, what \`laurel verify --tenant\` runs, over ${s.small_members} and ${s.large_members} members with ${LOTS_PER_MEMBER} earns each`);
  print(`written set-based, in database ${v.database}, created for each size; median of ${o.verifyRounds} run(s); ratio = µs per member at the large size ÷ at the small one, target ≤ 1.5)`);
  print(table(['members', 'journal entries', 'verify ms', 'µs per member'], v.sizes.map((z) =>
    [String(z.members), String(z.journalEntries), z.medianMs.toFixed(0), z.perMemberUs.toFixed(1)])));
  print(`ratio ${s.ratio.toFixed(2)}: ${s.ratio <= 1.5 ? 'within' : 'NOT within'} 1.5`);
  print(`check: ${v.check}`);
  print();
  return s;
}

/**
 * bench/accounting.ts in a process of its own (it builds its own database and clock): the monthly
 * roll-forward against the raw SQL aggregate, and the accounting write on the event path; printed.
 */
async function accountingPart(o: BenchOptions): Promise<unknown> {
  const args = ['--import', 'tsx', 'bench/accounting.ts', '--json', ...(o.quick ? ['--quick'] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, args, { env: { ...process.env, DATABASE_URL: o.databaseUrl }, maxBuffer: 16 << 20 });
  const lines = stdout.trim().split('\n');
  print('accounting (bench/accounting.ts)');
  for (const line of lines.slice(0, -1)) print(line);
  print();
  return JSON.parse(lines.at(-1)!);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  // Before anything compiles a rule condition: the rules bench reports every parse.
  countCelParses();
  o.seconds = Math.max(1, Math.round(o.seconds)); // pgbench -T takes whole seconds: both sides run as long
  const runId = Date.now().toString(36);
  await ensureDatabase(o.databaseUrl, o.fresh);
  const laurelUrl = withParam(o.databaseUrl, 'application_name', APP_NAME);
  const connect: Connect = (poolSize) => openLaurel({ databaseUrl: laurelUrl, poolSize });
  // For setup, checks and the reads; each earn run opens its own pool and closes it after.
  const laurel = await connect(READ_CONCURRENCY + 1);
  const pgbench = o.only ? null : await Pgbench.create(o.databaseUrl);
  try {
    const { rows: [server] } = await sql<{ v: string }>`select current_setting('server_version') as v`.execute(laurel.db);
    const started = Date.now();
    if (o.only !== null || !pgbench) {
      print(`Laurel bench — ${redact(o.databaseUrl)} (PostgreSQL ${server!.v}), ${cpus().length} CPUs, node ${process.version}; --only ${o.only}`);
      print();
      const part = o.only === 'tiers' ? { tiers: await tiersPart(laurelUrl, runId, o) }
        : o.only === 'referrals' ? { referrals: await referralsPart(laurel, connect, runId, o) } : o.only === 'achievements' ? { achievements: await achievementsPart(laurel, connect, runId, o) }
        : o.only === 'engagement' ? { engagement: await engagementPart(laurel, connect, runId, o) }
        : o.only === 'accounting' ? { accounting: await accountingPart(o) }
        : o.only === 'analytics' ? { analytics: await analyticsPart(laurelUrl, runId, o) }
        : o.only === 'verify' ? { verify: await verifyPart(laurelUrl, runId, o) } : { expiry: await expiryPart(laurelUrl, runId, o) };
      print(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
      if (o.json) print(JSON.stringify(part));
      process.stdout.write(`${out.join('\n')}\n`);
      return;
    }
    const earnFx = await newFixture(laurel, runId, 'earn');
    const rulesFx = o.rules ? await newRulesFixture(laurel, runId) : null;
    // Before the rule runs, so that its first load of the rules is the process's first (cold) one.
    const evaluated = rulesFx ? await evaluateBenchmark(laurel, rulesFx, o.rounds, Math.min(o.seconds, 2) * 1000) : null;
    const { levels, completed, rules, rulesCompleted, earned } = await earnBenchmark(connect, pgbench, earnFx, o, rulesFx);
    const earnCheck = await checkEarns(laurel, earnFx, completed);
    log(earnCheck);
    const rulesCheck = rulesFx ? await checkRules(laurel, rulesFx, rulesCompleted) : '';
    if (rulesFx) log(rulesCheck);

    const readFx = await newFixture(laurel, runId, 'reads');
    const { h, small, large } = await readBenchmark(laurel, readFx, o);
    const summary = summarize(levels, small, large);

    print(`Laurel bench — ${redact(o.databaseUrl)} (PostgreSQL ${server!.v}), ${cpus().length} CPUs, node ${process.version}`);
    print(`${o.rounds} round(s) per level, ${o.seconds} s measured per run, earn after ${o.warmupSeconds} s warm-up; medians${o.quick ? ' (--quick)' : ''}`);
    print();
    print('earn (service layer: idempotency, wallet lock, one lot, journal + postings, balance, idempotency record)');
    print('vs pgbench baseline (one transaction: insert a journal row, update the balance row); ratio = median earn/s ÷ median baseline tps;');
    print('paired = earn/s ÷ tps of the pgbench run next to it, per round, and their median');
    print(earnTable(levels, summary));
    print(`check: ${earnCheck}`);
    print();
    if (rulesFx && evaluated) {
      summary.rules = summarizeRules(rulesFx, rules, levels, summary, evaluated, earned, BASKETS[0]!.lines.length);
      await printRules(laurel, rulesFx, rules, levels, summary.rules, earned, rulesCheck, o);
    }
    print(`balance reads (getBalance, concurrency ${READ_CONCURRENCY}, ${o.readSeconds} s per run)`);
    print(readTable(small, large, summary));
    print(`ratio large/small: ${summary.balance_read.ratio.toFixed(3)}  (${h.largeEntries}-entry history written in bulk in ${(h.bulkMs / 1000).toFixed(1)} s; laurel verify of the tenant: ok, ${(h.verifyMs / 1000).toFixed(1)} s)`);
    print();

    if (o.http) {
      const http = await httpBenchmark(connect, await newFixture(laurel, runId, 'http'), o, APP_NAME, rulesFx);
      summary.http = summarizeHttp(summary, http);
      print(`HTTP (the real app on 127.0.0.1: buildApp on PostgreSQL, logger off, rate limit out of reach; autocannon in a child process, ${HTTP_CONNECTIONS} connections,`);
      print(`${http.members} members; ${o.rounds} round(s) of ${o.seconds} s after ${o.warmupSeconds} s warm-up; medians). ratio to service = ÷ earn c=${HTTP_CONNECTIONS} above, or ÷ getBalances`);
      print(`c=${HTTP_CONNECTIONS} through the service layer on the same members (run next to the HTTP reads); ratio to pgbench = ÷ the pgbench c=${HTTP_CONNECTIONS} median above`);
      print(httpTable(http, summary.http, summary));
      if (summary.http.pglite) {
        print(`PGlite (npm start's engine, in memory, the same app and purchases, after the PostgreSQL runs): ${summary.http.pglite.requests_per_s} req/s, `
          + `${summary.http.pglite_ratio} × the purchase on PostgreSQL (pglite_http_purchase)`);
      }
      print(`RSS after the HTTP runs: ${http.rssMb} MB (the server runs in the bench process, so this counts the bench's own memory too)`);
      print(`check: ${http.check}`);
      print();
    }

    // An earn checks the member's lots for anything due, and a redeem reads the lots that pay
    // for it: neither may grow with the member's history.
    const n = o.quick ? 5 : 20;
    const latency = { earn: { small: 0, large: 0 }, redeem: { small: 0, large: 0 } };
    for (const [kind, op] of [['earn', earn], ['redeem', redeem]] as const) {
      latency[kind].small = await sequentialLatency(laurel, readFx, h.small, n, `lat-${kind}-small`, op);
      latency[kind].large = await sequentialLatency(laurel, readFx, h.large, n, `lat-${kind}-large`, op);
      print(`sequential ${kind} latency (median of ${n}): member with ${h.smallEntries} lots ${latency[kind].small.toFixed(2)} ms, `
        + `member with ${h.largeEntries} lots ${latency[kind].large.toFixed(2)} ms (ratio ${(latency[kind].large / latency[kind].small).toFixed(2)})`);
    }
    summary.history_latency = {
      earn_small_ms: round(latency.earn.small, 2), earn_large_ms: round(latency.earn.large, 2),
      redeem_small_ms: round(latency.redeem.small, 2), redeem_large_ms: round(latency.redeem.large, 2),
    };
    print();

    if (o.referrals) (summary as { referrals?: ReferralsSummary }).referrals = await referralsPart(laurel, connect, runId, o);
    if (o.achievements) (summary as { achievements?: AchievementsSummary }).achievements = await achievementsPart(laurel, connect, runId, o);
    if (o.engagement) (summary as { engagement?: EngagementSummary }).engagement = await engagementPart(laurel, connect, runId, o);
    if (o.profile) await profileEarn(laurel, connect, pgbench, earnFx, readFx, o.databaseUrl, o, h.large, h.small);
    // Last: its million rows would otherwise sit in the tables the other parts read.
    if (o.expiry) summary.expiry = await expiryPart(laurelUrl, runId, o);
    if (o.tiers) summary.tiers = await tiersPart(laurelUrl, runId, o);
    if (o.analytics) summary.analytics = await analyticsPart(laurelUrl, runId, o);
    if (o.verify) summary.verify = await verifyPart(laurelUrl, runId, o);
    if (o.accounting) (summary as { accounting?: unknown }).accounting = await accountingPart(o);
    summary.bars = barsOf(summary);
    print('bars (issue 11): same-run ratios at c=32 on PostgreSQL, or the figure itself');
    print(barsTable(summary.bars));
    print();
    print(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (o.json) print(JSON.stringify(summary));
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await pgbench?.close();
    await laurel.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
