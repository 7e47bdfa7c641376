// Tier reviews at scale: 100,000 members on a four-tier ladder (points over the calendar year,
// reviewed at its end, no grace), all due on 1 January 2027 00:00 in Paris, reviewed by the
// tier_reviews job (`runJobNow(laurel, 'tier_reviews')`, which calls reviewTiers) against a raw-SQL
// baseline: one UPDATE of an identical copy of the members, joined to their 2026 sums, in the same
// run. The fixture is written in bulk with set-based SQL; the Laurel opened here has a ManualClock
// set to 1 January 2027 00:05 in Paris, the hour's run of the job after the year's end.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { DateTime } from 'luxon';
import { ManualClock } from '../src/core/clock.js';
import { runJobNow } from '../src/jobs/runner.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { putLadder } from '../src/services/tiers.js';
import { databaseName } from './database.js';
import { newFixture, type Fixture } from './fixtures.js';
import { bulkMembers, resetDatabase, sampledMemory, siblingDatabaseUrl, timedStatements, type Memory, type StepTimes } from './scale.js';
import { log } from './stats.js';

export const TIER_ZONE = 'Europe/Paris';
/** the ladder's tiers, lowest first: code and threshold (qualifying points in the calendar year) */
export const TIERS = [['member', 0], ['silver', 1000], ['gold', 5000], ['vip', 20000]] as const;
/** Points over the calendar year, reviewed at its end, no grace, no upgrade bonus. */
export const TIER_LADDER = {
  metric: 'points', window: { kind: 'calendar_year' }, review: { kind: 'period_end' }, graceDays: 0,
  tiers: TIERS.map(([code, threshold]) => ({ code, name: code[0]!.toUpperCase() + code.slice(1), threshold })),
};
/** the chunk of reviewTiers (REVIEW_CHUNK in src/services/tiers.ts) */
export const REVIEW_CHUNK_MEMBERS = 5000;
/** activity rows per member: 5 in 2026 (in Paris), 1 on 1 January 2027 00:01 (after the window) */
export const ACTIVITY_PER_MEMBER = 6;
/** members written per bulk statement pair */
const MEMBERS_PER_STATEMENT = 10_000;
const SCRATCH = 'bench_tiers_baseline';

const paris = (iso: string): Date => DateTime.fromISO(iso, { zone: TIER_ZONE }).toJSDate();
/** the year the review judges, [start, end) in Paris */
const YEAR_START = paris('2026-01-01T00:00');
const REVIEW_AT = paris('2027-01-01T00:00');
/** the job's run: the hourly run after the year's end */
export const TIER_NOW = paris('2027-01-01T00:05');
/** where a calendar-year, period-end review puts everyone's next review */
const NEXT_REVIEW = paris('2028-01-01T00:00');
const ENROLLED = paris('2024-03-01T10:00');

/**
 * The fixture's mix, from each member's number g (1…n):
 * - tier: g % 10 → 0–3 member, 4–6 silver, 7–8 gold, 9 vip (40/30/20/10%);
 * - scenario: (g / 10) % 20 → 0–11 reaches exactly their tier (60%), 12–16 falls short of it
 *   (25%: down one level, whatever the metric; a member stays member), 17–19 reaches a higher one
 *   (15%; a vip stays vip).
 * Edges: every 5th block of 200 members sits on a threshold (the tier's exactly when kept, one
 * point short when falling short); the first 2026 row is at 00:30 on 1 January in Paris (still
 * 2025 in UTC), and a row on 1 January 2027 00:01, outside the window, would lift those one point
 * short if it were counted.
 */
const SCENARIO = {
  rank: (g: number) => [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][g % 10]!,
  kind: (g: number): 'kept' | 'down' | 'up' => {
    const s = Math.floor(g / 10) % 20;
    return s < 12 ? 'kept' : s < 17 ? 'down' : 'up';
  },
};

/** What the review should do to the fixture's members: kept, down and up counts. */
export function expectedMix(members: number): { kept: number; down: number; up: number } {
  const mix = { kept: 0, down: 0, up: 0 };
  const top = TIERS.length - 1;
  for (let g = 1; g <= members; g++) {
    const r = SCENARIO.rank(g);
    const k = SCENARIO.kind(g);
    mix[(k === 'down' && r === 0) || (k === 'up' && r === top) ? 'kept' : k] += 1;
  }
  return mix;
}

