// A dry run replays a rule, or a draft of it, on past events as if it had been in place, its
// per-member caps and budgets included (its own and its campaign's). What the rule really gave on
// the replayed events and their returns is taken out of the usage as it stands; what the replay
// gives is put in, event by event in the order they occurred. Pure: the service reads the usage,
// the budgets and the recorded awards; nothing is written.
import { periodBounds, type Award, type LimitState, type Scope, type Usage } from './evaluate.js';
import type { Campaign, Period, Rule } from './rule.js';

/** An award as recorded (rule_awards), of any rule, on a replayed event or one of its returns. */
export interface RecordedAward {
  eventId: string;
  memberId: string;
  /** the purchase's time, for a return's award too: caps count it in the purchase's period */
  occurredAt: Date;
  ruleId: string;
  campaignId: string | null;
  points: bigint;
  /** a return's award: the purchase it belongs to */
  purchaseEventId?: string | null;
}

export interface ReplayInput {
  /** the rule as replayed (a draft keeps the rule's id) */
  rule: Rule;
  /** the campaign the replayed rule belongs to, if any */
  campaign: Campaign | null;
  timeZone: string;
  /** every award on the replayed events and on their returns */
  recorded: readonly RecordedAward[];
  /** the replayed events' ids (their returns' awards are in `recorded` under other ids) */
  replayed: ReadonlySet<string>;
  /** what each budget scope has used, as it stands */
  budgetUsed: ReadonlyMap<Scope, bigint>;
}

interface Given {
  memberId: string;
  occurredAt: Date;
  points: bigint;
}

const within = (at: Date, b: { start: Date | null; end: Date | null }) => (!b.start || at >= b.start) && (!b.end || at < b.end);

export interface Replay {
  /** the limits one replayed event sees, given the member's usage as it stands (memberUsage) */
  limitsFor(memberId: string, at: Date, standing: (scope: Scope, period: Period) => Usage): LimitState;
  /** counts what the replay gave an event, for the events after it */
  record(memberId: string, at: Date, award: Award): void;
}

export function replayLimits(input: ReplayInput): Replay {
  const { rule, campaign, timeZone, recorded } = input;
  const ruleScope: Scope = `rule:${rule.ruleId}`;
  const campaignScope: Scope | null = campaign ? `campaign:${campaign.campaignId}` : null;
  // The rule's own part of a scope's usage: what the replay stands in for.
  const replaced = (scope: Scope, a: RecordedAward) =>
    a.ruleId === rule.ruleId && (scope === ruleScope || (scope === campaignScope && a.campaignId === campaign!.campaignId));
  const given: Given[] = [];

  const budgetSize = (scope: Scope): bigint | null => (scope === ruleScope ? rule.limits.budget : scope === campaignScope ? campaign!.budget : null);
  const budgetLeft = (scope: Scope): bigint | null => {
    const size = budgetSize(scope);
    if (size === null) return null;
    let used = input.budgetUsed.get(scope) ?? 0n;
    for (const a of recorded) if (replaced(scope, a)) used -= a.points;
    // A budget added by the draft, or after some of these awards, never counted them: used stays at least 0.
    if (used < 0n) used = 0n;
    for (const g of given) used += g.points;
    return size - used;
  };

  const usage = (memberId: string, at: Date, standing: (scope: Scope, period: Period) => Usage) => (scope: Scope, period: Period): Usage => {
    const bounds = periodBounds(period, at, timeZone);
    const now = standing(scope, period);
    let points = now.points;
    let times = now.times;
    // Per purchase, what the member keeps from the scope, and the rule's part of it: a purchase
    // counts towards `times` while it keeps something (memberUsage), so it stops counting when
    // what it keeps came from this rule alone.
    const kept = new Map<string, { all: bigint; rule: bigint }>();
    for (const a of recorded) {
      if (a.memberId !== memberId || !within(a.occurredAt, bounds)) continue;
      const inScope = scope === ruleScope ? a.ruleId === rule.ruleId : a.campaignId === campaign?.campaignId;
      if (!inScope) continue;
      const key = a.purchaseEventId ?? a.eventId;
      const k = kept.get(key) ?? { all: 0n, rule: 0n };
      k.all += a.points;
      if (replaced(scope, a)) {
        k.rule += a.points;
        points -= a.points;
      }
      kept.set(key, k);
    }
    for (const [key, k] of kept) if (input.replayed.has(key) && k.all > 0n && k.all - k.rule <= 0n) times -= 1;
    for (const g of given) {
      if (g.memberId !== memberId || !within(g.occurredAt, bounds)) continue;
      points += g.points;
      if (g.points > 0n) times += 1;
    }
    return { points: points < 0n ? 0n : points, times: times < 0 ? 0 : times };
  };

  return {
    limitsFor: (memberId, at, standing) => ({ usage: usage(memberId, at, standing), budgetLeft }),
    record: (memberId, at, award) => { given.push({ memberId, occurredAt: at, points: award.points }); },
  };
}
