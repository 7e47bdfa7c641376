// Evaluating the rules of a program for one event: which rules apply, what each effect awards,
// and how limits (per-member caps, budgets) trim it. Pure: the service loads the rules, the facts
// and the usage so far, and writes what this returns.
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Basket } from './basket.js';
import { compileCondition, type Condition, type Facts } from './conditions.js';
import type { Campaign, MemberCap, Period, Rule } from './rule.js';
import type { DetailValue, EarningStrategy, Strategies } from './strategies.js';

/** A rule ready to run: its strategy, its parsed params and its compiled condition. */
export interface LoadedRule {
  rule: Rule;
  strategy: EarningStrategy;
  params: unknown;
  condition: Condition | null;
}

const loaded = new WeakMap<Strategies, Map<string, LoadedRule>>();

/**
 * Parses a stored rule version once per process (versions never change; a draft, version 0, is
 * parsed every time).
 */
export function loadRule(rule: Rule, strategies: Strategies): LoadedRule {
  let cache = loaded.get(strategies);
  if (!cache) loaded.set(strategies, (cache = new Map()));
  const key = `${rule.ruleId}:${rule.version}`;
  const found = rule.version > 0 ? cache.get(key) : undefined;
  if (found) return found.rule.enabled === rule.enabled ? found : { ...found, rule };
  const strategy = strategies.get(rule.effect.type);
  if (!strategy) throw new Error(`rule ${rule.ruleId} uses the effect ${rule.effect.type}, which this process does not know`);
  const { type: _, ...params } = rule.effect;
  const made = { rule, strategy, params: strategy.parse(params, 'effect.'), condition: rule.condition === null ? null : compileCondition(rule.condition) };
  if (rule.version > 0) {
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, made);
  }
  return made;
}

export interface EvaluatedEvent {
  externalId: string;
  channel: string | null;
  location: string | null;
  occurredAt: Date;
}

export type Scope = `rule:${string}` | `campaign:${string}`;

export interface Usage {
  points: bigint;
  times: number;
}

/** What limits already hold before this event; absent: evaluate without caps and budgets (a return's re-evaluation, a dry run). */
export interface LimitState {
  /** points and awards this member already received from the scope in the current `period` */
  usage(scope: Scope, period: Period): Usage;
  /** what the scope's budget has left; null when it has none */
  budgetLeft(scope: Scope): bigint | null;
}

export type LimitReason = 'rule_cap' | 'campaign_cap' | 'rule_budget' | 'campaign_budget';

export interface Award {
  ruleId: string;
  version: number;
  name: string;
  campaignId: string | null;
  effect: string;
  /** the wallet it pays into; null: the program's points wallet */
  wallet: string | null;
  /** what it awards, after limits */
  points: bigint;
  /** what the effect computed before limits */
  uncapped: bigint;
  limitedBy: LimitReason[];
  detail: Record<string, DetailValue>;
}

export interface EvaluationInput {
  rules: readonly LoadedRule[];
  campaigns: ReadonlyMap<string, Campaign>;
  basket: Basket;
  facts: Facts;
  event: EvaluatedEvent;
  limits?: LimitState;
}

const inWindow = (at: Date, from: Date | null, to: Date | null) => (!from || at >= from) && (!to || at < to);

/** Whether a rule applies to this event, its condition included. */
function applies(r: LoadedRule, input: EvaluationInput): boolean {
  const { limits } = r.rule;
  const { event, basket } = input;
  if (!inWindow(event.occurredAt, limits.validFrom, limits.validTo)) return false;
  const campaign = r.rule.campaignId === null ? null : input.campaigns.get(r.rule.campaignId);
  if (campaign === undefined) return false;
  if (campaign && !inWindow(event.occurredAt, campaign.validFrom, campaign.validTo)) return false;
  if (limits.channels && (event.channel === null || !limits.channels.includes(event.channel))) return false;
  if (limits.locations && (event.location === null || !limits.locations.includes(event.location))) return false;
  if (limits.minSpend !== null && basket.paid < limits.minSpend) return false;
  return r.condition === null || r.condition(input.facts);
}

/** Higher priority first; on a tie the older rule (ids are time-ordered). */
export const byPriority = (a: LoadedRule, b: LoadedRule): number =>
  b.rule.priority - a.rule.priority || (a.rule.ruleId < b.rule.ruleId ? -1 : a.rule.ruleId > b.rule.ruleId ? 1 : 0);

/** A number in [0, 10^9) fixed by rule and event. */
export function drawFor(ruleId: string, externalId: string): bigint {
  const digest = createHash('sha256').update(`${ruleId}\u0000${externalId}`).digest();
  return digest.readBigUInt64BE(0) % 1_000_000_000n;
}

/**
 * The awards of an event, in priority order. Rules are taken by priority; an exclusive rule that
 * applies stops every rule after it. Base effects run before bonus effects, which see the base
 * points per line. Then limits trim each award in priority order, so the highest-priority rules
 * use a shared cap or budget first.
 */
