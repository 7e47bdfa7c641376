// An earning rule (SPEC §4): trigger + condition + effect + limits + stacking. This module holds
// the shapes and checks every field of a rule before it is saved; an invalid rule never is.
import { invalid } from '../errors.js';
import { MAX_MONEY } from '../events/event.js';
import { isObject, names, only, text, validityWindow } from '../input.js';
import { EVENT_TYPE, integerIn } from '../events/rate.js';
import { MAX_POINTS } from '../points.js';
import { checkCondition } from './conditions.js';
import type { Strategies } from './strategies.js';

export type Period = 'day' | 'week' | 'month' | 'year' | 'lifetime';
export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'year', 'lifetime'];

/** At most `points` points and/or `times` awards per member in each period (in the tenant's zone). */
export interface MemberCap {
  period: Period;
  points: bigint | null;
  times: number | null;
}

export interface RuleLimits {
  /** the rule applies to events that occurred in [validFrom, validTo) */
  validFrom: Date | null;
  validTo: Date | null;
  /** only events from these channels / locations; null: any */
  channels: string[] | null;
  locations: string[] | null;
  /** only orders that paid at least this much money (minor units) */
  minSpend: bigint | null;
  perMember: MemberCap[];
  /** total points the rule may ever award, across all members */
  budget: bigint | null;
}

export type Stacking = 'cumulative' | 'exclusive';

export interface Effect {
  type: string;
  [param: string]: unknown;
}

export interface RuleDefinition {
  name: string;
  description: string | null;
  /** the event type that runs it: purchase, signup, or a custom action (review, survey…) */
  trigger: string;
  /** a CEL expression that must be true; null: always */
  condition: string | null;
  effect: Effect;
  limits: RuleLimits;
  /** exclusive: when it fires, no rule of lower priority does */
  stacking: Stacking;
  /** higher first */
  priority: number;
  /** the campaign whose budget and caps it shares */
  campaignId: string | null;
}

export interface Rule extends RuleDefinition {
  ruleId: string;
  programId: string;
  version: number;
  enabled: boolean;
}

/** A campaign groups rules under one budget and one set of per-member caps (e.g. "at most 2,000 bonus points a month"). */
export interface Campaign {
  campaignId: string;
  programId: string;
  name: string;
  validFrom: Date | null;
  validTo: Date | null;
  budget: bigint | null;
  perMember: MemberCap[];
}

/** Triggers Laurel sends itself; every other trigger is an event type a client sends. */
export const SIGNUP = 'signup';
export const MAX_PRIORITY = 1_000_000;

export interface RuleEnvironment {
  strategies: Strategies;
  /** the program's wallet codes, for effects that pay into a wallet */
  wallets: ReadonlySet<string>;
}

export function validateCaps(value: unknown, field: string): MemberCap[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > PERIODS.length) throw invalid(field, `${field} must be a list of at most ${PERIODS.length} caps`);
  const seen = new Set<Period>();
  return value.map((cap, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(cap)) throw invalid(f, `${f} must be an object with a period and points and/or times`);
    only(cap, ['period', 'points', 'times'], `${f}.`);
    if (!PERIODS.includes(cap.period as Period)) throw invalid(`${f}.period`, `${f}.period must be one of ${PERIODS.join(', ')}`);
    const period = cap.period as Period;
    if (seen.has(period)) throw invalid(`${f}.period`, `there is already a ${period} cap`);
    seen.add(period);
    const points = cap.points === undefined || cap.points === null ? null : integerIn(cap.points, 0n, MAX_POINTS, `${f}.points`);
    const times = cap.times === undefined || cap.times === null ? null : Number(integerIn(cap.times, 0n, 1_000_000n, `${f}.times`));
    if (points === null && times === null) throw invalid(f, `${f} needs points or times`);
    return { period, points, times };
  });
}

const budget = (value: unknown, field: string): bigint | null =>
  value === undefined || value === null ? null : integerIn(value, 0n, MAX_POINTS, field);

