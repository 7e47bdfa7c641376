// Achievements on the event path: purchases through `ingestEvent` at concurrency 32 for a program
// with 10 active achievements (counters, spend, distinct categories, streaks, a challenge, a stamp
// card issuing a free product, a balance milestone, rewards in points) against the same program
// without them, in the same run and database, alternating which goes first each round. Each run has
// its own 32 members (one per worker) and its own pool. Bar: ratio (with ÷ without) ≥ 0.8.
import { verifyLedger, formatReport } from '../src/db/verify.js';
import { createAchievement } from '../src/services/achievements.js';
import type { Laurel } from '../src/services/context.js';
import { ingestEvent, type IngestInput } from '../src/services/events.js';
import { createReward } from '../src/services/rewards.js';
import { isTooManyClients, type Connect } from './earn.js';
import { newFixture, newMembers, type Fixture } from './fixtures.js';
import { runLoad, type LoadResult } from './load.js';
import { log, median, sleep } from './stats.js';

export const ACHIEVEMENTS_CONCURRENCY = 32;

/** Ten achievements of every kind; all but the review counter count these purchases. */
export async function addAchievements(laurel: Laurel, fx: Fixture): Promise<void> {
  const coffee = await createReward(laurel, fx.tenantId, fx.program.programId, { code: 'free-latte', name: 'Free latte', value: { type: 'free_product', sku: 'LATTE-L' }, cost: 100 });
  const defs = [
    { code: 'regular', name: 'Regular', kind: 'counter', target: 5, reward: { type: 'points', points: 50 } },
    { code: 'big-spender', name: 'Big spender', kind: 'counter', metric: 'spend', target: 20000, reward: { type: 'points', points: 100 } },
    { code: 'explorer', name: 'Explorer', kind: 'counter', metric: 'distinctCategories', target: 3 },
    { code: 'critic', name: 'Critic', kind: 'counter', eventType: 'review', target: 3 },
    { code: 'weeks', name: 'Four weeks', kind: 'streak', streakUnit: 'week', target: 4, filter: '"coffee" in order.categories' },
    { code: 'days', name: 'Three days', kind: 'streak', streakUnit: 'day', target: 3, revokeOnReturn: true },
    { code: 'december', name: 'December challenge', kind: 'challenge', target: 10, window: { from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }, segment: 'member.tier == ""' },
    { code: 'card', name: 'Coffee card', kind: 'counter', target: 9, repeatable: true, stampCard: true, filter: '"LATTE-L" in order.skus', reward: { type: 'reward', rewardId: coffee.reward.rewardId } },
    { code: 'balance', name: 'Balance', kind: 'milestone', thresholds: { every: 100 } },
    { code: 'monthly', name: 'Monthly regular', kind: 'counter', target: 4, repeatable: true, resetEvery: 'month', hidden: true, reward: { type: 'points', points: 10 } },
  ];
  for (const d of defs) await createAchievement(laurel, fx.tenantId, fx.program.programId, d, { actor: 'bench' });
}

const LINES = [
  { sku: 'LATTE-L', category: 'coffee', quantity: 1, unitPrice: 450 },
  { sku: 'CROISSANT', category: 'pastry', quantity: 2, unitPrice: 180 },
];
const CATEGORIES = ['beans', 'merch', 'tea', 'cakes'];

/** A member's `seq`-th purchase: a coffee, pastries and one item of a category in turn, a day after the one before (so streaks and monthly resets move). */
export const purchaseOf = (fx: Fixture, memberId: string, externalId: string, seq: number): IngestInput => ({
  programId: fx.program.programId, memberId, externalId, type: 'purchase',
  occurredAt: new Date(Date.UTC(2026, 0, 1) + seq * 86_400_000).toISOString(), actor: 'bench',
  lines: [...LINES, { sku: `X-${seq % 4}`, category: CATEGORIES[seq % 4]!, quantity: 1, unitPrice: 990 }],
});

/** The members a run's workers buy as, one each: new ones by default. */
export type MembersFor = (laurel: Laurel, fx: Fixture, count: number, label: string) => Promise<string[]>;