const codes = TIERS.map(([c]) => c);
const thresholds = TIERS.map(([, t]) => t);

/** The SQL of SCENARIO: the member's rank (0-based) and 2026 metric from g (an int column or expression). */
const rankSql = sql<number>`(array[0,0,0,0,1,1,1,2,2,3])[g % 10 + 1]`;
function metricSql() {
  const th = sql`(${sql.lit(`{${thresholds.join(',')},${2 * thresholds.at(-1)!}}`)}::bigint[])`;
  const spread = sql`((g::bigint * 7919) % 1000000)`;
  const edge = sql`((g / 200) % 5 = 0)`;
  const top = TIERS.length - 1;
  // r: the rank; th[r + 1] its threshold, th[r + 2] the next one (for vip, twice its threshold)
  return sql<bigint>`case
    when (g / 10) % 20 >= 17 and r < ${top} then ${th}[r + 2 + (g / 200) % (${top} - r)] + ${spread} % 500
    when (g / 10) % 20 between 12 and 16 and r > 0 then case when ${edge} then ${th}[r + 1] - 1 else ${spread} % ${th}[r + 1] end
    when ${edge} then ${th}[r + 1]
    else ${th}[r + 1] + ${spread} % (${th}[r + 2] - ${th}[r + 1]) end`;
}

export interface TiersRound {
  first: 'laurel' | 'baseline';
  /** members (with their balance rows) and their activity, written set-based, in ms */
  buildMs: number;
  copyMs: number;
  vacuumMs: number;
  laurel: {
    ms: number;
    members: number;
    up: number;
    down: number;
    kept: number;
    /** ms of each chunk (one transaction of up to REVIEW_CHUNK_MEMBERS members) */
    chunkMs: number[];
    steps: StepTimes<TierStep>;
  } & Memory;
  baseline: { ms: number; members: number };
  check: string;
}

export interface TiersResults {
  members: number;
  activityRows: number;
  rounds: TiersRound[];
  database: string;
}

/**
 * Members 1…count in statements of MEMBERS_PER_STATEMENT: the rows createMember writes (member,
 * a zero balance row per wallet) with their tier since a day of 2026 and their review due at the
 * end of 2026, then their member_activity rows (what each event writes in its transaction: its
 * qualifying points, spend and a visit).
 */
