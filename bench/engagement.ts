// The bar for engagement on the event path: purchases at c=32 in a program with 10 active
// achievements AND referrals on, against the same program with neither, in the same run and
// database (bench/achievements.ts's purchases and pairing, bench/referrals.ts's settings and
// referees). On the "with" side every worker buys as a new referee of one of 8 referrers, so each
// run's first purchase per worker qualifies a referral (both sides paid, caps counted) as the ten
// achievements move. Bar: median events/s with ÷ without ≥ 0.8; the per-round ratios beside it.
import { sql } from 'kysely';
import { formatReport, verifyLedger } from '../src/db/verify.js';
import type { Laurel } from '../src/services/context.js';
import { ACHIEVEMENTS_CONCURRENCY, addAchievements, pairedPurchases } from './achievements.js';
import type { Connect } from './earn.js';
import { newFixture } from './fixtures.js';
import { REFERRAL_PROGRAM, referees, referrerCodes, turnOnReferrals } from './referrals.js';
import { median, round } from './stats.js';

export interface EngagementSummary {
  concurrency: number;
  with_per_s: number;
  without_per_s: number;
  /** median events/s with achievements and referrals ÷ median without */
  ratio: number;
  /** the median of the per-round ratios */
  ratio_paired: number;
  ratios: number[];
  with_p99_ms: number;
  without_p99_ms: number;
  unlocks: number;
  referrals_qualified: number;
  check: string;
}

export async function engagementBenchmark(laurel: Laurel, connect: Connect, runId: string, o: { rounds: number; seconds: number; warmupSeconds: number }): Promise<EngagementSummary> {
  const withFx = await newFixture(laurel, runId, 'engagement', REFERRAL_PROGRAM);
  await addAchievements(laurel, withFx);
  // The bench's orders come to 18.00: each referee's first one qualifies.
  await turnOnReferrals(laurel, withFx, 1000);
  const codes = await referrerCodes(laurel, withFx);
  const withoutFx = await newFixture(laurel, runId, 'no-engagement', REFERRAL_PROGRAM);
  const { withRuns, withoutRuns, ratios } = await pairedPurchases(connect, 'engagement', {
    with: { fx: withFx, membersFor: (l, fx, count, label) => referees(l, fx, codes, count, label) },
    without: { fx: withoutFx },
  }, o);
  const { rows: [counts] } = await sql<{ unlocks: string; qualified: string; referees: string }>`
    select (select count(*) from achievement_unlocks where tenant_id = ${withFx.tenantId}) as unlocks,
           (select count(*) from referrals where tenant_id = ${withFx.tenantId} and state in ('qualified', 'rewarded')) as qualified,
           (select count(*) from referrals where tenant_id = ${withFx.tenantId}) as referees
  `.execute(laurel.db);
  const problems: string[] = [];
  for (const fx of [withFx, withoutFx]) {
    const report = await verifyLedger(laurel.db, laurel.clock.now(), fx.tenantId);
    if (!report.ok) problems.push(`verify of ${fx.program.name}: ${formatReport(report)}`);
  }
  // Every referee bought at least once (a worker's run always starts), so each referral qualified.
  if (counts!.qualified !== counts!.referees) problems.push(`${counts!.qualified} of ${counts!.referees} referrals qualified`);
  const withPerS = median(withRuns.map((r) => r.perSecond));
  const withoutPerS = median(withoutRuns.map((r) => r.perSecond));
  return {
    concurrency: ACHIEVEMENTS_CONCURRENCY, with_per_s: Math.round(withPerS), without_per_s: Math.round(withoutPerS),
    ratio: round(withPerS / withoutPerS, 2), ratio_paired: round(median(ratios), 2), ratios: ratios.map((r) => round(r, 2)),
    with_p99_ms: round(median(withRuns.map((r) => r.p99Ms)), 1), without_p99_ms: round(median(withoutRuns.map((r) => r.p99Ms)), 1),
    unlocks: Number(counts!.unlocks), referrals_qualified: Number(counts!.qualified),
    check: problems.length > 0 ? problems.join('; ') : `both tenants verify; ${counts!.qualified} referrals qualified, each paid once`,
  };
}
