// What a membership's benefits do beyond the rules: the tier a member holds while a plan gives
// one, and which paid periods have had their included rewards. Both pure: the member's stored
// tier stays the one their own activity qualifies for (the tier rules keep judging it), and the
// tier everyone reads is derived from it and the memberships entitled at the time, so nothing
// has to be undone when a membership ends.
import { rankOf, type TierLadder } from '../tiers/ladder.js';
import type { TierMode } from './lifecycle.js';

/** A plan's tier benefit, from a membership entitled at the time. */
export interface TierBenefit {
  plan: string;
  tier: string;
  mode: TierMode;
  /** when the membership started: the newest override wins */
  since: Date;
}

export interface EffectiveTier {
  /** the tier the member holds: rules, rewards and the tier API read this one */
  tier: string | null;
  /** the membership that holds it there; null: the member's own qualification */
  heldBy: TierBenefit | null;
}

/**
 * The tier a member holds given the one they qualify for and their entitled memberships' tier
 * benefits. An override gives exactly its tier (the newest override when there are several); a
 * floor lifts the member to its tier when they qualify for less (the highest floor counts). A
 * benefit naming a tier the ladder no longer has gives nothing. Without a ladder tiers have no
 * order: a floor then only gives a tier to a member without one.
 */
export function effectiveTier(ladder: TierLadder | null, qualified: string | null, benefits: readonly TierBenefit[]): EffectiveTier {
  const known = ladder === null ? benefits : benefits.filter((b) => ladder.tiers.some((t) => t.code === b.tier));
  const override = [...known].filter((b) => b.mode === 'override').sort((a, b) => b.since.getTime() - a.since.getTime())[0];
  if (override) return { tier: override.tier, heldBy: override.tier === qualified ? null : override };
  const floors = known.filter((b) => b.mode === 'floor');
  if (floors.length === 0) return { tier: qualified, heldBy: null };
  if (ladder === null) return qualified === null ? { tier: floors[0]!.tier, heldBy: floors[0]! } : { tier: qualified, heldBy: null };
  const rank = (code: string) => rankOf(ladder, code);
  const own = qualified !== null && ladder.tiers.some((t) => t.code === qualified) ? rank(qualified) : 0;
  const best = floors.reduce((a, b) => (rank(b.tier) > rank(a.tier) ? b : a));
  return rank(best.tier) > own ? { tier: best.tier, heldBy: best } : { tier: qualified, heldBy: null };
}

/** A paid period whose included rewards were issued. */
export interface IssuedPeriod {
  start: Date;
  /** null: for life */
  end: Date | null;
}

/**
 * Providers stamp the same period a few seconds apart (a checkout's time, then the invoice's
 * period), so a period counts as covered when an issued one overlaps it by more than a day.
 */
const SLACK_MS = 86_400_000;

/** Whether the included rewards of the period starting at `start` were issued already. */
export function periodCovered(issued: readonly IssuedPeriod[], start: Date): boolean {
  const t = start.getTime();
  return issued.some((p) => p.start.getTime() - SLACK_MS <= t && (p.end === null || t < p.end.getTime() - SLACK_MS));
}
