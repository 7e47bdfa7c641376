// Tiers wired to the database (SPEC §5): the ladder of a program, upgrades inside the transaction
// of the event that crossed a threshold, the review job that keeps or lowers tiers, progress, and
// history. Every decision is the core's (core/tiers); this module reads what it needs and writes
// what it decides.
import { invalid, notFound } from '../core/errors.js';
import { DEFAULT_WALLET } from '../core/program.js';
import { rankOf, tierAt, validateLadder, ladderToJson, type Tier, type TierLadder } from '../core/tiers/ladder.js';
import { progressOf, tierSecuredUntil, type Progress } from '../core/tiers/progress.js';
import { decideOnActivity, decideReview, tierFor, type Upgrade } from '../core/tiers/review.js';
import { nextReviewAt, reviewCalendar, windowAt } from '../core/tiers/windows.js';
import { effectiveTier, type TierBenefit } from '../core/memberships/benefits.js';
import { activityTotals } from '../db/activity.js';
import { entitledTierBenefits } from '../db/memberships.js';
import type { Trx } from '../db/ledger.js';
import {
  claimDueReviews, insertTierHistory, queueTierChanges, leaveLadder, loadLadderRow, lockMemberTier, metricsIn, placeOnLadder, programsDueForReview,
  readMemberTier, saveLadderRow, tierHistory, writeTiers, type TierHistoryRow, type TierState, type TierUpdate,
} from '../db/tiers.js';
import type { Db } from '../db/schema.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { membersInHoldout } from './analytics.js';
import { earnWithin, lockMemberWallet, type LedgerResult } from './ledger.js';
import { getProgram } from './tenants.js';
import { requireId } from './validate.js';

const parsed = new Map<string, TierLadder>();
const MAX_CACHED = 1000;

/** A stored ladder, validated once per process (it was validated on save; reading it again is cheap insurance). */
export function ladderOf(definition: unknown): TierLadder | null {
  if (definition === null || definition === undefined) return null;
  const key = JSON.stringify(definition);
  let ladder = parsed.get(key);
  if (!ladder) {
    ladder = validateLadder(definition);
    if (parsed.size >= MAX_CACHED) parsed.clear();
    parsed.set(key, ladder);
  }
  return ladder;
}

const onLadder = (ladder: TierLadder, tier: string | null): tier is string => tier !== null && ladder.tiers.some((t) => t.code === tier);

/** The earn multiplier the ladder gives a tier, for rule facts; null without a ladder or a multiplier. */
export function tierMultiplierOf(ladder: TierLadder | null, tier: string | null): string | null {
  return ladder?.tiers.find((t) => t.code === tier)?.benefits.earnMultiplier ?? null;
}

/**
 * History rows and, for those that moved a member, their tier.changed messages: one statement
 * each. The history tells the tier members hold: a move of the tier they qualify for that a
 * membership's tier hides (a review lowering a member a floor keeps up) is recorded as kept.
 */
async function recordTierChanges(trx: Trx, tenantId: string, programId: string, ladder: TierLadder, rows: readonly TierHistoryRow[], at: Date): Promise<void> {
  const shown = await heldMoves(trx, tenantId, ladder, rows, at);
  await insertTierHistory(trx, tenantId, shown, at);
  await queueTierChanges(trx, tenantId, programId, shown, at);
}

async function heldMoves(trx: Trx, tenantId: string, ladder: TierLadder, rows: readonly TierHistoryRow[], at: Date): Promise<TierHistoryRow[]> {
  const moved = rows.filter((r) => r.from_tier !== null && r.from_tier !== r.to_tier).map((r) => r.member_id);
  if (moved.length === 0) return [...rows];
  const benefits = await entitledTierBenefits(trx, tenantId, moved, at);
  if (benefits.size === 0) return [...rows];
  return rows.map((r) => {
    const held = benefits.get(r.member_id);
    if (!held || r.from_tier === null) return r;
    const from = effectiveTier(ladder, r.from_tier, held);
    const to = effectiveTier(ladder, r.to_tier, held);
    if (from.tier === to.tier) {
      return { ...r, from_tier: from.tier, to_tier: to.tier!, change: 'kept', reason: `${r.reason}, to ${r.to_tier}; membership ${to.heldBy?.plan ?? from.heldBy?.plan} holds ${to.tier} while active` };
    }
    return { ...r, from_tier: from.tier, to_tier: to.tier! };
  });
}