function validateLimits(value: unknown): RuleLimits {
  const limits = value === undefined || value === null ? {} : value;
  if (!isObject(limits)) throw invalid('limits', 'limits must be an object');
  only(limits, ['validFrom', 'validTo', 'channels', 'locations', 'minSpend', 'perMember', 'budget'], 'limits.');
  return {
    ...validityWindow(limits, 'limits.'),
    channels: names(limits.channels, 'limits.channels'),
    locations: names(limits.locations, 'limits.locations'),
    minSpend: limits.minSpend === undefined || limits.minSpend === null ? null : integerIn(limits.minSpend, 0n, MAX_MONEY, 'limits.minSpend'),
    perMember: validateCaps(limits.perMember, 'limits.perMember'),
    budget: budget(limits.budget, 'limits.budget'),
  };
}

/** A campaign's fields: a window, a budget and per-member caps its rules share. */
export function validateCampaign(input: unknown): Omit<Campaign, 'campaignId' | 'programId'> {
  if (!isObject(input)) throw invalid('campaign', 'a campaign is an object');
  only(input, ['name', 'validFrom', 'validTo', 'budget', 'perMember'], '');
  return {
    name: text(input.name, 'name', 200), ...validityWindow(input, ''), budget: budget(input.budget, 'budget'), perMember: validateCaps(input.perMember, 'perMember'),
  };
}

export const RULE_FIELDS = ['name', 'description', 'trigger', 'condition', 'effect', 'limits', 'stacking', 'priority', 'campaignId'] as const;

/** Checks a rule as a client wrote it and returns it normalised; every problem names its field. */
export function validateRule(input: unknown, env: RuleEnvironment, extra: readonly string[] = []): RuleDefinition {
  if (!isObject(input)) throw invalid('rule', 'a rule is an object');
  only(input, [...RULE_FIELDS, ...extra], '');
  const trigger = input.trigger;
  if (typeof trigger !== 'string' || !EVENT_TYPE.test(trigger) || trigger === 'return') {
    throw invalid('trigger', 'trigger must be an event type: purchase, signup, or a custom action name (lower-case letters, digits and _); returns undo purchases and trigger nothing');
  }
  const condition = input.condition === undefined || input.condition === null ? null : text(input.condition, 'condition', 4000);
  if (condition !== null) checkCondition(condition, 'condition');
  if (!isObject(input.effect)) throw invalid('effect', 'effect must be an object with a type');
  const type = input.effect.type;
  const strategy = typeof type === 'string' ? env.strategies.get(type) : undefined;
  if (!strategy) throw invalid('effect.type', `effect.type must be one of ${[...env.strategies.keys()].join(', ')}`);
  const { type: _, ...params } = input.effect;
  const parsed = strategy.parse(params, 'effect.');
  const wallet = strategy.wallet(parsed);
  if (wallet !== null && !env.wallets.has(wallet)) throw invalid('effect.wallet', `the program has no wallet ${wallet}`);
  if (strategy.triggers && !strategy.triggers.includes(trigger)) {
    throw invalid('trigger', `a ${strategy.type} effect needs a ${strategy.triggers.join(' or ')} trigger`);
  }
  const stacking = input.stacking ?? 'cumulative';
  if (stacking !== 'cumulative' && stacking !== 'exclusive') throw invalid('stacking', 'stacking must be cumulative or exclusive');
  const priority = input.priority === undefined ? 0 : Number(integerIn(input.priority, BigInt(-MAX_PRIORITY), BigInt(MAX_PRIORITY), 'priority'));
  const campaignId = input.campaignId === undefined || input.campaignId === null ? null : text(input.campaignId, 'campaignId', 36);
  const limits = validateLimits(input.limits);
  if (limits.minSpend !== null && trigger !== 'purchase') throw invalid('limits.minSpend', 'limits.minSpend needs a purchase trigger');
  return {
    name: text(input.name, 'name', 200),
    description: input.description === undefined || input.description === null ? null : text(input.description, 'description', 2000),
    trigger, condition, effect: { type: strategy.type, ...params }, limits, stacking, priority, campaignId,
  };
}
