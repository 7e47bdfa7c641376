// Achievements (SPEC §8): definitions versioned like rules, progress kept inside each event's
// transaction from running tallies (never a re-scan of history on the event path), unlocks with
// their reward (points through the ledger, a free catalog reward instance, or only the badge),
// balance milestones, the member's view, the unlock report and the backfill an admin asks for.
// Editing an achievement never rewrites history: progress moves on from where it stands, and a
// backfill recomputes it from the events when asked.
import type { RawBuilder } from 'kysely';
import { DomainError, invalid, notFound } from '../core/errors.js';
import {
  validateAchievement, type Achievement, type AchievementDefinition,
} from '../core/achievements/definition.js';
import {
  contributionsOf, currentRun, cyclesEarned, hasRun, metricOf, milestoneCrossing, milestoneLevel, newStreakRuns, nextThreshold, periodIndex, runSinceCompleted,
  runThrough, tallyHistory, tallyPeriod, takenBack, type CountedEvent, type HistoryEvent, type Returned, type Tally,
} from '../core/achievements/progress.js';
import { uuidv7 } from '../core/ids.js';
import { dateTime } from '../core/input.js';
import {
  addTallies, advanceBackfill, claimBackfill, codeInUse, contributionsLeft, definitionsOf, enabledAchievements, historyOf, recordAndRead, insertAchievement, insertBackfill, insertContributions,
  insertNextVersion, insertUnlocks, listAchievementRows, listVersions, liveUnlocks, loadAchievement, loadBackfill, lockBackfillMembers,
  memberUnlocks, milestoneState, pointsBalance, readTallies, recordTold, replaceContributions, replaceTallies, revokeUnlocks, setAchievementEnabled as setEnabledRow,
  toldParts, unlockReport, ALL_PERIODS, type AchievementVersion, type TallyRange, type UnlockRange, type Backfill, type EngagementState, type Progressed, type Told, type TallyRow, type Unlock,
} from '../db/achievements.js';
import type { LockedWallet, Trx } from '../db/ledger.js';
import { countIssued, loadInstance, loadReward, resolveInstance, type Instance } from '../db/rewards.js';
import type { OutboxMessage } from '../db/jobs.js';
import type { Reward } from '../core/rewards/reward.js';
import type { Db } from '../db/schema.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { decideEarnOn, DEFAULT_WALLET, earnWithin, lockMemberWallet, reverseWithin, walletAfter, type LedgerResult } from './ledger.js';
import type { Decision } from '../core/ledger/types.js';
import { memberInHoldout } from './analytics.js';
import { getMember } from './members.js';
import { freeInstance, issueFreeInstance } from './rewards.js';
import { getProgram } from './tenants.js';
import { requireId } from './validate.js';

export type { Achievement } from '../core/achievements/definition.js';

// ---- definitions ----------------------------------------------------------------------------

/** A reward an achievement gives must be in its program; a stamp card's is a free product. */
async function checkReward(db: Db, tenantId: string, programId: string, d: AchievementDefinition): Promise<void> {
  if (d.reward.type !== 'reward') {
    if (d.stampCard) throw invalid('reward.type', 'a stamp card ends in a free product: reward.type must be reward');
    return;
  }
  const row = await loadReward(db, tenantId, d.reward.rewardId);
  if (!row || row.reward.programId !== programId) throw notFound('reward', 'reward.rewardId');
  if (d.stampCard && row.reward.value.type !== 'free_product') throw invalid('reward.rewardId', 'a stamp card ends in a free_product reward');
}

async function checkCode(db: Db, tenantId: string, programId: string, code: string, except: string | null): Promise<void> {
  if (await codeInUse(db, tenantId, programId, code, except)) throw new DomainError('conflict', `the program already has an achievement ${code}`, 'code');
}

export async function createAchievement(laurel: Laurel, tenantId: string, programId: string, input: unknown,
  options: { actor: string; idempotencyKey?: string }): Promise<Achievement> {
  const program = await getProgram(laurel, tenantId, requireId(programId, 'programId', 'program'));
  const definition = validateAchievement(input);
  const enabled = (input as { enabled?: unknown }).enabled ?? true;
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  await checkReward(laurel.db, tenantId, program.programId, definition);
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'create_achievement', { programId: program.programId, input }, async (trx, now) => {
    await checkCode(trx, tenantId, program.programId, definition.code, null);
    const a: Achievement = { ...definition, achievementId: uuidv7(now.getTime()), programId: program.programId, version: 1, enabled };
    await insertAchievement(trx, tenantId, a, options.actor, now);
    return a;
  });
}

export async function getAchievement(laurel: Laurel, tenantId: string, achievementId: string, version?: number): Promise<Achievement> {
  const a = await loadAchievement(laurel.db, tenantId, requireId(achievementId, 'achievementId', 'achievement'), { version });
  if (!a) throw notFound(version === undefined ? 'achievement' : `version ${version} of the achievement`, version === undefined ? 'achievementId' : 'version');
  return a;
}

/** Saves the next version. Progress and unlocks already made stay; they move on under the new definition. */
export async function updateAchievement(laurel: Laurel, tenantId: string, achievementId: string, input: unknown,
  options: { actor: string; idempotencyKey?: string }): Promise<Achievement> {
  const current = await getAchievement(laurel, tenantId, achievementId);
  const definition = validateAchievement(input);
  if ((input as { enabled?: unknown }).enabled !== undefined) throw invalid('enabled', 'enabled is changed with PATCH, not by a new version');
  if (definition.kind !== current.kind) throw invalid('kind', `an achievement keeps its kind (${current.kind}): its progress is counted for it`);
  if (definition.kind === 'streak' && definition.streakUnit !== current.streakUnit) throw invalid('streakUnit', 'a streak keeps its unit: its progress is kept per period');
  if (definition.resetEvery !== current.resetEvery) throw invalid('resetEvery', 'an achievement keeps its reset period: its progress is kept per period');
  if (definition.metric !== current.metric) throw invalid('metric', 'an achievement keeps its metric: its progress is counted in it');
  await checkReward(laurel.db, tenantId, current.programId, definition);
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'update_achievement', { achievementId: current.achievementId, input }, async (trx, now) => {
    const locked = (await loadAchievement(trx, tenantId, current.achievementId, { lock: true }))!;
    await checkCode(trx, tenantId, locked.programId, definition.code, locked.achievementId);
    const next: Achievement = { ...definition, achievementId: locked.achievementId, programId: locked.programId, version: locked.version + 1, enabled: locked.enabled };
    await insertNextVersion(trx, tenantId, next, options.actor, now);
    return next;
  });
}