/** A member's tier moved by a membership starting or ending to entitle. */
export interface MembershipTierMove {
  programId: string;
  memberId: string;
  /** the tier benefits entitling before and after */
  before: TierBenefit[];
  after: TierBenefit[];
  cause: string;
}

/**
 * Records the tier moves memberships made (history rows with the membership as their reason and
 * tier.changed messages, as every tier change sends), in one statement each: the tier a member
 * holds is derived (core/memberships/benefits.ts), so only its record is written.
 */
export async function recordMembershipTierMoves(trx: Trx, tenantId: string, moves: readonly MembershipTierMove[], at: Date): Promise<void> {
  if (moves.length === 0) return;
  const byProgram = new Map<string, MembershipTierMove[]>();
  for (const m of moves) byProgram.set(m.programId, [...(byProgram.get(m.programId) ?? []), m]);
  const qualified = new Map((await trx.selectFrom('members').select(['member_id', 'tier']).where('tenant_id', '=', tenantId)
    .where('member_id', 'in', moves.map((m) => m.memberId)).execute()).map((r) => [r.member_id, r.tier]));
  for (const [programId, list] of byProgram) {
    const row = await loadLadderRow(trx, tenantId, programId);
    const ladder = row ? ladderOf(row.definition) : null;
    const history: TierHistoryRow[] = [];
    for (const m of list) {
      const own = qualified.get(m.memberId) ?? null;
      const from = effectiveTier(ladder, own, m.before);
      const to = effectiveTier(ladder, own, m.after);
      if (from.tier === to.tier || to.tier === null) continue;
      const change = ladder === null || from.tier === null ? 'set' : rankOf(ladder, to.tier) > rankOf(ladder, from.tier) ? 'up' : 'down';
      const reason = to.heldBy
        ? `membership ${to.heldBy.plan}: ${to.heldBy.tier} while active (${to.heldBy.mode}; ${m.cause})`
        : `membership ${from.heldBy?.plan ?? ''} no longer entitles: back to the tier qualified for (${m.cause})`;
      history.push({ member_id: m.memberId, from_tier: from.tier, to_tier: to.tier, change, reason, event_id: null });
    }
    await insertTierHistory(trx, tenantId, history, at);
    await queueTierChanges(trx, tenantId, programId, history, at);
  }
}

export interface SavedLadder {
  programId: string;
  ladder: TierLadder;
  updatedAt: Date;
}

export async function getLadder(laurel: Laurel, tenantId: string, programId: string): Promise<SavedLadder> {
  const id = requireId(programId, 'programId', 'program');
  const row = await loadLadderRow(laurel.db, tenantId, id);
  if (!row) {
    await getProgram(laurel, tenantId, id);
    throw notFound('tier ladder', 'programId');
  }
  return { programId: id, ladder: ladderOf(row.definition)!, updatedAt: row.updated_at };
}

/**
 * Sets (or replaces) a program's ladder. Members keep a tier the new ladder still has, with its
 * review date; the others are placed on its first tier and measured by the next review run, which
 * lifts them to the tier their metric reaches (no upgrade bonus: a placement is not an upgrade).
 */