export async function bulkTierMembers(laurel: Laurel, fx: Fixture, label: string, count: number): Promise<void> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  const prefix = `bench-${fx.runId}-${label}-`;
  const codesArray = sql`(${sql.lit(`{${codes.join(',')}}`)}::text[])`;
  const at = [
    paris('2026-01-01T00:30'), paris('2026-03-15T12:00'), paris('2026-06-20T18:00'), paris('2026-09-30T09:00'), paris('2026-12-31T23:30'),
    paris('2027-01-01T00:01'),
  ].map((d) => d.toISOString());
  if (at.length !== ACTIVITY_PER_MEMBER) throw new Error('ACTIVITY_PER_MEMBER is not the number of activity instants');
  for (let from = 1; from <= count; from += MEMBERS_PER_STATEMENT) {
    const to = Math.min(count, from + MEMBERS_PER_STATEMENT - 1);
    const t0 = performance.now();
    await laurel.db.transaction().execute(async (trx) => {
      const ids = await bulkMembers(trx, fx, prefix, from, to, ENROLLED, {
        tier: sql<string>`${codesArray}[${rankSql} + 1]`,
        since: sql<Date>`${YEAR_START}::timestamptz + (g % 365) * interval '1 day'`,
        reviewAt: REVIEW_AT,
      });
      // Each member's 2026 metric in 5 rows (the first takes the remainder), then 100 points in 2027.
      await sql`
        with m as materialized (
          select member_id, substr(external_id, ${prefix.length + 1})::int as g from members
          where tenant_id = ${t}::uuid and member_id between ${ids.first}::uuid and ${ids.last}::uuid
        ), x as materialized (
          select member_id, ${metricSql()} as metric from m cross join lateral (select ${rankSql} as r) r
        )
        insert into member_activity (tenant_id, event_id, program_id, member_id, occurred_at, qualifying_points, spend, visits)
        select ${t}::uuid, laurel_uuid_v7(), ${p}::uuid, x.member_id, (${at}::timestamptz[])[k], a.points, a.points * 100, 1
        from x cross join generate_series(1, ${ACTIVITY_PER_MEMBER}::int) k
          cross join lateral (select case when k = 1 then x.metric - 4 * (x.metric / 5) when k <= 5 then x.metric / 5 else 100 end as points) a`
        .execute(trx);
    });
    log(`tiers fixture ${label}: ${to}/${count} members (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

/** The baseline's table: the shape and indexes of members, holding a copy of the tenant's members. */
async function copyForBaseline(laurel: Laurel, fx: Fixture): Promise<void> {
  await sql.raw(`drop schema if exists ${SCRATCH} cascade; create schema ${SCRATCH};
    create table ${SCRATCH}.members (like public.members including all)`).execute(laurel.db);
  await sql`insert into ${sql.table(`${SCRATCH}.members`)} select * from members where tenant_id = ${fx.tenantId}`.execute(laurel.db);
}

/**
 * The minimal equivalent of the review, one statement: each due member joined to their 2026 sum
 * and the rank it reaches; the new tier is that rank when it is at least the member's, else one
 * level below the member's (greatest(reached, current − 1), 1-based); since moves to the review
 * date when the tier changes; the next review is the end of 2027. No chunks, locks beyond the
 * UPDATE's, history or decisions in Node. (Every member of the fixture has 2026 activity, so the
 * inner join reaches them all; the check below would catch one it missed.)
 */
async function runBaseline(laurel: Laurel, fx: Fixture): Promise<TiersRound['baseline']> {
  const members = sql.table(`${SCRATCH}.members`);
  const codesArray = sql`(${sql.lit(`{${codes.join(',')}}`)}::text[])`;
  const reached = sql.join(TIERS.slice(1).reverse().map(([, th], i) => sql`when sum(qualifying_points) >= ${sql.lit(th)} then ${sql.lit(TIERS.length - i)}`), sql` `);
  const t0 = performance.now();
  const r = await sql`
    update ${members} m set
      tier = ${codesArray}[greatest(a.reached, array_position(${codesArray}, m.tier) - 1)],
      tier_since = case when a.reached = array_position(${codesArray}, m.tier) then m.tier_since else m.tier_review_at end,
      tier_review_at = ${NEXT_REVIEW}::timestamptz, updated_at = ${TIER_NOW}::timestamptz
    from (select member_id, case ${reached} else 1 end as reached from member_activity
          where tenant_id = ${fx.tenantId}::uuid and occurred_at >= ${YEAR_START}::timestamptz and occurred_at < ${REVIEW_AT}::timestamptz
          group by member_id) a
    where m.tenant_id = ${fx.tenantId}::uuid and m.member_id = a.member_id and m.program_id = ${fx.program.programId}::uuid
      and m.tier_review_at <= ${TIER_NOW}::timestamptz`.execute(laurel.db);
  return { ms: performance.now() - t0, members: Number(r.numAffectedRows ?? 0n) };
}

/** The review job's statements (src/db/tiers.ts, src/services/tiers.ts), told apart by their text. */
export const TIER_STEPS = ['due members', 'lock chunk', 'metrics', 'write tiers', 'history', 'outbox', 'begin/commit', 'other'] as const;
export type TierStep = typeof TIER_STEPS[number];

function tierStep(text: string): TierStep {
  const t = text.trim().toLowerCase();
  if (t === 'begin' || t === 'commit' || t === 'rollback') return 'begin/commit';
  if (t.includes('skip locked')) return 'lock chunk';
  if (t.includes('from member_activity')) return 'metrics';
  if (t.startsWith('update members m set tier')) return 'write tiers';
  if (t.startsWith('insert into tier_history')) return 'history';
  if (t.startsWith('insert into outbox')) return 'outbox';
  if (t.includes('order by tier_review_at')) return 'due members';
  return 'other';
}

/** The tier_reviews job, as the runner runs it, timed by statement, with this process's memory sampled. */
async function runLaurel(laurel: Laurel): Promise<TiersRound['laurel']> {
  const chunkMs: number[] = [];
  const t0 = performance.now();
  let last = t0;
  const { result: { result: outcome, steps }, memory } = await sampledMemory(() => timedStatements(TIER_STEPS, tierStep,
    () => runJobNow(laurel, 'tier_reviews', (p) => {
      const now = performance.now();
      chunkMs.push(now - last);
      if (chunkMs.length % 5 === 0) log(`tier_reviews: ${p.done} ${p.unit} (chunk ${chunkMs.length}: ${(now - last).toFixed(0)} ms)`);
      last = now;
    })));
  const ms = performance.now() - t0;
  if (outcome.status !== 'succeeded') throw new Error(`the tier_reviews job failed: ${outcome.error}`);
  const s = outcome.stats;
  const members = s.members ?? 0;
  const up = s.up ?? 0;
  const down = s.down ?? 0;
  return { ms, members, up, down, kept: members - up - down, chunkMs, steps, ...memory };
}

/**
 * Every member's tier, since, grace and next review after the job equal the baseline's (one
 * statement over both tables), nobody is still due, the job's counts are the fixture's mix, and
 * it wrote one history row per change. Throws otherwise.
 */
async function checkSides(laurel: Laurel, fx: Fixture, members: number, lr: TiersRound['laurel'], br: TiersRound['baseline']): Promise<string> {
  const { rows: [c] } = await sql<{ members: string; missing: string; differ: string; due: string; by_tier: string }>`
    select count(*) as members, count(*) filter (where b.member_id is null) as missing,
      count(*) filter (where (l.tier, l.tier_since, l.tier_grace_until, l.tier_review_at)
                       is distinct from (b.tier, b.tier_since, b.tier_grace_until, b.tier_review_at)) as differ,
      count(*) filter (where l.tier_review_at <= ${TIER_NOW}::timestamptz) as due,
      (select string_agg(tier || ' ' || n, ', ' order by array_position(${sql.lit(`{${codes.join(',')}}`)}::text[], tier))
         from (select tier, count(*) as n from members where tenant_id = ${fx.tenantId}::uuid group by tier) x) as by_tier
    from members l left join ${sql.table(`${SCRATCH}.members`)} b on b.tenant_id = l.tenant_id and b.member_id = l.member_id
    where l.tenant_id = ${fx.tenantId}::uuid`.execute(laurel.db);
  const { rows: [h] } = await sql<{ up: string; down: string; other: string }>`
    select count(*) filter (where change = 'up') as up, count(*) filter (where change = 'down') as down,
      count(*) filter (where change not in ('up', 'down')) as other
    from tier_history where tenant_id = ${fx.tenantId}::uuid`.execute(laurel.db);
  const mix = expectedMix(members);
  const problems = [
    Number(c!.members) !== members && `${c!.members} members in the tenant, expected ${members}`,
    Number(c!.missing) > 0 && `${c!.missing} members missing from the baseline's copy`,
    Number(c!.differ) > 0 && `${c!.differ} members whose tier, since, grace or next review differ between the job and the baseline`,
    Number(c!.due) > 0 && `${c!.due} members still due after the job`,
    br.members !== members && `the baseline updated ${br.members} members, expected ${members}`,
    (lr.members !== members || lr.up !== mix.up || lr.down !== mix.down)
      && `the job reviewed ${lr.members} members (${lr.up} up, ${lr.down} down), expected ${members} (${mix.up} up, ${mix.down} down)`,
    (Number(h!.up) !== lr.up || Number(h!.down) !== lr.down || Number(h!.other) !== 0)
      && `tier history: ${h!.up} up, ${h!.down} down, ${h!.other} other rows; the job counted ${lr.up} up and ${lr.down} down`,
  ].filter((x): x is string => typeof x === 'string');
  if (problems.length > 0) throw new Error(`tiers check failed: ${problems.join('; ')}`);
  return `job = baseline for all ${members} members (tier, since, grace, next review); ${lr.kept} kept, ${lr.down} down, ${lr.up} up `
    + `as the fixture says; one history row per change; now ${c!.by_tier}`;
}

