// Whether a member may redeem a reward now, and if not, every reason why: the member view lists
// them ("Gold only", "2 left this month", "120 points missing"), and a redemption refuses with the first.
import type { Period } from '../rules/rule.js';
import type { Reward } from './reward.js';

export type LockReason = 'disabled' | 'not_started' | 'ended' | 'channel' | 'tier' | 'grade' | 'segment' | 'stock' | 'limit' | 'points';

export interface Lock {
  reason: LockReason;
  detail: string;
}

export interface EligibilityContext {
  now: Date;
  /** the channel asking; null: not said (channel-restricted rewards are then locked) */
  channel: string | null;
  member: { tier: string | null; grade: string | null };
  /** whether the reward's segment condition holds for the member (true when it has none) */
  inSegment: boolean;
  /** the tiers whose rewardAccess lists this reward; empty: no tier reserves it */
  reservedFor: readonly string[];
  /** instances it can still issue; null: unlimited */
  stockLeft: bigint | null;
  /** the member's instances of this reward (not cancelled) and points spent on it, in each capped period */
  usage: (period: Period) => { points: bigint; times: number };
  /** the member's available points */
  available: bigint;
}

export function locksOf(reward: Reward, c: EligibilityContext): Lock[] {
  const locks: Lock[] = [];
  const lock = (reason: LockReason, detail: string) => locks.push({ reason, detail });
  if (!reward.enabled) lock('disabled', 'not offered at the moment');
  if (reward.validFrom && c.now < reward.validFrom) lock('not_started', `from ${reward.validFrom.toISOString()}`);
  if (reward.validTo && c.now >= reward.validTo) lock('ended', `ended ${reward.validTo.toISOString()}`);
  if (reward.channels && (c.channel === null || !reward.channels.includes(c.channel))) lock('channel', `only ${reward.channels.join(', ')}`);
  if (reward.tiers && (c.member.tier === null || !reward.tiers.includes(c.member.tier))) lock('tier', `for ${reward.tiers.join(', ')} members`);
  if (c.reservedFor.length > 0 && (c.member.tier === null || !c.reservedFor.includes(c.member.tier))) {
    lock('tier', `reserved to ${c.reservedFor.join(', ')} members`);
  }
  if (reward.grades && (c.member.grade === null || !reward.grades.includes(c.member.grade))) lock('grade', `for grade ${reward.grades.join(', ')} members`);
  if (!c.inSegment) lock('segment', 'not offered to this member');
  if (c.stockLeft !== null && c.stockLeft <= 0n) lock('stock', 'out of stock');
  for (const cap of reward.perMember) {
    const used = c.usage(cap.period);
    const per = cap.period === 'lifetime' ? 'in all' : `this ${cap.period}`;
    if (cap.times !== null && used.times + 1 > cap.times) lock('limit', `at most ${cap.times} ${per}`);
    if (cap.points !== null && used.points + reward.cost > cap.points) lock('limit', `at most ${cap.points} points on it ${per}`);
  }
  if (c.available < reward.cost) lock('points', `${reward.cost - c.available} points missing`);
  return locks;
}

/**
 * The member view's order: what the member can redeem now, cheapest first; then what only points
 * stand between them and, closest first; then the rest, cheapest first.
 */
export function memberOrder<T extends { reward: Reward; locks: Lock[]; available: bigint }>(items: readonly T[]): T[] {
  const group = (x: T) => (x.locks.length === 0 ? 0 : x.locks.every((l) => l.reason === 'points') ? 1 : 2);
  const key = (x: T) => (group(x) === 1 ? x.reward.cost - x.available : x.reward.cost);
  return [...items].sort((a, b) => group(a) - group(b) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) || (a.reward.code < b.reward.code ? -1 : 1));
}