export async function setAchievementEnabled(laurel: Laurel, tenantId: string, achievementId: string, enabled: unknown): Promise<Achievement> {
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  const a = await getAchievement(laurel, tenantId, achievementId);
  if (a.enabled !== enabled) await setEnabledRow(laurel.db, tenantId, a.achievementId, enabled, laurel.clock.now());
  return { ...a, enabled };
}

export async function listAchievements(laurel: Laurel, tenantId: string, programId: string): Promise<Achievement[]> {
  const program = await getProgram(laurel, tenantId, programId);
  return listAchievementRows(laurel.db, tenantId, program.programId);
}

export async function achievementVersions(laurel: Laurel, tenantId: string, achievementId: string) {
  const a = await getAchievement(laurel, tenantId, achievementId);
  return listVersions(laurel.db, tenantId, a.achievementId);
}

// ---- the event path -------------------------------------------------------------------------

export interface EventContext {
  tenantId: string;
  programId: string;
  timeZone: string;
  memberId: string;
  eventId: string;
  /** the event's idempotency key: the rewards' ledger entries are written under it */
  key: string;
  actor: string;
  /** the member is in the program's holdout: their unlocks are recorded, their rewards not paid */
  control?: boolean;
  /**
   * The member's points wallet as the caller locked it, and every write to it since (rewards paid
   * here are added): a reward in points is credited on it without locking and reading it again.
   */
  points?: { wallet: LockedWallet; written: LedgerResult[] };
}

/**
 * The live unlocks of an achievement its decision reads (newUnlocks): a repeatable counter's in
 * the event's period (counted: how many, and only those above the count), a repeatable streak's
 * whose K periods meet the K - 1 on either side of the event's; a one-time achievement's, whatever
 * their period (one at most). A member's history of unlocks is never read whole on the event path,
 * only what the decision needs.
 */
const unlocksRead = (a: Achievement, period: number): UnlockRange => {
  if (!a.repeatable) return { achievementId: a.achievementId, ...ALL_PERIODS };
  const k = Number(a.target);
  return a.kind === 'streak'
    ? { achievementId: a.achievementId, from: period - 2 * k + 2, to: period + k - 1 }
    : { achievementId: a.achievementId, from: period, to: period, counted: true };
};

/**
 * The tallies of an achievement its decision reads: a streak's periods around the event's, a
 * counter's period. A one-time achievement the member holds decides nothing: none are read then.
 */
const rangeOf = (a: Achievement, period: number): TallyRange => {
  const k = a.kind === 'streak' ? Number(a.target) - 1 : 0;
  return { achievementId: a.achievementId, from: period - k, to: period + k, unheld: !a.repeatable };
};

/** What an event's progress needs of the member, from the achievements it counts for: decided before anything is read. */
export interface ProgressPlan {
  /** the event's contributions to the tallies */
  added: TallyRow[];
  /** the achievements it counts for, each with the period it counts in */
  touched: { a: Achievement; period: number }[];
  milestones: Achievement[];
  /** the tallies the decisions read: a streak's periods around the event's, a counter's period, a milestone's level */
  ranges: TallyRange[];
  /** the live unlocks the decisions read (unlocksRead) */
  unlocks: UnlockRange[];
  /** the milestones, whose last live cycle is read (the next crossing is numbered after it) */
  numbered: string[];
  /** the catalog rewards the unlocks may issue */
  rewardIds: string[];
}

/** The plan of an event's progress over these achievements; null when the event moves none of them. */
export function progressPlan(achievements: readonly Achievement[], event: CountedEvent, timeZone: string): ProgressPlan | null {
  const added: TallyRow[] = [];
  const touched: { a: Achievement; period: number }[] = [];
  for (const a of achievements) {
    const c = contributionsOf(a, event, timeZone);
    if (c.length === 0) continue;
    added.push(...c.map((t) => ({ ...t, achievementId: a.achievementId })));
    touched.push({ a, period: c[0]!.period });
  }
  const milestones = achievements.filter((a) => a.kind === 'milestone');
  if (touched.length === 0 && milestones.length === 0) return null;
  return {
    added, touched, milestones,
    ranges: [...touched.map(({ a, period }) => rangeOf(a, period)), ...milestones.map((a) => ({ achievementId: a.achievementId, from: 0, to: 0 }))],
    unlocks: touched.map(({ a, period }) => unlocksRead(a, period)),
    numbered: milestones.map((a) => a.achievementId),
    rewardIds: [...new Set([...touched.map(({ a }) => a), ...milestones].flatMap((a) => (a.reward.type === 'reward' ? [a.reward.rewardId] : [])))],
  };
}

/**
 * Pays an unlock's reward and notes it on the unlock: in the event's transaction, or decided for
 * its batch's write. Null: it cannot be paid there (the event goes its own way).
 */
export type Pay = (a: Achievement, unlock: Unlock) => Promise<LedgerResult[] | null>;

/**
 * A purchase's or action's progress, inside its transaction (the member's points wallet is locked),
 * for the program's enabled achievements as the event read them with its program:
 * adds what it contributes to the tallies, unlocks what they now reach (paying the rewards), then
 * tells the balance milestones the event's points reached.
 */
