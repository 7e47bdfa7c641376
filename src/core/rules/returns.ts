// The points a return takes back. The order as it stands after the return is evaluated again
// with the rule versions, facts and campaigns of the purchase, without limits: each rule keeps
// the lesser of what it awarded and what it would award now. A rule whose condition no longer
// holds (a minimum-spend bonus) keeps nothing; an order fully returned or fully refunded keeps
// nothing at all.
// Everything is cumulative from the purchase, so rounding cannot drift over many returns.
import type { Basket } from './basket.js';
import type { Facts } from './conditions.js';
import { evaluate, type Award, type EvaluatedEvent, type LoadedRule } from './evaluate.js';
import { withBasket } from './facts.js';
import type { Campaign } from './rule.js';

export interface RecordedAward {
  ruleId: string;
  wallet: string | null;
  points: bigint;
}

export interface ReturnInput {
  /** what the purchase awarded, rule by rule, after its limits */
  awarded: readonly RecordedAward[];
  /** every rule that fired for the purchase (those trimmed to 0 by limits too), at the versions it used: multipliers build on them */
  rules: readonly LoadedRule[];
  campaigns: ReadonlyMap<string, Campaign>;
  /** the purchase's facts as they were */
  facts: Facts;
  event: EvaluatedEvent;
  /** the order after this return */
  remaining: Basket;
  /** per rule, what earlier returns already took back */
  takenBack: ReadonlyMap<string, bigint>;
}

/** Per rule, what this return takes back (> 0 only). */
export function pointsToTakeBack(input: ReturnInput): RecordedAward[] {
  // Nothing is kept once every unit is back, or once all the money paid is refunded (an order
  // paid only with points keeps its bonuses while some of it is kept).
  const nothingLeft = input.remaining.lines.length === 0 || (input.facts.order.total > 0n && input.remaining.paid === 0n);
  const now = nothingLeft ? [] : evaluate({
    rules: input.rules, campaigns: input.campaigns, basket: input.remaining, facts: withBasket(input.facts, input.remaining), event: input.event,
  });
  const wouldAward = new Map<string, bigint>(now.map((a: Award) => [a.ruleId, a.points]));
  const back: RecordedAward[] = [];
  for (const a of input.awarded) {
    const would = wouldAward.get(a.ruleId) ?? 0n;
    const keep = would < a.points ? would : a.points;
    const take = a.points - keep - (input.takenBack.get(a.ruleId) ?? 0n);
    if (take > 0n) back.push({ ruleId: a.ruleId, wallet: a.wallet, points: take });
  }
  return back;
}
