// Expiry at scale: 100,000 members with 10 due lots each (1,000,000 lots) in a program with
// rolling expiry, expired by the settle job (`runJobNow(laurel, 'settle')`), against a raw-SQL
// baseline that does the minimal equivalent UPDATEs over an identical copy of the rows, in the
// same run. The fixture is written in bulk with set-based SQL (the rows `earn` writes); the
// Laurel opened here has a ManualClock, moved past the lots' expiry before the job runs.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { ManualClock, DAY_MS } from '../src/core/clock.js';
import { lotExpiresAt, type ProgramInput } from '../src/core/program.js';
import { formatReport, verifyLedger } from '../src/db/verify.js';
import { runJobNow } from '../src/jobs/runner.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { databaseName } from './database.js';
import { EARN_AMOUNT } from './earn.js';
import { benchProgram, newFixture, type Fixture } from './fixtures.js';
import { bulkMembers, resetDatabase, sampledMemory, siblingDatabaseUrl, timedStatements, type Memory, type StepTimes } from './scale.js';
import { log } from './stats.js';

export const EXPIRY_MONTHS = 12;
export const LOTS_PER_MEMBER = 10;
/** the settle job's chunk (src/jobs/registry.ts) */
export const SETTLE_CHUNK = 5000;
/** members written per bulk statement (× LOTS_PER_MEMBER earns) */
const MEMBERS_PER_STATEMENT = 10_000;
const SCRATCH = 'bench_expiry_baseline';

/** The bench program, with rolling expiry: each lot expires 12 calendar months after it was earned. */
export const expiryProgram: ProgramInput = { ...benchProgram, name: 'Bench expiry', expiry: { kind: 'rolling', months: EXPIRY_MONTHS } };

export interface ExpiryRound {
  /** which side ran first in this round */
  first: 'laurel' | 'baseline';
  /** members, balance rows and the earns' rows written (set-based), in ms */
  buildMs: number;
  /** the copy of the tenant's lots and balances into the baseline's tables */
  copyMs: number;
  /** VACUUM ANALYZE of the tables both sides touch, then CHECKPOINT */
  vacuumMs: number;
  laurel: {
    ms: number;
    lots: number;
    wallets: number;
    points: number;
    /** ms of each chunk (one transaction of up to SETTLE_CHUNK wallets) */
    chunkMs: number[];
    /** the job's statements by step: how many, and their round trips' total ms */
    steps: StepTimes<SettleStep>;
  } & Memory;
  baseline: { ms: number; lots: number; balances: number };
  verifyMs: number;
  check: string;
}

export interface ExpiryResults {
  members: number;
  lotsPerMember: number;
  lots: number;
  rounds: ExpiryRound[];
  /** the database the rounds ran in (each round recreated it) */
  database: string;
}

function walletOf(fx: Fixture, code: string): string {
  const w = fx.program.wallets.find((x) => x.code === code);
  if (!w) throw new Error(`the expiry program has no ${code} wallet`);
  return w.walletId;
}

/**
 * Enrols `count` members and writes `perMember` earns for each, in statements of
 * MEMBERS_PER_STATEMENT members: per member the rows createMember writes (the member, a zero
 * balance row per wallet), then per earn exactly the rows `earn` writes (see writeDecision and
 * bulkEarnHistory in balance-read.ts): one journal entry, two postings (issuance −a, member
 * available +a), one lot (expiring under the program's policy) and its movement; then each
 * member's balance row moves by its total. Every member earns at the same `earnedAt` instants.
 */