export async function progressOnEvent(trx: Trx, now: Date, enabled: readonly AchievementVersion[], ctx: EventContext, event: CountedEvent): Promise<EventProgress> {
  const plan = progressPlan(await definitionsOf(trx, ctx.tenantId, ctx.programId, enabled), event, ctx.timeZone);
  if (!plan) return { results: [], record: [] };
  // One statement writes the event's share and reads back every figure the decisions below need.
  const state = await recordAndRead(trx, ctx.tenantId, ctx.memberId, ctx.eventId, plan.added, plan.ranges, plan.unlocks, plan.numbered, plan.milestones.length > 0);
  const told = nothingTold();
  const results = (await progressDecided(now, ctx, plan, state, told, payIn(trx, now, ctx)))!;
  return { results, record: toldParts(ctx.tenantId, [{ programId: ctx.programId, memberId: ctx.memberId, told }], now) };
}

/**
 * The unlocks an event's progress reaches on `state` (the tallies with its own contributions, the
 * live unlocks, the points balance before its rewards), their rewards paid by `pay`, then the
 * milestones the balance reached: what it writes and tells goes into `told`. Null when `pay` could not.
 */
export async function progressDecided(now: Date, ctx: Pick<EventContext, 'memberId' | 'eventId'>, plan: ProgressPlan,
  state: { tallies: readonly TallyRow[]; live: readonly Pick<Unlock, 'achievementId' | 'period' | 'cycle'>[]; held: ReadonlyMap<string, number>; lastCycles: ReadonlyMap<string, number>; balance: bigint },
  told: Told, pay: Pay): Promise<LedgerResult[] | null> {
  const unlocks: { a: Achievement; unlock: Unlock }[] = [];
  for (const { a, period } of plan.touched) {
    const mine = state.tallies.filter((t) => t.achievementId === a.achievementId);
    const held = state.live.filter((u) => u.achievementId === a.achievementId);
    for (const u of newUnlocks(a, period, mine, held, state.held.get(a.achievementId))) {
      unlocks.push({ a, unlock: { ...u, unlockId: uuidv7(now.getTime()), version: a.version, memberId: ctx.memberId, eventId: ctx.eventId, unlockedAt: now } });
    }
  }
  const results = await unlock(unlocks, told, pay);
  if (!results) return null;
  if (plan.milestones.length === 0) return results;
  // Rewards in points moved the balance after the read: the milestones see it as it now stands.
  const balance = pointsAfter(results, ctx.memberId) ?? state.balance;
  const paid = await tellMilestones(now, ctx, plan.milestones, balance, state.tallies, state.lastCycles, told, pay);
  return paid && [...results, ...paid];
}

/**
 * An event's progress in the ledger's group commit: decided on the state its batch read under the
 * member's lock (engagementStates: the tallies before the event) and on the points wallet it
 * locked, after the event's own earns (`written`, their decisions in `decisions`); its rewards in
 * points are decided there too. What it adds and tells is written with the batch. Null: the event
 * goes its own way (a reward with a stock limit or partner codes to issue, a wallet to settle).
 */
export async function progressOnWallet(now: Date, ctx: Omit<EventContext, 'timeZone' | 'points'>, plan: ProgressPlan, state: EngagementState,
  on: Pick<BatchedRewards, 'wallet' | 'written' | 'decisions'>): Promise<Progressed | null> {
  // The event's few contributions added to the tallies read, matched field by field (string keys built for a map cost more).
  const tallies = state.tallies.slice();
  for (const t of plan.added) {
    const i = tallies.findIndex((x) => x.period === t.period && x.key === t.key && x.achievementId === t.achievementId);
    if (i < 0) tallies.push(t);
    else tallies[i] = { ...t, value: tallies[i]!.value + t.value };
  }
  const told = nothingTold();
  const issued: BatchedRewards['issued'] = [];
  const balance = walletAfter(on.wallet, on.written).state.balance.available;
  const paid = await progressDecided(now, ctx, plan, { tallies, live: state.live, held: state.held, lastCycles: state.lastCycles, balance }, told,
    payOn(now, ctx, { ...on, rewards: state.rewards, issued }));
  return paid && { programId: ctx.programId, memberId: ctx.memberId, eventId: ctx.eventId, added: plan.added, told, issued };
}

export interface EventProgress {
  /** the ledger writes its rewards made */
  results: LedgerResult[];
  /** what it decided to record and tell, as parts of a WITH: the caller writes them with the event's own rows */
  record: RawBuilder<unknown>[];
}

const nothingTold = (): Told => ({ unlocks: [], levels: [], messages: [] });

/**
 * The member's points balance after the last of `results` that wrote their points wallet, as
 * projected from the locked row (exact: nobody else writes it before commit); null when none did.
 */
function pointsAfter(results: readonly LedgerResult[], memberId: string): bigint | null {
  for (let i = results.length - 1; i >= 0; i--) {
    const balance = results[i]!.balances.find((b) => b.memberId === memberId && b.wallet === DEFAULT_WALLET);
    if (balance) return balance.available;
  }
  return null;
}

/** Pays the unlocks' rewards; they are recorded and told (achievement.unlocked) with the rest of `told`. Null when `pay` could not. */
async function unlock(unlocks: readonly { a: Achievement; unlock: Unlock }[], told: Told, pay: Pay): Promise<LedgerResult[] | null> {
  const results: LedgerResult[] = [];
  for (const { a, unlock: u } of unlocks) {
    const paid = await pay(a, u);
    if (!paid) return null;
    results.push(...paid);
    told.unlocks.push(u);
    told.messages.push({ type: 'achievement.unlocked', dedupeKey: `achievement.unlocked:${u.unlockId}`, payload: unlockMessage(a, u) });
  }
  return results;
}

type NewUnlock = Pick<Unlock, 'achievementId' | 'period' | 'cycle' | 'threshold' | 'points' | 'entryId' | 'instanceId' | 'revokedAt'>;

/**
 * The unlocks the tallies have earned that the member does not hold yet. `holds`: how many live
 * unlocks a repeatable counter holds in the period, when `held` gives only those above that count.
 */