export async function putLadder(laurel: Laurel, tenantId: string, programId: string, input: unknown,
  options: { actor: string; idempotencyKey?: string }): Promise<SavedLadder & { placed: number }> {
  const id = requireId(programId, 'programId', 'program');
  const ladder = validateLadder(input);
  await getProgram(laurel, tenantId, id);
  const definition = JSON.stringify(ladderToJson(ladder));
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'put_tier_ladder', { id, definition }, async (trx, now) => {
    await saveLadderRow(trx, tenantId, id, definition, options.actor, now);
    const placed = await placeOnLadder(trx, tenantId, id, ladder.tiers.map((t) => t.code), now);
    return { programId: id, ladder, updatedAt: now, placed };
  });
}

export async function deleteLadder(laurel: Laurel, tenantId: string, programId: string): Promise<SavedLadder> {
  const saved = await getLadder(laurel, tenantId, programId);
  await laurel.db.transaction().execute((trx) => leaveLadder(trx, tenantId, saved.programId, laurel.clock.now()));
  return saved;
}

async function ladderAndZone(db: Db, tenantId: string, programId: string): Promise<{ ladder: TierLadder; timeZone: string } | null> {
  const row = await loadLadderRow(db, tenantId, programId);
  return row ? { ladder: ladderOf(row.definition)!, timeZone: await tenantZone(db, tenantId) } : null;
}

/**
 * A new member of a program with a ladder starts on its first tier (or the one an admin gives),
 * reviewed on the ladder's schedule. Answers the tier to store; without a ladder, the one given.
 */
export async function placeNewMember(trx: Trx, tenantId: string, programId: string, memberId: string, now: Date, given: string | null): Promise<string | null> {
  const found = await ladderAndZone(trx, tenantId, programId);
  if (!found) return given;
  const { ladder, timeZone } = found;
  const tier = given ?? tierAt(ladder, 0).code;
  rankOf(ladder, tier);
  await writeTiers(trx, tenantId, [{ memberId, tier, since: now, graceUntil: null, reviewAt: nextReviewAt(ladder, now, now, now, timeZone) }], now);
  await recordTierChanges(trx, tenantId, programId, ladder, [{
    member_id: memberId, from_tier: null, to_tier: tier, change: given === null ? 'placed' : 'set', reason: given === null ? 'enrolled' : 'enrolled by an admin on this tier', event_id: null,
  }], now);
  return tier;
}

/**
 * An admin sets a member's tier. With a ladder it must be one of its tiers, counts as reached now
 * (the review schedule starts again from today) and is written to the history. Answers whether
 * the ladder took care of it; without one the tier is a plain label the caller stores.
 */
export async function setTierByAdmin(trx: Trx, tenantId: string, programId: string, memberId: string, tier: string | null, now: Date): Promise<boolean> {
  const found = await ladderAndZone(trx, tenantId, programId);
  if (!found) return false;
  const { ladder, timeZone } = found;
  if (tier === null) throw invalid('tier', 'a member of a program with a tier ladder always has a tier');
  rankOf(ladder, tier);
  const state = (await lockMemberTier(trx, tenantId, memberId))!;
  if (state.tier === tier) return true;
  await writeTiers(trx, tenantId, [{ memberId, tier, since: now, graceUntil: null, reviewAt: nextReviewAt(ladder, state.enrolledAt, now, now, timeZone) }], now);
  await recordTierChanges(trx, tenantId, programId, ladder, [{ member_id: memberId, from_tier: state.tier, to_tier: tier, change: 'set', reason: 'set by an admin', event_id: null }], now);
  return true;
}

/** What an event measures in the ladder's metric: its qualifying points, the money it paid, or 1 visit for a purchase. */
export interface Contribution {
  qualifyingPoints: bigint;
  spend: bigint;
  visits: bigint;
}

const metricOf = (ladder: TierLadder, c: Contribution): bigint =>
  ladder.metric === 'points' ? c.qualifyingPoints : ladder.metric === 'spend' ? c.spend : c.visits;

export interface Climb<E> {
  /** the earning to write: at the new tier's rate when the ladder says the crossing event earns at it */
  earning: E;
  /** from the member's tier to the highest one reached; null: no upgrade */
  upgrade: Upgrade | null;
}

