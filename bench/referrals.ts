// Purchases at c=32 in a program with referrals on against the same program with them off, in the
// same run: what referrals add to the event path. Each worker buys as its own member; on the
// "on" side every member joined with a code (eight referrers share them), so each worker's first
// purchase qualifies a referral (the referrer's wallet locked, both sides paid, caps counted) and
// every later one reads the referral state (one statement). Rounds alternate which side goes first.
import { sql } from 'kysely';
import { verifyLedger } from '../src/db/verify.js';
import type { Laurel } from '../src/services/context.js';
import { ingestEvent } from '../src/services/events.js';
import { createMember } from '../src/services/members.js';
import { memberReferral, putReferralSettings } from '../src/services/referrals.js';
import type { Connect } from './earn.js';
import { benchProgram, newFixture, newMembers, type Fixture } from './fixtures.js';
import { runLoad, type LoadResult } from './load.js';
import { log, median, round } from './stats.js';

export const REFERRAL_CONCURRENCY = 32;
const REFERRERS = 8;
const LINES = [{ sku: 'BAG', category: 'bags', quantity: 1, unitPrice: 6000 }];

export interface ReferralsBench {
  on: LoadResult[];
  off: LoadResult[];
  qualified: number;
  check: string;
}

export interface ReferralsSummary {
  concurrency: number;
  on_events_per_s: number;
  off_events_per_s: number;
  /** median on ÷ median off: 1 is free */
  ratio: number;
  ratio_paired: number;
  on_p99_ms: number;
  off_p99_ms: number;
  referrals_qualified: number;
}

/** A 14-day return window: the referral's points are pending, as a real program's. */
export const REFERRAL_PROGRAM = { ...benchProgram, returnWindowDays: 14 };

/** Referrals on in the fixture's program: a first order of `minTotal` or more pays the referrer 500 and the referee 250; caps the bench never reaches. */
export async function turnOnReferrals(laurel: Laurel, fx: Fixture, minTotal = 5000): Promise<void> {
  await putReferralSettings(laurel, fx.tenantId, fx.program.programId, {
    enabled: true, linkBaseUrl: 'https://shop.example/join', condition: `event.type == "purchase" && order.total >= ${minTotal}`, withinDays: 30,
    referrer: { points: 500 }, referee: { points: 250 }, caps: { perPeriod: { count: 1000, period: 'month' }, lifetime: 100_000 },
  }, { actor: 'bench' });
}

/** The codes of the program's referrers, made for the bench. */
export async function referrerCodes(laurel: Laurel, fx: Fixture): Promise<string[]> {
  const referrers = await newMembers(laurel, fx, REFERRERS, 'referrers');
  return Promise.all(referrers.map(async (m) => (await memberReferral(laurel, fx.tenantId, m)).code!));
}

async function fixtures(laurel: Laurel, runId: string): Promise<{ off: Fixture; on: Fixture }> {
  const off = await newFixture(laurel, runId, 'referrals-off', REFERRAL_PROGRAM);
  const on = await newFixture(laurel, runId, 'referrals-on', REFERRAL_PROGRAM);
  await turnOnReferrals(laurel, on);
  return { off, on };
}

/** `count` members of the "on" program, each referred by one of the referrers. */
export async function referees(laurel: Laurel, fx: Fixture, codes: string[], count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = await createMember(laurel, fx.tenantId, { programId: fx.program.programId, externalId: `ref-${fx.runId}-${label}-${i}`, referralCode: codes[i % codes.length]! });
    ids.push(m.memberId);
  }
  return ids;
}

async function run(connect: Connect, fx: Fixture, members: string[], warmupMs: number, durationMs: number, label: string): Promise<LoadResult> {
  const laurel = await connect(REFERRAL_CONCURRENCY + 2);
  try {
    return await runLoad({
      concurrency: REFERRAL_CONCURRENCY, warmupMs, durationMs,
      op: (w, seq) => ingestEvent(laurel, fx.tenantId, {
        programId: fx.program.programId, memberId: members[w]!, type: 'purchase', externalId: `rb-${fx.runId}-${label}-${w}-${seq}`, lines: LINES, actor: 'bench',
      }),
    });
  } finally {
    await laurel.close();
  }
}

export async function referralsBenchmark(laurel: Laurel, connect: Connect, runId: string, o: { rounds: number; seconds: number; warmupSeconds: number }): Promise<ReferralsBench> {
  const { off, on } = await fixtures(laurel, runId);
  const codes = await referrerCodes(laurel, on);
  const result: ReferralsBench = { on: [], off: [], qualified: 0, check: '' };
  for (let r = 0; r < o.rounds; r++) {
    // Fresh members each round: every "on" worker starts with a pending referral to qualify.
    const offMembers = await newMembers(laurel, off, REFERRAL_CONCURRENCY, `off-${r}`);
    const onMembers = await referees(laurel, on, codes, REFERRAL_CONCURRENCY, `on-${r}`);
    const sides = r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    for (const side of sides) {
      log(`referrals ${side}, round ${r + 1}/${o.rounds}, c=${REFERRAL_CONCURRENCY}`);
      const res = side === 'on'
        ? await run(connect, on, onMembers, o.warmupSeconds * 1000, o.seconds * 1000, `on-${r}`)
        : await run(connect, off, offMembers, o.warmupSeconds * 1000, o.seconds * 1000, `off-${r}`);
      result[side].push(res);
    }
  }
  const { rows: [q] } = await sql<{ n: string }>`select count(*) as n from referrals where tenant_id = ${on.tenantId} and state = 'qualified'`.execute(laurel.db);
  result.qualified = Number(q!.n);
  const problems: string[] = [];
  for (const fx of [off, on]) {
    const report = await verifyLedger(laurel.db, laurel.clock.now(), fx.tenantId);
    if (!report.ok) problems.push(`verify of ${fx.program.name} failed`);
  }
  if (result.qualified !== o.rounds * REFERRAL_CONCURRENCY) problems.push(`${result.qualified} referrals qualified, expected ${o.rounds * REFERRAL_CONCURRENCY}`);
  result.check = problems.length ? problems.join('; ') : `both tenants verify; ${result.qualified} referrals qualified, each paid once`;
  return result;
}

export function summarizeReferrals(b: ReferralsBench): ReferralsSummary {
  const on = median(b.on.map((r) => r.perSecond));
  const off = median(b.off.map((r) => r.perSecond));
  return {
    concurrency: REFERRAL_CONCURRENCY, on_events_per_s: round(on, 0), off_events_per_s: round(off, 0), ratio: round(on / off, 2),
    ratio_paired: round(median(b.on.map((r, i) => r.perSecond / b.off[i]!.perSecond)), 2),
    on_p99_ms: round(median(b.on.map((r) => r.p99Ms)), 1), off_p99_ms: round(median(b.off.map((r) => r.p99Ms)), 1), referrals_qualified: b.qualified,
  };
}