function newUnlocks(a: Achievement, period: number, tallies: readonly Tally[], held: readonly Pick<Unlock, 'period' | 'cycle'>[], holds?: number): NewUnlock[] {
  const base = { achievementId: a.achievementId, threshold: null, points: null, entryId: null, instanceId: null, revokedAt: null };
  if (a.kind === 'streak') {
    const k = Number(a.target);
    // The run that holds this event lies within K - 1 periods of it: runs outside held unlocks are kept shorter than K.
    if (a.repeatable) return newStreakRuns(activePeriods(tallies), held.map((u) => u.period), k, period - k + 1, period + k - 1).map((p) => ({ ...base, period: p, cycle: 1 }));
    if (held.length > 0) return [];
    const run = runThrough(activePeriods(tallies), period);
    if (run.length < k) return [];
    // The K periods of the run that hold this event: a return inside them is what may revoke it.
    return [{ ...base, period: Math.max(run.start, period - k + 1), cycle: 1 }];
  }
  const earned = cyclesEarned(a, metricOf(a, tallies.filter((t) => t.period === period)));
  const cycles = new Set(held.filter((u) => u.period === period || !a.repeatable).map((u) => u.cycle));
  if (!a.repeatable) return earned >= 1 && cycles.size === 0 ? [{ ...base, period, cycle: 1 }] : [];
  // The next cycle is above how many it holds; one held above what it has earned (a return kept
  // its unlock) earns nothing new until the count passes it.
  const out: NewUnlock[] = [];
  for (let c = (holds ?? cycles.size) + 1; c <= earned; c++) if (!cycles.has(c)) out.push({ ...base, period, cycle: c });
  return out;
}

const activePeriods = (tallies: readonly Tally[]) => new Set(tallies.filter((t) => t.value > 0n).map((t) => t.period));

/** Pays rewards in the caller's transaction: points into the points wallet, or a free instance of the catalog reward; a badge, or a control member's unlock, pays nothing. */
function payIn(trx: Trx, now: Date, ctx: Pick<EventContext, 'tenantId' | 'memberId' | 'key' | 'actor' | 'control' | 'points'>): Pay {
  return async (a, unlock) => {
    if (ctx.control) return [];
    if (a.reward.type === 'points') {
      const wallet = ctx.points ? walletAfter(ctx.points.wallet, ctx.points.written) : await lockMemberWallet(trx, ctx.tenantId, ctx.memberId, DEFAULT_WALLET, now);
      const result = await earnWithin(trx, now, wallet, { tenantId: ctx.tenantId, idempotencyKey: ctx.key, actor: ctx.actor, amount: a.reward.points, ref: rewardRef(a) });
      ctx.points?.written.push(result);
      unlock.points = a.reward.points;
      unlock.entryId = result.entries[0]!.entryId;
      return [result];
    }
    if (a.reward.type === 'reward') unlock.instanceId = await issueFreeInstance(trx, now, { tenantId: ctx.tenantId, memberId: ctx.memberId, rewardId: a.reward.rewardId });
    return [];
  };
}

/** Where a batched event's rewards go: the points wallet its batch locked, and what it has written on it, decided, and issued so far. */
export interface BatchedRewards {
  wallet: LockedWallet;
  written: LedgerResult[];
  decisions: Decision[];
  /** the catalog rewards its unlocks may issue, as its batch read them */
  rewards: ReadonlyMap<string, Reward>;
  issued: { instance: Instance; told: OutboxMessage }[];
}

/**
 * Pays rewards on a wallet a batch locked: points decided on it as it stands after what was
 * written, a free instance of a reward without a stock limit or partner codes (issued with the
 * batch). A stock or partner codes are counted under the reward's lock: not here.
 */
function payOn(now: Date, ctx: Pick<EventContext, 'tenantId' | 'memberId' | 'key' | 'actor' | 'control'>, on: BatchedRewards): Pay {
  return async (a, unlock) => {
    if (ctx.control) return [];
    if (a.reward.type === 'reward') {
      const reward = on.rewards.get(a.reward.rewardId);
      if (reward && (reward.stock !== null || reward.value.type === 'partner_voucher')) return null;
      // A disabled (or vanished) reward issues nothing, as issueFreeInstance says.
      if (!reward?.enabled) return [];
      const issued = freeInstance(reward, ctx.memberId, uuidv7(now.getTime()), now);
      on.issued.push(issued);
      unlock.instanceId = issued.instance.instanceId;
      return [];
    }
    if (a.reward.type !== 'points') return [];
    const earned = decideEarnOn(walletAfter(on.wallet, on.written), now, { tenantId: ctx.tenantId, idempotencyKey: ctx.key, actor: ctx.actor, amount: a.reward.points, ref: rewardRef(a) });
    if (!earned) return null;
    on.written.push(earned.result);
    on.decisions.push(earned.decision);
    unlock.points = a.reward.points;
    unlock.entryId = earned.result.entries[0]!.entryId;
    return [earned.result];
  };
}

const rewardRef = (a: Achievement) => `achievement:${a.code}`;

const unlockMessage = (a: Achievement, u: Unlock) => ({
  unlockId: u.unlockId, achievementId: a.achievementId, code: a.code, name: a.name, programId: a.programId, memberId: u.memberId, version: u.version,
  period: u.period, cycle: u.cycle, points: u.points, instanceId: u.instanceId, eventId: u.eventId, unlockedAt: u.unlockedAt,
});

/** Who and what a milestone check answers to: an event (its id), or a credit outside events (eventId null). */
export type MilestoneContext = Omit<EventContext, 'eventId' | 'timeZone'> & { eventId: string | null };

/** Compares the points balance with each milestone's last level (read under the member's lock); a rise tells the highest threshold reached, once, and pays its reward. */
async function observeMilestones(trx: Trx, now: Date, ctx: MilestoneContext, achievements: readonly Achievement[], told: Told): Promise<LedgerResult[]> {
  const milestones = achievements.filter((a) => a.kind === 'milestone');
  if (milestones.length === 0) return [];
  const state = await milestoneState(trx, ctx.tenantId, ctx.memberId, milestones.map((a) => a.achievementId));
  return (await tellMilestones(now, ctx, milestones, state.balance, state.tallies, state.lastCycles, told, payIn(trx, now, ctx)))!;
}