/**
 * Inside an event's transaction, after the member's wallet and row are locked: whether the event
 * lifts the member. The metric is the window holding the event, with the event's own contribution.
 * With upgradeRate crossing_event the event is evaluated again at the tier it reaches, and again if
 * that lifts the member further (earn multipliers are at least 1, so the metric only grows).
 */
export async function climbOnActivity<E>(trx: Trx, tenantId: string, input: {
  ladder: TierLadder; state: TierState; timeZone: string; occurredAt: Date;
  earning: E; contribution: (earning: E) => Contribution; evaluateAt: (tier: string) => Promise<E>;
}): Promise<Climb<E>> {
  const { ladder, state } = input;
  let earning = input.earning;
  if (!onLadder(ladder, state.tier)) return { earning, upgrade: null };
  const period = windowAt(ladder.window, input.occurredAt, input.timeZone);
  const before = await activityTotals(trx, tenantId, state.memberId, period);
  const measured = (e: E) => metricOf(ladder, before) + metricOf(ladder, input.contribution(e));
  if (ladder.upgradeRate === 'crossing_event') {
    for (let up = decideOnActivity(ladder, state.tier, measured(earning)); up; up = decideOnActivity(ladder, up.tier, measured(earning))) {
      earning = await input.evaluateAt(up.tier);
    }
  }
  // From the member's tier to the one the event's final metric reaches, with every bonus on the way.
  return { earning, upgrade: decideOnActivity(ladder, state.tier, measured(earning)) };
}

export interface TierChange {
  from: string;
  to: string;
  reason: string;
  /** points given for the tiers climbed, into the points wallet */
  bonus: bigint;
  bonusEntryId: string | null;
}

/** Writes an upgrade: the member's tier (reached now, reviewed from now), its history row and its bonus. */
export async function applyUpgrade(trx: Trx, now: Date, input: {
  tenantId: string; programId: string; ladder: TierLadder; state: TierState; upgrade: Upgrade; timeZone: string; eventId: string | null;
  idempotencyKey: string; actor: string;
}): Promise<{ change: TierChange; bonusResult: LedgerResult | null }> {
  const { tenantId, ladder, state, upgrade } = input;
  await writeTiers(trx, tenantId, [{
    memberId: state.memberId, tier: upgrade.tier, since: now, graceUntil: null,
    reviewAt: nextReviewAt(ladder, state.enrolledAt, now, now, input.timeZone),
  }], now);
  await recordTierChanges(trx, tenantId, input.programId, ladder, [{
    member_id: state.memberId, from_tier: upgrade.from, to_tier: upgrade.tier, change: 'up', reason: upgrade.reason, event_id: input.eventId,
  }], now);
  const bonusResult = upgrade.bonus > 0n ? await giveBonus(trx, now, tenantId, state.memberId, upgrade, input.idempotencyKey, input.actor) : null;
  return {
    change: { from: upgrade.from, to: upgrade.tier, reason: upgrade.reason, bonus: upgrade.bonus, bonusEntryId: bonusResult?.entries[0]!.entryId ?? null },
    bonusResult,
  };
}

/** The upgrade bonus into the points wallet, which the caller's transaction has locked (this reads it again, as it is now). */
async function giveBonus(trx: Trx, now: Date, tenantId: string, memberId: string, upgrade: Upgrade, idempotencyKey: string, actor: string): Promise<LedgerResult> {
  const wallet = await lockMemberWallet(trx, tenantId, memberId, DEFAULT_WALLET, now);
  return earnWithin(trx, now, wallet, { tenantId, idempotencyKey, actor, amount: upgrade.bonus, ref: `tier:${upgrade.tier}` });
}

export interface ReviewStats {
  programs: number;
  members: number;
  placed: number;
  up: number;
  down: number;
  graceStarted: number;
}

const REVIEW_CHUNK = 5000;