async function vacuum(laurel: Laurel): Promise<void> {
  // Neither side should meet the fixture's dirty pages, unset hint bits or an autovacuum of its rows.
  await sql.raw(`vacuum (analyze) members, balances, member_activity, tier_history, ${SCRATCH}.members`).execute(laurel.db);
  await sql`checkpoint`.execute(laurel.db);
}

export interface TiersOptions {
  members: number;
  rounds: number;
}

/** The database the tier rounds run in: the bench database's name + `_tiers`, on the same server. */
export const tiersDatabaseUrl = (url: string): string => siblingDatabaseUrl(url, 'tiers');

export async function tiersBenchmark(benchUrl: string, runId: string, o: TiersOptions): Promise<TiersResults> {
  // Each round in a database of its own, created for it, as the expiry part does: a run consumes
  // its fixture, and the job's time should not depend on what earlier rounds left.
  const url = tiersDatabaseUrl(benchUrl);
  const clock = new ManualClock(TIER_NOW);
  const rounds: TiersRound[] = [];
  for (let round = 0; round < o.rounds; round++) {
    log(`tiers round ${round + 1}/${o.rounds}: (re)creating database ${databaseName(url)}`);
    await resetDatabase(url, true);
    // The tenant, program and ladder are made at the end of 2025, before the members' history.
    clock.set(ENROLLED);
    const laurel = await openLaurel({ databaseUrl: url, poolSize: 2 }, clock);
    try {
      const fx = await newFixture(laurel, runId, `tiers-${round}`);
      await putLadder(laurel, fx.tenantId, fx.program.programId, TIER_LADDER, { actor: 'bench' });
      log(`tiers round ${round + 1}/${o.rounds}: writing ${o.members} members × ${ACTIVITY_PER_MEMBER} activity rows`);
      let t = performance.now();
      await bulkTierMembers(laurel, fx, `tiers-${round}`, o.members);
      const buildMs = performance.now() - t;
      t = performance.now();
      await copyForBaseline(laurel, fx);
      const copyMs = performance.now() - t;
      t = performance.now();
      await vacuum(laurel);
      const vacuumMs = performance.now() - t;
      log(`tiers fixture: written in ${(buildMs / 1000).toFixed(1)} s, copied in ${(copyMs / 1000).toFixed(1)} s, vacuumed in ${(vacuumMs / 1000).toFixed(1)} s`);

      clock.set(TIER_NOW);
      const first = round % 2 === 0 ? 'laurel' : 'baseline';
      let lr: TiersRound['laurel'] | null = null;
      let br: TiersRound['baseline'] | null = null;
      for (const side of first === 'laurel' ? ['laurel', 'baseline'] : ['baseline', 'laurel']) {
        if (side === 'laurel') {
          lr = await runLaurel(laurel);
          log(`tiers round ${round + 1}: Laurel reviewed ${lr.members} members (${lr.up} up, ${lr.down} down) in ${(lr.ms / 1000).toFixed(2)} s `
            + `(RSS ${lr.rssBeforeMb.toFixed(0)} → peak ${lr.rssPeakMb.toFixed(0)} MB)`);
        } else {
          br = await runBaseline(laurel, fx);
          log(`tiers round ${round + 1}: baseline updated ${br.members} members in ${(br.ms / 1000).toFixed(2)} s`);
        }
        await sql`checkpoint`.execute(laurel.db);
      }
      const check = await checkSides(laurel, fx, o.members, lr!, br!);
      log(`tiers: ${check}`);
      rounds.push({ first, buildMs, copyMs, vacuumMs, laurel: lr!, baseline: br!, check });
    } finally {
      await laurel.close();
    }
  }
  // (A failed round leaves it, for a look; the next run recreates it.)
  await resetDatabase(url, false);
  return { members: o.members, activityRows: o.members * ACTIVITY_PER_MEMBER, rounds, database: databaseName(url) };
}