export async function bulkMembersWithLots(laurel: Laurel, fx: Fixture, label: string, count: number, earnedAt: Date[], expiresAt: Date[]): Promise<void> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  const points = walletOf(fx, 'points');
  const a = EARN_AMOUNT;
  const perMember = earnedAt.length;
  const total = a * BigInt(perMember);
  const enrolled = new Date(earnedAt[0]!.getTime() - DAY_MS);
  const last = earnedAt[perMember - 1]!;
  const at = earnedAt.map((d) => d.toISOString());
  const exp = expiresAt.map((d) => d.toISOString());
  const prefix = `bench-${fx.runId}-${label}-`;
  for (let from = 1; from <= count; from += MEMBERS_PER_STATEMENT) {
    const to = Math.min(count, from + MEMBERS_PER_STATEMENT - 1);
    const t0 = performance.now();
    await laurel.db.transaction().execute(async (trx) => {
      // The members and their balance rows; the batch is the tenant's members between its first and last id.
      const ids = await bulkMembers(trx, fx, prefix, from, to, enrolled);
      await sql`
        with m as materialized (
          select member_id from members where tenant_id = ${t}::uuid and member_id between ${ids.first}::uuid and ${ids.last}::uuid
        ), src as materialized (
          select m.member_id, k, laurel_uuid_v7() as entry_id, laurel_uuid_v7() as lot_id, laurel_uuid_v7() as movement_id,
                 (${at}::timestamptz[])[k] as at, (${exp}::timestamptz[])[k] as expires_at
          from m cross join generate_series(1, ${perMember}::int) k
        ), e as (
          insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount, counterparty_id,
            hold_id, lot_id, reverses_entry_id, idempotency_key, ref, actor, reason, created_at)
          select ${t}::uuid, entry_id, ${p}::uuid, ${points}::uuid, member_id, 'earn', ${a}::bigint, null,
            null, lot_id, null, ${prefix}::text || member_id || '-' || k, 'order-expiry-' || k, 'api', null, at
          from src
        ), p as (
          insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
          select ${t}::uuid, entry_id, 1, ${points}::uuid, null, 'issuance', -${a}::bigint from src
          union all
          select ${t}::uuid, entry_id, 2, ${points}::uuid, member_id, 'available', ${a}::bigint from src
        ), l as (
          insert into lots (tenant_id, lot_id, program_id, wallet_id, member_id, entry_id, amount, remaining, pending,
            earned_at, available_at, expires_at)
          select ${t}::uuid, lot_id, ${p}::uuid, ${points}::uuid, member_id, entry_id, ${a}::bigint, ${a}::bigint, false,
            at, at, expires_at
          from src
        ), mv as (
          insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
          select ${t}::uuid, movement_id, entry_id, entry_id, lot_id, ${a}::bigint, at from src
        )
        update balances b set available = b.available + ${total}::bigint, lifetime_earned = b.lifetime_earned + ${total}::bigint,
          last_activity_at = ${last}::timestamptz
        where b.tenant_id = ${t}::uuid and b.member_id between ${ids.first}::uuid and ${ids.last}::uuid and b.wallet_id = ${points}::uuid`.execute(trx);
    });
    log(`expiry fixture ${label}: ${to}/${count} members, ${to * perMember} lots (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

/** The baseline's tables: the shape and indexes of lots and balances, holding a copy of the tenant's rows. */
async function copyForBaseline(laurel: Laurel, fx: Fixture): Promise<void> {
  await sql.raw(`drop schema if exists ${SCRATCH} cascade; create schema ${SCRATCH};
    create table ${SCRATCH}.lots (like public.lots including all);
    create table ${SCRATCH}.balances (like public.balances including all)`).execute(laurel.db);
  await sql`insert into ${sql.table(`${SCRATCH}.lots`)} select * from lots where tenant_id = ${fx.tenantId}`.execute(laurel.db);
  await sql`insert into ${sql.table(`${SCRATCH}.balances`)} select * from balances where tenant_id = ${fx.tenantId}`.execute(laurel.db);
}

/**
 * The minimal equivalent of the expiry, in one transaction: each member's balance moves by the
 * sum of their due lots (available down, expired up), then the due lots go to 0. No journal,
 * postings or lot movements, no chunks, no locking beyond what the UPDATEs take.
 */
async function runBaseline(laurel: Laurel, programId: string, now: Date): Promise<ExpiryRound['baseline']> {
  const lots = sql.table(`${SCRATCH}.lots`);
  const balances = sql.table(`${SCRATCH}.balances`);
  const t0 = performance.now();
  const r = await laurel.db.transaction().execute(async (trx) => {
    const b = await sql`
      update ${balances} b set available = b.available - s.amount, expired = b.expired + s.amount
      from (select tenant_id, member_id, wallet_id, sum(remaining) as amount from ${lots}
            where program_id = ${programId}::uuid and remaining > 0 and not pending and expires_at <= ${now}::timestamptz
            group by tenant_id, member_id, wallet_id) s
      where b.tenant_id = s.tenant_id and b.member_id = s.member_id and b.wallet_id = s.wallet_id`.execute(trx);
    const l = await sql`
      update ${lots} set remaining = 0
      where program_id = ${programId}::uuid and remaining > 0 and not pending and expires_at <= ${now}::timestamptz`.execute(trx);
    return { balances: Number(b.numAffectedRows ?? 0n), lots: Number(l.numAffectedRows ?? 0n) };
  });
  return { ms: performance.now() - t0, ...r };
}

/** The settle job's statements (src/db/settlement.ts), told apart by their text. */
export const SETTLE_STEPS = ['due set', 'lock chunk', 'recheck chunk', 'release holds', 'mature', 'expire', 'repay debts', 'begin/commit', 'other'] as const;
export type SettleStep = typeof SETTLE_STEPS[number];

function settleStep(text: string): SettleStep {
  const head = text.trimStart().slice(0, 30).toLowerCase();
  if (head === 'begin' || head === 'commit' || head === 'rollback') return 'begin/commit';
  if (!head.startsWith('with taken') && /\bsettle_due\b/.test(text)) return 'due set';
  if (head.startsWith('with taken as')) return 'lock chunk';
  if (head.startsWith('delete from settle_wallets')) return 'recheck chunk';
  if (text.includes('system:hold-expiry')) return 'release holds';
  if (text.includes('system:maturation')) return 'mature';
  if (text.includes('system:expiry')) return 'expire';
  if (head.startsWith('with debt as')) return 'repay debts';
  return 'other';
}

/** The settle job, as the runner runs it, with this process's RSS sampled every 100 ms. */
async function runLaurel(laurel: Laurel): Promise<ExpiryRound['laurel']> {
  const chunkMs: number[] = [];
  const t0 = performance.now();
  let last = t0;
  const { result: { result: outcome, steps }, memory } = await sampledMemory(() => timedStatements(SETTLE_STEPS, settleStep,
    () => runJobNow(laurel, 'settle', (p) => {
      const now = performance.now();
      chunkMs.push(now - last);
      log(`settle: ${p.done} ${p.unit} (chunk ${chunkMs.length}: ${(now - last).toFixed(0)} ms)`);
      last = now;
    })));
  const ms = performance.now() - t0;
  if (outcome.status !== 'succeeded') throw new Error(`the settle job failed: ${outcome.error}`);
  return {
    ms, lots: outcome.stats.lotsExpired ?? 0, wallets: outcome.stats.wallets ?? 0, points: outcome.stats.pointsExpired ?? 0, chunkMs, steps, ...memory,
  };
}

/** Every lot of the fixture is at 0 and every member's points balance has expired exactly its lots, on both sides. */
async function checkSides(laurel: Laurel, fx: Fixture, members: number, perMember: number): Promise<string> {
  const points = walletOf(fx, 'points');
  const worth = EARN_AMOUNT * BigInt(perMember);
  const check = async (lots: string, balances: string) => {
    const { rows: [r] } = await sql<{ lots: string; live: string; balances: string; wrong: string }>`
      select (select count(*) from ${sql.table(lots)} where tenant_id = ${fx.tenantId}) as lots,
             (select count(*) from ${sql.table(lots)} where tenant_id = ${fx.tenantId} and remaining <> 0) as live,
             (select count(*) from ${sql.table(balances)} where tenant_id = ${fx.tenantId} and wallet_id = ${points}) as balances,
             (select count(*) from ${sql.table(balances)} where tenant_id = ${fx.tenantId} and wallet_id = ${points}
               and (expired <> ${worth}::bigint or available <> 0 or lifetime_earned <> ${worth}::bigint)) as wrong`.execute(laurel.db);
    return { lots: Number(r!.lots), live: Number(r!.live), balances: Number(r!.balances), wrong: Number(r!.wrong) };
  };
  const l = await check('lots', 'balances');
  const b = await check(`${SCRATCH}.lots`, `${SCRATCH}.balances`);
  const { rows: [e] } = await sql<{ n: string }>`select count(*) as n from journal_entries
    where tenant_id = ${fx.tenantId} and kind = 'expire'`.execute(laurel.db);
  const lots = members * perMember;
  for (const [side, c] of [['laurel', l], ['baseline', b]] as const) {
    if (c.lots !== lots || c.live !== 0 || c.balances !== members || c.wrong !== 0) {
      throw new Error(`expiry check failed (${side}): ${c.lots} lots (expected ${lots}), ${c.live} not at 0; ${c.balances} points balances `
        + `(expected ${members}), ${c.wrong} without exactly ${worth} expired and 0 available`);
    }
  }
  if (Number(e!.n) !== members) throw new Error(`expiry check failed: ${e!.n} expire entries, expected one per member (${members})`);
  return `both sides: all ${lots} lots at 0, all ${members} points balances expired ${worth} with 0 available; ${e!.n} expire entries (one per wallet)`;
}

/** verifyLedger on the tenant, as `laurel verify --tenant` runs it; throws unless ok. */
async function verifyTenant(laurel: Laurel, fx: Fixture, now: Date): Promise<number> {
  const t = performance.now();
  const report = await verifyLedger(laurel.db, now, fx.tenantId);
  if (!report.ok) throw new Error(`the ledger of the expiry tenant is inconsistent after the settle job:\n${formatReport(report)}`);
  return performance.now() - t;
}

async function vacuum(laurel: Laurel): Promise<void> {
  // Neither side should meet the fixture's dirty pages, unset hint bits or an autovacuum of its rows.
  await sql.raw(`vacuum (analyze) members, balances, journal_entries, postings, lots, lot_movements, lot_expiries, ${SCRATCH}.lots, ${SCRATCH}.balances`)
    .execute(laurel.db);
  await sql`checkpoint`.execute(laurel.db);
}

export interface ExpiryOptions {
  members: number;
  rounds: number;
}

/** The database the expiry rounds run in: the bench database's name + `_expiry`, on the same server. */
export const expiryDatabaseUrl = (url: string): string => siblingDatabaseUrl(url, 'expiry');

export async function expiryBenchmark(benchUrl: string, runId: string, o: ExpiryOptions): Promise<ExpiryResults> {
  // Each round in a database of its own, created for it: the settle job reads every due lot and
  // every balance row of the database for each chunk (see README), so its time depends on all
  // the database holds; and 1,000,000 settled lots take about 2 GB, which the append-only ledger
  // tables would otherwise keep in the bench database run after run.
  const url = expiryDatabaseUrl(benchUrl);
  // The history ends a day before the clock's start, one earn a day; the clock is then moved a
  // day past the last lot's expiry.
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  const clock = new ManualClock(start);
  const earnedAt = Array.from({ length: LOTS_PER_MEMBER }, (_, k) => new Date(start.getTime() - (LOTS_PER_MEMBER - k) * DAY_MS));
  // As earn computes it, in the tenant's zone (newFixture makes Europe/Paris tenants).
  const expiresAt = earnedAt.map((d) => lotExpiresAt(expiryProgram.expiry, d, 'Europe/Paris')!);
  const target = new Date(Math.max(...expiresAt.map((d) => d.getTime())) + DAY_MS);
  const lots = o.members * LOTS_PER_MEMBER;
  const rounds: ExpiryRound[] = [];
  for (let round = 0; round < o.rounds; round++) {
    log(`expiry round ${round + 1}/${o.rounds}: (re)creating database ${databaseName(url)}`);
    await resetDatabase(url, true);
    clock.set(start);
    const laurel = await openLaurel({ databaseUrl: url, poolSize: 2 }, clock);
    try {
      const fx = await newFixture(laurel, runId, `expiry-${round}`, expiryProgram);
      log(`expiry round ${round + 1}/${o.rounds}: writing ${o.members} members × ${LOTS_PER_MEMBER} lots`);
      let t = performance.now();
      await bulkMembersWithLots(laurel, fx, `expiry-${round}`, o.members, earnedAt, expiresAt);
      const buildMs = performance.now() - t;
      t = performance.now();
      await copyForBaseline(laurel, fx);
      const copyMs = performance.now() - t;
      t = performance.now();
      await vacuum(laurel);
      const vacuumMs = performance.now() - t;
      log(`expiry fixture: written in ${(buildMs / 1000).toFixed(1)} s, copied in ${(copyMs / 1000).toFixed(1)} s, vacuumed in ${(vacuumMs / 1000).toFixed(1)} s`);

      clock.set(target);
      const first = round % 2 === 0 ? 'laurel' : 'baseline';
      let lr: ExpiryRound['laurel'] | null = null;
      let br: ExpiryRound['baseline'] | null = null;
      for (const side of first === 'laurel' ? ['laurel', 'baseline'] : ['baseline', 'laurel']) {
        if (side === 'laurel') {
          lr = await runLaurel(laurel);
          log(`expiry round ${round + 1}: Laurel expired ${lr.lots} lots of ${lr.wallets} wallets in ${(lr.ms / 1000).toFixed(2)} s `
            + `(RSS ${lr.rssBeforeMb.toFixed(0)} → peak ${lr.rssPeakMb.toFixed(0)} MB)`);
        } else {
          br = await runBaseline(laurel, fx.program.programId, target);
          log(`expiry round ${round + 1}: baseline expired ${br.lots} lots, ${br.balances} balances in ${(br.ms / 1000).toFixed(2)} s`);
        }
        await sql`checkpoint`.execute(laurel.db);
      }
      if (lr!.lots !== lots || lr!.wallets !== o.members || br!.lots !== lots || br!.balances !== o.members) {
        throw new Error(`expiry: the job expired ${lr!.lots} lots of ${lr!.wallets} wallets, the baseline ${br!.lots} lots of ${br!.balances}; `
          + `the fixture has ${lots} lots of ${o.members} wallets`);
      }
      log('expiry: verifying the tenant\'s ledger');
      const verifyMs = await verifyTenant(laurel, fx, clock.now());
      log(`expiry: ledger verified in ${(verifyMs / 1000).toFixed(1)} s`);
      const check = await checkSides(laurel, fx, o.members, LOTS_PER_MEMBER);
      rounds.push({ first, buildMs, copyMs, vacuumMs, laurel: lr!, baseline: br!, verifyMs, check });
    } finally {
      await laurel.close();
    }
  }
  // (A failed round leaves it, for a look; the next run recreates it.)
  await resetDatabase(url, false);
  return { members: o.members, lotsPerMember: LOTS_PER_MEMBER, lots, rounds, database: databaseName(url) };
}