/** observeMilestones as a check of its own: what it tells is recorded at once. */
async function milestonesNow(trx: Trx, now: Date, ctx: MilestoneContext, milestones: readonly Achievement[]): Promise<LedgerResult[]> {
  const told = nothingTold();
  const results = await observeMilestones(trx, now, ctx, milestones, told);
  await recordTold(trx, ctx.tenantId, ctx.programId, ctx.memberId, told, now);
  return results;
}

/**
 * Balance milestones after a credit outside the member's own events — a referrer's reward, a gift
 * received — inside the caller's transaction, which holds the member's points wallet lock (as
 * every credit does). Points that only become available later (a hold, a return window) are seen
 * by the member's next check.
 */
export async function milestonesOnCredit(trx: Trx, now: Date, ctx: Omit<MilestoneContext, 'eventId'>): Promise<LedgerResult[]> {
  const milestones = (await enabledAchievements(trx, ctx.tenantId, ctx.programId)).filter((a) => a.kind === 'milestone');
  if (milestones.length === 0) return [];
  // A control member's crossing pays nothing: asked here unless the caller knows.
  const control = ctx.control ?? await memberInHoldout(trx, ctx.tenantId, ctx.programId, ctx.memberId);
  return milestonesNow(trx, now, { ...ctx, control, eventId: null }, milestones);
}

/**
 * The same after a manual adjustment, in a transaction of its own once the adjustment is
 * committed (the ledger's group commit writes it with others). Run again for a replayed request it
 * finds the level already moved: nothing is told twice. A crash in between leaves the crossing to
 * the member's next event.
 */
export async function milestonesAfterAdjustment(laurel: Laurel, tenantId: string, memberId: string, options: { key: string; actor: string }): Promise<void> {
  const member = await getMember(laurel, tenantId, memberId);
  const milestones = (await enabledAchievements(laurel.db, tenantId, member.programId)).filter((a) => a.kind === 'milestone');
  if (milestones.length === 0) return;
  await laurel.db.transaction().execute(async (trx) => {
    const now = laurel.clock.now();
    await lockMemberWallet(trx, tenantId, member.memberId, DEFAULT_WALLET, now);
    const control = await memberInHoldout(trx, tenantId, member.programId, member.memberId);
    await milestonesNow(trx, now, { tenantId, programId: member.programId, memberId: member.memberId, ...options, control, eventId: null }, milestones);
  });
}

/**
 * The milestones a member's points balance has just reached: each crossing is told and its reward
 * paid by `pay`, once, under the member's points wallet lock (null when `pay` could not). Points a milestone
 * pays tell no further milestone: after paying, every milestone's level is set from the balance
 * the rewards made, so a threshold they jumped is told only when the balance next comes to it
 * from below. That keeps one check one step, whatever the rewards.
 */
async function tellMilestones(now: Date, ctx: Pick<MilestoneContext, 'memberId' | 'eventId'>, milestones: readonly Achievement[], balance: bigint,
  levels: readonly TallyRow[], lastCycles: ReadonlyMap<string, number>, told: Told, pay: Pay): Promise<LedgerResult[] | null> {
  const last = (a: Achievement) => levels.find((t) => t.achievementId === a.achievementId && t.period === 0)?.value ?? 0n;
  const reached: { a: Achievement; unlock: Unlock }[] = [];
  for (const a of milestones) {
    const { told: threshold } = milestoneCrossing(a.thresholds!, last(a), balance);
    if (threshold === null) continue;
    reached.push({ a, unlock: {
      unlockId: uuidv7(now.getTime()), achievementId: a.achievementId, version: a.version, memberId: ctx.memberId, period: 0,
      cycle: (lastCycles.get(a.achievementId) ?? 0) + 1, threshold, eventId: ctx.eventId, unlockedAt: now,
      points: null, entryId: null, instanceId: null, revokedAt: null,
    } });
  }
  const results: LedgerResult[] = [];
  for (const { a, unlock } of reached) {
    const paid = await pay(a, unlock);
    if (!paid) return null;
    results.push(...paid);
  }
  const after = pointsAfter(results, ctx.memberId) ?? balance;
  told.levels.push(...milestones.flatMap((a) => {
    const level = milestoneLevel(a.thresholds!, after);
    return level === last(a) ? [] : [{ achievementId: a.achievementId, period: 0, key: '', value: level }];
  }));
  for (const { a, unlock } of reached) {
    told.unlocks.push(unlock);
    told.messages.push({ type: 'milestone.reached', dedupeKey: `milestone.reached:${unlock.unlockId}`, payload: {
      unlockId: unlock.unlockId, achievementId: a.achievementId, code: a.code, name: a.name, programId: a.programId, memberId: ctx.memberId,
      threshold: unlock.threshold, balance, points: unlock.points, instanceId: unlock.instanceId, eventId: ctx.eventId, reachedAt: now,
    } });
  }
  return results;
}

export interface ReturnContext extends EventContext {
  /** the purchase the return refunds */
  purchaseEventId: string;
  /** what is back of it after this return (core returnedOf) */
  returned: Returned;
}

/**
 * A return takes back what its purchase still adds to each achievement (spend by the money
 * refunded; a distinct sku or category once all its units are back; counts and streak periods
 * when the whole purchase is back). An unlock the progress no longer reaches is revoked, reward
 * included, only where the achievement says revokeOnReturn; otherwise the member keeps it. A
 * repeatable streak's revoked run frees its other periods: a run of K they still make with their
 * neighbours is unlocked (and paid) here, so the member holds one unlock per run their purchases
 * make. Milestones see the new balance (a fall is not told). Inside the return's transaction,
 * after its own ledger writes.
 */