async function runPurchases(connect: Connect, fx: Fixture, warmupMs: number, durationMs: number, label: string, membersFor: MembersFor): Promise<LoadResult> {
  const c = ACHIEVEMENTS_CONCURRENCY;
  for (let attempt = 1; ; attempt++) {
    const laurel = await connect(c + 2);
    try {
      const members = await membersFor(laurel, fx, c, `${label}-a${attempt}`);
      return await runLoad({
        concurrency: c, warmupMs, durationMs,
        op: (w, seq) => ingestEvent(laurel, fx.tenantId, purchaseOf(fx, members[w]!, `ach-${fx.runId}-${label}-a${attempt}-${w}-${seq}`, seq)),
      });
    } catch (e) {
      if (!isTooManyClients(e) || attempt >= 5) throw e;
      log(`the server has too many clients; retrying the ${label} run in 3 s (attempt ${attempt})`);
      await sleep(3000);
    } finally {
      await laurel.close();
    }
  }
}

export interface PairedSide {
  fx: Fixture;
  membersFor?: MembersFor;
}

/**
 * The same purchases against two programs in one run: both warmed up, then `rounds` rounds in
 * which each side runs once, alternating which goes first. Ratios are per round (with ÷ without).
 */
export async function pairedPurchases(connect: Connect, name: string, sides: { with: PairedSide; without: PairedSide },
  o: { rounds: number; seconds: number; warmupSeconds: number }): Promise<{ withRuns: LoadResult[]; withoutRuns: LoadResult[]; ratios: number[] }> {
  const withRuns: LoadResult[] = [];
  const withoutRuns: LoadResult[] = [];
  const warmupMs = o.warmupSeconds * 1000;
  const durationMs = o.seconds * 1000;
  const run = (side: 'with' | 'without', w: number, d: number, label: string) =>
    runPurchases(connect, sides[side].fx, w, d, label, sides[side].membersFor ?? ((l, fx, count, lb) => newMembers(l, fx, count, lb)));
  log(`${name}: warming up both programs`);
  await run('with', 0, Math.max(1000, warmupMs * 2), 'warm');
  await run('without', 0, Math.max(1000, warmupMs * 2), 'warm');
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
    for (const side of order) {
      const r = await run(side, warmupMs, durationMs, `r${round}-${side}`);
      (side === 'with' ? withRuns : withoutRuns).push(r);
      log(`${name} round ${round} ${side}: ${r.perSecond.toFixed(0)} events/s`);
    }
  }
  return { withRuns, withoutRuns, ratios: withRuns.map((w, i) => w.perSecond / withoutRuns[i]!.perSecond) };
}

export interface AchievementsSummary {
  concurrency: number;
  with_per_s: number;
  without_per_s: number;
  /** median events/s with achievements ÷ without */
  ratio: number;
  ratios: number[];
  unlocks: number;
  check: string;
}

export async function achievementsBenchmark(laurel: Laurel, connect: Connect, runId: string, o: { rounds: number; seconds: number; warmupSeconds: number }): Promise<AchievementsSummary> {
  const withFx = await newFixture(laurel, runId, 'achievements');
  await addAchievements(laurel, withFx);
  const withoutFx = await newFixture(laurel, runId, 'no-achievements');
  const { withRuns, withoutRuns, ratios } = await pairedPurchases(connect, 'achievements', { with: { fx: withFx }, without: { fx: withoutFx } }, o);
  const unlocks = await laurel.db.selectFrom('achievement_unlocks').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', withFx.tenantId).executeTakeFirstOrThrow();
  const reports = [await verifyLedger(laurel.db, laurel.clock.now(), withFx.tenantId), await verifyLedger(laurel.db, laurel.clock.now(), withoutFx.tenantId)];
  const bad = reports.find((r) => !r.ok);
  if (bad) throw new Error(`the ledger does not verify after the achievements bench: ${formatReport(bad)}`);
  const withPerS = median(withRuns.map((r) => r.perSecond));
  const withoutPerS = median(withoutRuns.map((r) => r.perSecond));
  return {
    concurrency: ACHIEVEMENTS_CONCURRENCY, with_per_s: Math.round(withPerS), without_per_s: Math.round(withoutPerS),
    ratio: withPerS / withoutPerS, ratios, unlocks: Number(unlocks.n), check: 'laurel verify of both tenants: ok',
  };
}