/**
 * The review job: every member whose review date has come, program by program, in chunks that
 * are each one transaction. A chunk reads the members' metrics in one statement, lets the core
 * decide, and writes tiers and history in one statement each; only upgrades with a bonus (after a
 * ladder's thresholds were lowered) write to the ledger member by member. A member's review date
 * moves on in the chunk that reviews them, so a second worker, or the next run after a crash,
 * finds nothing left to do for them.
 */
export async function reviewTiers(laurel: Laurel, now: Date, progress: (reviewed: number) => void = () => {}, chunk = REVIEW_CHUNK): Promise<ReviewStats> {
  const stats: ReviewStats = { programs: 0, members: 0, placed: 0, up: 0, down: 0, graceStarted: 0 };
  for (const program of await programsDueForReview(laurel.db, now)) {
    const ladder = ladderOf(program.definition)!;
    stats.programs += 1;
    let after: { at: Date; memberId: string } | null = null;
    do {
      after = await laurel.db.transaction().execute(async (trx) => {
        const claimed = await claimDueReviews(trx, program.tenant_id, program.program_id, now, after, chunk);
        await reviewChunk(trx, program.tenant_id, program.program_id, ladder, program.time_zone, claimed.members, now, stats);
        return claimed.next;
      });
      progress(stats.members);
    } while (after !== null);
  }
  return stats;
}

async function reviewChunk(trx: Trx, tenantId: string, programId: string, ladder: TierLadder, timeZone: string, members: readonly TierState[], now: Date, stats: ReviewStats): Promise<void> {
  // A member placed on a ladder is measured in the current window; the others in the window their review judges.
  const placing = (m: TierState) => m.since === null || !onLadder(ladder, m.tier);
  const calendar = reviewCalendar(ladder, timeZone);
  const current = windowAt(ladder.window, now, timeZone);
  const metrics = await metricsIn(trx, tenantId, ladder.metric, members.map((m) => ({
    memberId: m.memberId, ...(placing(m) ? current : calendar.window(m.reviewAt!)),
  })));
  const updates: TierUpdate[] = [];
  const history: TierHistoryRow[] = [];
  const bonuses: { member: TierState; upgrade: Upgrade; at: Date }[] = [];
  // Tiers are a benefit of the program: its holdout (control group) is placed on the first tier and never moved.
  const heldOut = await membersInHoldout(trx, tenantId, programId, members.map((m) => m.memberId));
  for (const m of members) {
    const metric = heldOut.has(m.memberId) ? 0n : metrics.get(m.memberId) ?? 0n;
    if (heldOut.has(m.memberId) && !placing(m)) {
      updates.push({ memberId: m.memberId, tier: m.tier!, since: m.since!, graceUntil: m.graceUntil, reviewAt: calendar.next(m.enrolledAt, m.since!, m.reviewAt!, null) });
      continue;
    }
    if (placing(m)) {
      const tier: Tier = tierFor(ladder, metric);
      updates.push({ memberId: m.memberId, tier: tier.code, since: now, graceUntil: null, reviewAt: calendar.next(m.enrolledAt, now, now) });
      history.push({ member_id: m.memberId, from_tier: m.tier, to_tier: tier.code, change: 'placed', reason: `placed: metric ${metric} (${tier.code})`, event_id: null });
      stats.placed += 1;
      continue;
    }
    const at = m.reviewAt!;
    const d = decideReview(ladder, { current: m.tier!, metricInWindow: metric, graceUntil: m.graceUntil, now: at, timeZone });
    const since = d.change === 'kept' ? m.since! : at;
    updates.push({ memberId: m.memberId, tier: d.tier, since, graceUntil: d.graceUntil, reviewAt: calendar.next(m.enrolledAt, since, at, d.graceUntil) });
    if (d.change === 'up') {
      stats.up += 1;
      history.push({ member_id: m.memberId, from_tier: m.tier, to_tier: d.tier, change: 'up', reason: d.reason, event_id: null });
      if (d.bonus > 0n) bonuses.push({ member: m, upgrade: { from: m.tier!, tier: d.tier, reason: d.reason, bonus: d.bonus }, at });
    } else if (d.change === 'down') {
      stats.down += 1;
      history.push({ member_id: m.memberId, from_tier: m.tier, to_tier: d.tier, change: 'down', reason: d.reason, event_id: null });
    } else if (d.graceUntil !== null && m.graceUntil === null) {
      stats.graceStarted += 1;
      history.push({ member_id: m.memberId, from_tier: m.tier, to_tier: d.tier, change: 'grace', reason: d.reason, event_id: null });
    }
  }
  stats.members += members.length;
  await writeTiers(trx, tenantId, updates, now);
  await recordTierChanges(trx, tenantId, programId, ladder, history, now);
  for (const { member, upgrade, at } of bonuses) {
    await giveBonus(trx, now, tenantId, member.memberId, upgrade, `tier-review:${member.memberId}:${at.toISOString()}`, 'system:tier-review');
  }
}