export async function progressOnReturn(trx: Trx, now: Date, ctx: ReturnContext): Promise<LedgerResult[]> {
  const all = await listAchievementRows(trx, ctx.tenantId, ctx.programId);
  if (all.length === 0) return [];
  // The member's lock, as on a purchase: their tallies and unlocks are decided under it.
  await lockMemberWallet(trx, ctx.tenantId, ctx.memberId, DEFAULT_WALLET, now);
  const left = await contributionsLeft(trx, ctx.tenantId, ctx.purchaseEventId);
  const results: LedgerResult[] = [];
  const told = nothingTold();
  const back: TallyRow[] = [];
  const touched: { a: Achievement; periods: Set<number> }[] = [];
  for (const a of all) {
    const mine = left.filter((t) => t.achievementId === a.achievementId);
    if (mine.length === 0) continue;
    const taken = takenBack(a, mine, ctx.returned);
    if (taken.length === 0) continue;
    back.push(...taken.map((t) => ({ ...t, achievementId: a.achievementId })));
    touched.push({ a, periods: new Set(taken.map((t) => t.period)) });
  }
  if (back.length > 0) {
    await addTallies(trx, ctx.tenantId, ctx.memberId, back);
    await insertContributions(trx, ctx.tenantId, ctx.memberId, ctx.eventId, ctx.purchaseEventId, back);
    const revoking = touched.filter(({ a }) => a.revokeOnReturn);
    const live = await liveUnlocks(trx, ctx.tenantId, ctx.memberId, revoking.map(({ a }) => a.achievementId));
    const ranges = revoking.flatMap(({ a, periods }) => {
      const k = Number(a.target);
      if (a.kind !== 'streak') return [...periods].map((p) => ({ achievementId: a.achievementId, from: p, to: p }));
      return live.filter((u) => u.achievementId === a.achievementId).map((u) => ({ achievementId: a.achievementId, from: u.period - k + 1, to: u.period + 2 * k - 2 }));
    });
    const tallies = await readTallies(trx, ctx.tenantId, ctx.memberId, ranges);
    const revoked: { a: Achievement; unlock: Unlock }[] = [];
    const again: { a: Achievement; unlock: Unlock }[] = [];
    for (const { a, periods } of revoking) {
      const mine = tallies.filter((t) => t.achievementId === a.achievementId);
      const held = live.filter((u) => u.achievementId === a.achievementId);
      const lost = unlocksLost(a, periods, mine, held);
      for (const u of lost) revoked.push({ a, unlock: u });
      if (!(a.kind === 'streak' && a.repeatable)) continue;
      const k = Number(a.target);
      const kept = held.filter((u) => !lost.includes(u)).map((u) => u.period);
      for (const u of lost) {
        for (const p of newStreakRuns(activePeriods(mine), kept, k, u.period - k + 1, u.period + 2 * k - 2)) {
          if (again.some((x) => x.a === a && x.unlock.period === p)) continue;
          kept.push(p);
          again.push({ a, unlock: {
            unlockId: uuidv7(now.getTime()), achievementId: a.achievementId, version: a.version, memberId: ctx.memberId, period: p, cycle: 1,
            threshold: null, eventId: ctx.eventId, unlockedAt: now, points: null, entryId: null, instanceId: null, revokedAt: null,
          } });
        }
      }
    }
    for (const { unlock } of revoked) results.push(...(await takeBackReward(trx, now, ctx, unlock)));
    await revokeUnlocks(trx, ctx.tenantId, revoked.map((r) => r.unlock.unlockId), now, ctx.eventId);
    for (const { a, unlock } of revoked) {
      told.messages.push({ type: 'achievement.revoked', dedupeKey: `achievement.revoked:${unlock.unlockId}`, payload: { ...unlockMessage(a, unlock), revokedBy: ctx.eventId, revokedAt: now } });
    }
    results.push(...(await unlock(again, told, payIn(trx, now, ctx)))!);
  }
  results.push(...await observeMilestones(trx, now, ctx, all.filter((a) => a.enabled), told));
  await recordTold(trx, ctx.tenantId, ctx.programId, ctx.memberId, told, now);
  return results;
}

/** The live unlocks the tallies no longer reach: a counter's highest cycles above what it has earned, a streak whose K periods broke (a single streak: with no other run beside them). */
function unlocksLost(a: Achievement, periods: ReadonlySet<number>, tallies: readonly Tally[], held: readonly Unlock[]): Unlock[] {
  if (a.kind === 'streak') {
    const k = Number(a.target);
    const active = activePeriods(tallies);
    const broke = (u: Unlock) => [...periods].some((p) => p >= u.period && p < u.period + k && !active.has(p));
    if (a.repeatable) return held.filter(broke);
    return held.filter((u) => broke(u) && !hasRun(active, k, u.period - k + 1, u.period + 2 * k - 2));
  }
  const lost: Unlock[] = [];
  for (const p of periods) {
    const earned = cyclesEarned(a, metricOf(a, tallies.filter((t) => t.period === p)));
    lost.push(...held.filter((u) => (u.period === p || !a.repeatable) && u.cycle > earned));
  }
  return lost;
}

/** A revoked unlock's reward comes back: its points reversed through the ledger, its instance cancelled if still unused. */
async function takeBackReward(trx: Trx, now: Date, ctx: EventContext, unlock: Unlock): Promise<LedgerResult[]> {
  if (unlock.entryId) {
    await lockMemberWallet(trx, ctx.tenantId, ctx.memberId, DEFAULT_WALLET, now);
    return [await reverseWithin(trx, now, { tenantId: ctx.tenantId, idempotencyKey: ctx.key, actor: ctx.actor, entryId: unlock.entryId, amount: null, reason: 'achievement revoked by a return' })];
  }
  if (unlock.instanceId) {
    const instance = await loadInstance(trx, ctx.tenantId, { instanceId: unlock.instanceId }, { lock: true });
    if (instance && instance.status === 'issued') {
      await resolveInstance(trx, ctx.tenantId, instance.instanceId, 'cancelled', now);
      await countIssued(trx, ctx.tenantId, instance.rewardId, -1);
    }
  }
  return [];
}

// ---- the member's view ----------------------------------------------------------------------

export interface MemberAchievement {
  achievement: Achievement;
  /** unlocked at least once and not revoked */
  unlocked: boolean;
  timesUnlocked: number;
  lastUnlockedAt: Date | null;
  /** toward the next unlock: a counter's metric in this period, a streak's current run, a stamp card's stamps, a milestone's balance */
  current: bigint;
  target: bigint;
  /** what is left to do, in the achievement's unit; null: nothing left (unlocked once, a challenge closed, past the last milestone) */
  next: { remaining: bigint; unit: NextUnit } | null;
  /** a challenge's deadline */
  deadline: Date | null;
}

