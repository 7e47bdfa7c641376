// What the job benchmarks at scale (expiry.ts, tiers.ts) share: a database of their own per round,
// the members and balance rows createMember writes, written set-based, the job's statements timed
// by step, and this process's memory sampled while the job runs.
import { performance } from 'node:perf_hooks';
import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import type { Trx } from '../src/db/ledger.js';
import { databaseName, maintenanceUrl } from './database.js';
import type { Fixture } from './fixtures.js';

const RSS_SAMPLE_MS = 100;

export const mb = (bytes: number): number => bytes / 1048576;

/** A database next to the bench database, on the same server: its name + `_<suffix>`. */
export function siblingDatabaseUrl(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(`${databaseName(url)}_${suffix}`)}`;
  return u.toString();
}

/** Drops the database (closing any connection to it), then creates it again unless `recreate` is false. */
export async function resetDatabase(url: string, recreate: boolean): Promise<void> {
  const ident = `"${databaseName(url).replace(/"/g, '""')}"`;
  const client = new pg.Client({ connectionString: maintenanceUrl(url) });
  await client.connect();
  try {
    await client.query(`drop database if exists ${ident} with (force)`);
    if (recreate) await client.query(`create database ${ident}`);
  } finally {
    await client.end();
  }
}

/** Where members start on a tier ladder: each member's tier (an expression over `g`, the member's number), since and next review. */
export interface BulkTiers {
  tier: RawBuilder<string>;
  since: RawBuilder<Date>;
  reviewAt: Date;
}

/**
 * Members `from`..`to` (numbered: external id `prefix` + n), with the rows createMember writes: the
 * member and a zero balance row per wallet of the program, in one statement; with `tiers`, on a
 * ladder (as placeNewMember and later reviews leave them; no tier history). Answers the first and
 * the last member id of the batch: the ids are UUIDv7s made by this statement, so the tenant's
 * members between them are the batch (when the bench alone writes to the tenant; PostgreSQL 15 has
 * no min(uuid), and a UUID's text sorts as its bytes). Statements that follow find the batch by
 * that key range: joining other tables to the batch's ids instead was quadratic (the planner, whose
 * statistics have not seen the new tenant, expected one member and looped over the batch for each
 * of the tenant's rows: 10^8 comparisons for the 3rd batch of 10,000).
 */
export async function bulkMembers(trx: Trx, fx: Fixture, prefix: string, from: number, to: number, enrolledAt: Date,
  tiers: BulkTiers | null = null): Promise<{ first: string; last: string }> {
  const t = fx.tenantId;
  const p = fx.program.programId;
  const wallets = fx.program.wallets.map((w) => w.walletId);
  const { rows: [ids] } = await sql<{ first: string; last: string }>`
    with m as (
      insert into members (tenant_id, member_id, program_id, external_id, attributes, status, enrolled_at, updated_at,
        tier, tier_since, tier_review_at)
      select ${t}::uuid, laurel_uuid_v7(), ${p}::uuid, ${prefix}::text || g, '{}'::jsonb, 'active', ${enrolledAt}::timestamptz, ${enrolledAt}::timestamptz,
        (${tiers ? tiers.tier : sql`null`})::text, (${tiers ? tiers.since : sql`null`})::timestamptz, ${tiers?.reviewAt ?? null}::timestamptz
      from generate_series(${from}::int, ${to}::int) g
      returning member_id
    ), b as (
      insert into balances (tenant_id, member_id, wallet_id, program_id)
      select ${t}::uuid, m.member_id, w.wallet_id, ${p}::uuid from m cross join unnest(${wallets}::uuid[]) w(wallet_id)
    )
    select min(member_id::text) as first, max(member_id::text) as last from m`.execute(trx);
  return ids!;
}

export type StepTimes<S extends string> = Record<S, { count: number; ms: number }>;

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

/**
 * Times every statement this process sends while `run` runs (client-observed round trips:
 * encoding, the server's work, the network and decoding), by the step `stepOf` names from the
 * statement's text.
 */
export async function timedStatements<S extends string, T>(steps: readonly S[], stepOf: (text: string) => S,
  run: () => Promise<T>): Promise<{ result: T; steps: StepTimes<S> }> {
  const times = Object.fromEntries(steps.map((k) => [k, { count: 0, ms: 0 }])) as StepTimes<S>;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const query = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    const text = first !== null && typeof first === 'object' ? (first as { text?: unknown }).text : first;
    if (typeof text !== 'string') return query.apply(this, args);
    const step = times[stepOf(text)];
    const t = performance.now();
    const done = () => { step.count++; step.ms += performance.now() - t; };
    return (query.apply(this, args) as Promise<unknown>).then((r) => { done(); return r; }, (e: unknown) => { done(); throw e; });
  };
  try {
    return { result: await run(), steps: times };
  } finally {
    proto.query = query;
  }
}

export interface Memory {
  rssBeforeMb: number;
  rssPeakMb: number;
  heapBeforeMb: number;
  heapPeakMb: number;
}

/** Runs `run` with this process's RSS and heap sampled every 100 ms: before, and the peak during it. */
export async function sampledMemory<T>(run: () => Promise<T>): Promise<{ result: T; memory: Memory }> {
  const before = process.memoryUsage();
  let rssPeak = before.rss;
  let heapPeak = before.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  let result: T;
  try {
    result = await run();
  } finally {
    clearInterval(timer);
  }
  sample();
  return { result, memory: { rssBeforeMb: mb(before.rss), rssPeakMb: mb(rssPeak), heapBeforeMb: mb(before.heapUsed), heapPeakMb: mb(heapPeak) } };
}