export function evaluate(input: EvaluationInput): Award[] {
  const fired: LoadedRule[] = [];
  for (const r of [...input.rules].sort(byPriority)) {
    if (!applies(r, input)) continue;
    fired.push(r);
    if (r.rule.stacking === 'exclusive') break;
  }
  const base = input.basket.lines.map(() => 0n);
  const results = new Map<LoadedRule, ReturnType<EarningStrategy['award']>>();
  for (const phase of ['base', 'bonus'] as const) {
    const frozen = [...base];
    for (const r of fired) {
      if (r.strategy.phase !== phase) continue;
      const result = r.strategy.award({
        params: r.params, basket: input.basket, facts: input.facts, base: frozen, draw: () => drawFor(r.rule.ruleId, input.event.externalId),
      });
      if (result.points < 0n) throw new Error(`effect ${r.strategy.type} awarded a negative amount`);
      if (phase === 'base' && r.strategy.wallet(r.params as never) === null) result.perLine?.forEach((p, i) => (base[i]! += p));
      results.set(r, result);
    }
  }
  const trim = input.limits ? limiter(input.limits, input.campaigns) : null;
  return fired.map((r) => {
    const result = results.get(r)!;
    const { points, limitedBy } = trim ? trim(r.rule, result.points) : { points: result.points, limitedBy: [] };
    return {
      ruleId: r.rule.ruleId, version: r.rule.version, name: r.rule.name, campaignId: r.rule.campaignId, effect: r.strategy.type,
      wallet: r.strategy.wallet(r.params as never), points, uncapped: result.points, limitedBy, detail: result.detail,
    };
  });
}

/**
 * The rules an exclusive rule kept from running on this event: every rule after it, by priority.
 * A return that drops the exclusive rule below its condition lets them earn on what is left.
 */
export function excludedRules(rules: readonly LoadedRule[], awards: readonly Award[]): LoadedRule[] {
  const last = awards[awards.length - 1];
  const sorted = [...rules].sort(byPriority);
  const at = last === undefined ? -1 : sorted.findIndex((r) => r.rule.ruleId === last.ruleId);
  return at >= 0 && sorted[at]!.rule.stacking === 'exclusive' ? sorted.slice(at + 1) : [];
}

/** Trims awards by caps and budgets, counting what earlier awards of the same event took. */
function limiter(limits: LimitState, campaigns: ReadonlyMap<string, Campaign>) {
  const taken = new Map<string, Usage>();
  const spent = new Map<Scope, bigint>();
  const usage = (scope: Scope, period: Period): Usage => {
    const before = limits.usage(scope, period);
    const now = taken.get(`${scope}|${period}`) ?? { points: 0n, times: 0 };
    return { points: before.points + now.points, times: before.times + now.times };
  };
  return (rule: Rule, uncapped: bigint): { points: bigint; limitedBy: LimitReason[] } => {
    let points = uncapped;
    const limitedBy: LimitReason[] = [];
    const campaign = rule.campaignId === null ? null : campaigns.get(rule.campaignId) ?? null;
    const scopes: [Scope, MemberCap[], LimitReason, LimitReason][] = [[`rule:${rule.ruleId}`, rule.limits.perMember, 'rule_cap', 'rule_budget']];
    if (campaign) scopes.push([`campaign:${campaign.campaignId}`, campaign.perMember, 'campaign_cap', 'campaign_budget']);
    for (const [scope, caps, capReason, budgetReason] of scopes) {
      for (const cap of caps) {
        const used = usage(scope, cap.period);
        const left = cap.times !== null && used.times >= cap.times ? 0n
          : cap.points === null ? points : cap.points - used.points;
        if (points > left) {
          points = left > 0n ? left : 0n;
          if (!limitedBy.includes(capReason)) limitedBy.push(capReason);
        }
      }
      const budget = limits.budgetLeft(scope);
      if (budget !== null) {
        const left = budget - (spent.get(scope) ?? 0n);
        if (points > left) {
          points = left > 0n ? left : 0n;
          limitedBy.push(budgetReason);
        }
      }
    }
    for (const [scope, caps] of scopes) {
      for (const cap of caps) {
        const key = `${scope}|${cap.period}`;
        const now = taken.get(key) ?? { points: 0n, times: 0 };
        taken.set(key, { points: now.points + points, times: now.times + (points > 0n ? 1 : 0) });
      }
      spent.set(scope, (spent.get(scope) ?? 0n) + points);
    }
    return { points, limitedBy };
  };
}

/** The start of the cap period holding `at`, in the tenant's zone; null for lifetime. */
export function periodStart(period: Period, at: Date, timeZone: string): Date | null {
  if (period === 'lifetime') return null;
  const local = DateTime.fromJSDate(at, { zone: timeZone });
  return local.startOf(period === 'week' ? 'week' : period).toJSDate();
}

/** The cap period holding `at`: [start, end), null bounds open (lifetime). */
export function periodBounds(period: Period, at: Date, timeZone: string): { start: Date | null; end: Date | null } {
  const start = periodStart(period, at, timeZone);
  const end = start === null ? null : DateTime.fromJSDate(start, { zone: timeZone }).plus({ [`${period}s`]: 1 }).toJSDate();
  return { start, end };
}

/** The periods whose usage an evaluation of these rules needs, per scope. */
export function capsOf(rules: readonly LoadedRule[], campaigns: ReadonlyMap<string, Campaign>): Map<Scope, MemberCap[]> {
  const caps = new Map<Scope, MemberCap[]>();
  for (const { rule } of rules) {
    if (rule.limits.perMember.length) caps.set(`rule:${rule.ruleId}`, rule.limits.perMember);
    const campaign = rule.campaignId === null ? undefined : campaigns.get(rule.campaignId);
    if (campaign?.perMember.length) caps.set(`campaign:${campaign.campaignId}`, campaign.perMember);
  }
  return caps;
}