export type NextUnit = 'events' | 'money' | 'skus' | 'categories' | 'days' | 'weeks' | 'months' | 'points';

const unitOf = (a: Achievement): NextUnit => {
  if (a.kind === 'milestone') return 'points';
  if (a.kind === 'streak') return `${a.streakUnit!}s` as NextUnit;
  return a.metric === 'spend' ? 'money' : a.metric === 'distinctSkus' ? 'skus' : a.metric === 'distinctCategories' ? 'categories' : 'events';
};

/** A member's achievements: every visible one of the program, and the hidden ones they unlocked, with progress and the next step. */
export async function memberAchievements(laurel: Laurel, tenantId: string, memberId: string): Promise<MemberAchievement[]> {
  const member = await getMember(laurel, tenantId, requireId(memberId, 'memberId', 'member'));
  const timeZone = (await laurel.db.selectFrom('tenants').select('time_zone').where('tenant_id', '=', tenantId).executeTakeFirstOrThrow()).time_zone;
  const now = laurel.clock.now();
  const all = await listAchievementRows(laurel.db, tenantId, member.programId);
  const live = await memberUnlocks(laurel.db, tenantId, member.memberId);
  const shown = all.filter((a) => live.some((u) => u.achievementId === a.achievementId) || (a.enabled && !a.hidden));
  const periodNow = (a: Achievement) => tallyPeriod(a, now, timeZone);
  const tallies = await readTallies(laurel.db, tenantId, member.memberId, shown.map((a) => a.kind === 'streak'
    ? { achievementId: a.achievementId, from: periodNow(a) - Number(a.target), to: periodNow(a) }
    : { achievementId: a.achievementId, from: periodNow(a), to: periodNow(a) }));
  const balance = shown.some((a) => a.kind === 'milestone') ? await pointsBalance(laurel.db, tenantId, member.memberId) : 0n;
  return shown.map((a) => {
    const mine = live.filter((u) => u.achievementId === a.achievementId);
    const t = tallies.filter((x) => x.achievementId === a.achievementId);
    const base = {
      achievement: a, unlocked: mine.length > 0, timesUnlocked: mine.length,
      lastUnlockedAt: mine.reduce<Date | null>((d, u) => (d === null || u.unlockedAt > d ? u.unlockedAt : d), null), deadline: a.window?.to ?? null,
    };
    const step = (current: bigint, target: bigint, done: boolean) => ({
      ...base, current, target, next: done || current >= target ? null : { remaining: target - current, unit: unitOf(a) },
    });
    if (a.kind === 'milestone') {
      const next = nextThreshold(a.thresholds!, balance);
      return { ...base, current: balance, target: next ?? milestoneLevel(a.thresholds!, balance), next: next === null ? null : { remaining: next - balance, unit: 'points' as const } };
    }
    if (a.kind === 'streak' && a.repeatable) return step(BigInt(runSinceCompleted(activePeriods(t), mine.map((u) => u.period), Number(a.target), periodNow(a))), a.target, false);
    if (a.kind === 'streak') return step(BigInt(Math.min(currentRun(activePeriods(t), periodNow(a)), Number(a.target))), a.target, mine.length > 0);
    const metric = metricOf(a, t);
    const closed = a.window !== null && now >= a.window.to;
    if (!a.repeatable) return step(metric < a.target ? metric : a.target, a.target, mine.length > 0 || closed);
    // A stamp card shows the stamps toward the next free product: what this period's count holds beyond the cards already completed.
    const full = BigInt(mine.filter((u) => u.period === periodNow(a)).length);
    const stamps = metric - full * a.target;
    return step(stamps < 0n ? 0n : stamps > a.target ? a.target : stamps, a.target, closed);
  });
}

// ---- report -----------------------------------------------------------------------------------

export interface AchievementReportRow {
  achievement: Achievement;
  unlocks: bigint;
  members: bigint;
  revoked: bigint;
  points: bigint;
  rewards: bigint;
}

/** Unlocks per achievement of a program in [from, to) (unlock time). */
export async function achievementReport(laurel: Laurel, tenantId: string, programId: string, period: { from?: unknown; to?: unknown }): Promise<AchievementReportRow[]> {
  const program = await getProgram(laurel, tenantId, programId);
  const from = dateTime(period.from, 'from');
  const to = dateTime(period.to, 'to');
  if (from && to && to <= from) throw invalid('to', 'to must be after from');
  const rows = await unlockReport(laurel.db, tenantId, program.programId, { from, to });
  const all = await listAchievementRows(laurel.db, tenantId, program.programId);
  return all.map((a) => ({ achievement: a, ...(rows.get(a.achievementId) ?? { unlocks: 0n, members: 0n, revoked: 0n, points: 0n, rewards: 0n }) }));
}

// ---- backfill ---------------------------------------------------------------------------------

export type { Backfill } from '../db/achievements.js';

/** Asks for a recompute of an achievement's progress from the events; the achievement_backfill job does it. */
export async function requestBackfill(laurel: Laurel, tenantId: string, achievementId: string, options: { actor: string; idempotencyKey?: string }): Promise<Backfill> {
  const a = await getAchievement(laurel, tenantId, achievementId);
  if (a.kind === 'milestone') throw invalid('achievementId', 'a milestone follows the balance: it has no history to recompute');
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'backfill_achievement', { achievementId: a.achievementId }, async (trx, now) => {
    const { cursor: _c, tenantId: _t, ...b } = await insertBackfill(trx, tenantId, { backfillId: uuidv7(now.getTime()), achievementId: a.achievementId, programId: a.programId, actor: options.actor, now });
    return b;
  });
}

export async function getBackfill(laurel: Laurel, tenantId: string, backfillId: string): Promise<Backfill> {
  const b = await loadBackfill(laurel.db, tenantId, requireId(backfillId, 'backfillId', 'backfill'));
  if (!b) throw notFound('backfill', 'backfillId');
  const { cursor: _c, tenantId: _t, ...shown } = b;
  return shown;
}