export interface MemberTier {
  memberId: string;
  /** the tier the member holds: the one they qualify for, or a membership's while it entitles them */
  tier: Tier;
  /** the tier their own activity qualifies them for, which the reviews judge and progress measures */
  qualifiedTier: Tier;
  /** the membership whose plan holds the tier; null: their own qualification */
  heldBy: TierBenefit | null;
  progress: Progress;
  /** the next review: where the tier is kept or lowered */
  reviewAt: Date | null;
  graceUntil: Date | null;
  since: Date | null;
}

/** A member's tier, its benefits and their progress in the current window. */
export async function memberTier(laurel: Laurel, tenantId: string, memberId: string): Promise<MemberTier> {
  const id = requireId(memberId, 'memberId', 'member');
  const state = await readMemberTier(laurel.db, tenantId, id);
  if (!state) throw notFound('member', 'memberId');
  const { ladder } = await getLadder(laurel, tenantId, state.programId);
  const timeZone = await tenantZone(laurel.db, tenantId);
  const now = laurel.clock.now();
  const current = onLadder(ladder, state.tier) ? state.tier : tierAt(ladder, 0).code;
  const window = windowAt(ladder.window, now, timeZone);
  const totals = await activityTotals(laurel.db, tenantId, id, window);
  const reviewAt = state.reviewAt;
  const securedUntil = reviewAt === null ? null : tierSecuredUntil(ladder, { current, nextReview: reviewAt, graceUntil: state.graceUntil, timeZone });
  const held = effectiveTier(ladder, current, (await entitledTierBenefits(laurel.db, tenantId, [id], now)).get(id) ?? []);
  return {
    memberId: id,
    tier: tierAt(ladder, rankOf(ladder, held.tier ?? current)),
    qualifiedTier: tierAt(ladder, rankOf(ladder, current)),
    heldBy: held.heldBy,
    progress: progressOf(ladder, { current, metricInWindow: metricOf(ladder, totals), window, securedUntil }),
    reviewAt, graceUntil: state.graceUntil, since: state.since,
  };
}

async function tenantZone(db: Db, tenantId: string): Promise<string> {
  const row = await db.selectFrom('tenants').select('time_zone').where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return row.time_zone;
}

export async function listTierHistory(laurel: Laurel, tenantId: string, memberId: string, before: string | null, limit: number) {
  const id = requireId(memberId, 'memberId', 'member');
  if (!(await readMemberTier(laurel.db, tenantId, id))) throw notFound('member', 'memberId');
  if (before !== null && !/^[0-9a-f-]{36}$/.test(before)) throw invalid('before', 'before must be a history id');
  const rows = await tierHistory(laurel.db, tenantId, id, before, limit);
  return rows.map((r) => ({
    historyId: r.history_id, at: r.at, from: r.from_tier, to: r.to_tier, change: r.change, reason: r.reason, eventId: r.event_id,
  }));
}
