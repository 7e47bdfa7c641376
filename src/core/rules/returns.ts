// The points a return takes back. The order as it stands after the return is evaluated again
// with the rule versions, facts and campaigns of the purchase, without limits: each rule keeps
// the lesser of what it awarded and what it would award now. A rule whose condition no longer
// holds (a minimum-spend bonus) keeps nothing; an order fully returned or fully refunded keeps
// nothing at all.
// The rules an exclusive rule kept from running on the purchase run again too: once the
// exclusive rule no longer applies, what is left earns through them what it would have earned
// (in priority order, at most what the rules that paid give up in that wallet, so a return never
// leaves the member more than the purchase gave).
// Everything is cumulative from the purchase, so rounding cannot drift over many returns.
import type { Basket } from './basket.js';
import type { Facts } from './conditions.js';
import { byPriority, evaluate, type Award, type EvaluatedEvent, type LoadedRule } from './evaluate.js';
import { withBasket } from './facts.js';
import { DEFAULT_WALLET } from '../program.js';
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
  /** per rule, what earlier returns already took back (< 0: what they gave a rule that replaced an exclusive one) */
  takenBack: ReadonlyMap<string, bigint>;
  /** the rules an exclusive rule kept from running on the purchase (they are among `rules`) */
  excluded?: ReadonlySet<string>;
}

/** Per rule, what this return takes back (> 0), or gives a rule replacing an exclusive one (< 0). */
export function pointsToTakeBack(input: ReturnInput): RecordedAward[] {
  // Nothing is kept once every unit is back, or once all the money paid is refunded (an order
  // paid only with points keeps its bonuses while some of it is kept).
  const nothingLeft = input.remaining.lines.length === 0 || (input.facts.order.total > 0n && input.remaining.paid === 0n);
  const now = nothingLeft ? [] : evaluate({
    rules: input.rules, campaigns: input.campaigns, basket: input.remaining, facts: withBasket(input.facts, input.remaining), event: input.event,
  });
  const wouldAward = new Map<string, bigint>(now.map((a: Award) => [a.ruleId, a.points]));
  const back: RecordedAward[] = [];
  /** per wallet, what the rules that paid give up, from the purchase on: what replacements may earn */
  const freed = new Map<string, bigint>();
  for (const a of input.awarded) {
    const would = wouldAward.get(a.ruleId) ?? 0n;
    const keep = would < a.points ? would : a.points;
    const wallet = a.wallet ?? DEFAULT_WALLET;
    freed.set(wallet, (freed.get(wallet) ?? 0n) + a.points - keep);
    const take = a.points - keep - (input.takenBack.get(a.ruleId) ?? 0n);
    if (take > 0n) back.push({ ruleId: a.ruleId, wallet: a.wallet, points: take });
  }
  const paid = new Set(input.awarded.map((a) => a.ruleId));
  const replacements = input.rules.filter((r) => input.excluded?.has(r.rule.ruleId) && !paid.has(r.rule.ruleId)).sort(byPriority);
  for (const r of replacements) {
    const wallet = r.strategy.wallet(r.params as never) ?? DEFAULT_WALLET;
    const would = wouldAward.get(r.rule.ruleId) ?? 0n;
    const left = freed.get(wallet) ?? 0n;
    const keep = would < left ? would : left;
    freed.set(wallet, left - keep);
    const given = -(input.takenBack.get(r.rule.ruleId) ?? 0n);
    if (keep !== given) back.push({ ruleId: r.rule.ruleId, wallet, points: given - keep });
  }
  return back;
}