export const BACKFILL_CHUNK = 500;

/**
 * Runs pending backfills, a chunk of members per transaction: the backfill row is claimed with
 * SKIP LOCKED, the chunk's points wallets are locked SKIP LOCKED (the lock an event takes first,
 * so no event of theirs runs meanwhile), their events are read in one statement, the core tallies
 * them, their tallies are replaced in two statements and their events' contributions in one. The
 * cursor moves in the same transaction: a crash loses at most the chunk in flight, and the next run
 * goes on from it. Unlocks history earned and the member does not hold are recorded (no reward is paid and
 * nothing is told: the event that would have paid it is long past); unlocks held are kept.
 */
export async function runBackfills(laurel: Laurel, progress: (done: number) => void = () => {}, chunk = BACKFILL_CHUNK): Promise<number> {
  let done = 0;
  for (;;) {
    const step = await laurel.db.transaction().execute(async (trx) => {
      const b = await claimBackfill(trx);
      if (!b) return null;
      const now = laurel.clock.now();
      const a = await loadAchievement(trx, b.tenantId, b.achievementId);
      const timeZone = (await trx.selectFrom('tenants').select('time_zone').where('tenant_id', '=', b.tenantId).executeTakeFirstOrThrow()).time_zone;
      const { done: members, more } = await lockBackfillMembers(trx, b.tenantId, b.programId, b.cursor, chunk);
      const unlocks = a && members.length > 0 ? await recompute(trx, now, b.tenantId, a, timeZone, members) : 0;
      await advanceBackfill(trx, b.tenantId, b.backfillId, { cursor: members.at(-1) ?? b.cursor, members: members.length, unlocks, done: !more, now });
      return { members: members.length, more };
    });
    if (step === null) return done;
    done += step.members;
    if (step.members > 0) progress(done);
    // The next member is in an event right now: the next run goes on from here.
    if (step.members === 0 && step.more) return done;
  }
}

async function recompute(trx: Trx, now: Date, tenantId: string, a: Achievement, timeZone: string, members: readonly string[]): Promise<number> {
  const history = await historyOf(trx, tenantId, members);
  const tallies: { memberId: string; period: number; key: string; value: bigint }[] = [];
  const contributions: { eventId: string; memberId: string; purchaseEventId: string; period: number; key: string; value: bigint }[] = [];
  const held = await trx.selectFrom('achievement_unlocks').select(['member_id', 'period', 'cycle'])
    .where('tenant_id', '=', tenantId).where('achievement_id', '=', a.achievementId).where('member_id', 'in', [...members]).where('revoked_at', 'is', null).execute();
  const found: Unlock[] = [];
  for (const memberId of members) {
    const events = history.filter((h) => h.memberId === memberId);
    const totals = new Map(events.filter((e) => e.total !== null).map((e) => [e.eventId, e.total!]));
    const steps = events.flatMap((e): (HistoryEvent & { eventId: string })[] => {
      if (e.purchaseEventId !== null) return [{ kind: 'return' as const, purchaseEventId: e.purchaseEventId, refundAmount: e.refundAmount ?? 0n, lines: e.lines, eventId: e.eventId }];
      if (e.facts === null) return [];
      return [{ kind: e.type === 'purchase' ? 'purchase' as const : 'action' as const, eventId: e.eventId, lines: e.lines ?? [],
        event: { type: e.type, occurredAt: e.occurredAt, money: e.total ?? 0n, facts: e.facts } }];
    });
    const result = tallyHistory(a, steps, timeZone, totals, (eventId, purchaseEventId, t) => contributions.push({ eventId, memberId, purchaseEventId, ...t }));
    const mine = [...result.values()].filter((t) => t.value !== 0n);
    tallies.push(...mine.map((t) => ({ memberId, ...t })));
    const holds = held.filter((h) => h.member_id === memberId);
    const earned = earnedFromHistory(a, mine, holds.map((h) => h.period));
    for (const e of earned) {
      if (!(a.kind === 'streak' && a.repeatable) && holds.some((h) => (a.kind === 'streak' || !a.repeatable || h.period === e.period) && h.cycle === e.cycle)) continue;
      found.push({ unlockId: uuidv7(now.getTime()), achievementId: a.achievementId, version: a.version, memberId, period: e.period, cycle: e.cycle,
        threshold: null, eventId: null, unlockedAt: now, points: null, entryId: null, instanceId: null, revokedAt: null });
    }
  }
  await replaceTallies(trx, tenantId, a.achievementId, members, tallies);
  await replaceContributions(trx, tenantId, a.achievementId, history.map((h) => h.eventId), contributions);
  await insertUnlocks(trx, tenantId, a.programId, found);
  return found.length;
}

/** The unlocks a member's recomputed tallies reach (a repeatable streak: the runs beside those held). */
function earnedFromHistory(a: Achievement, tallies: readonly Tally[], held: readonly number[]): { period: number; cycle: number }[] {
  if (a.kind === 'streak') {
    const active = [...activePeriods(tallies)].sort((x, y) => x - y);
    if (a.repeatable) return active.length === 0 ? [] : newStreakRuns(new Set(active), held, Number(a.target), active[0]!, active.at(-1)!).map((period) => ({ period, cycle: 1 }));
    const set = new Set(active);
    for (const p of active) if (runThrough(set, p).length >= Number(a.target)) return [{ period: runThrough(set, p).start, cycle: 1 }];
    return [];
  }
  const periods = [...new Set(tallies.map((t) => t.period))];
  if (!a.repeatable) return periods.some((p) => cyclesEarned(a, metricOf(a, tallies.filter((t) => t.period === p))) > 0) ? [{ period: periods[0]!, cycle: 1 }] : [];
  return periods.flatMap((p) => Array.from({ length: cyclesEarned(a, metricOf(a, tallies.filter((t) => t.period === p))) }, (_, i) => ({ period: p, cycle: i + 1 })));
}

export { periodIndex };
