// Evaluating a program's rules for one event, against the database: load the rules that run for
// its type, the member's profile, stats and usage of caps, the budgets left; let the core decide.
// Events call it inside their transaction with locks; quotes call it without, and write nothing.
import type { Explained } from '../core/events/event.js';
import type { Basket } from '../core/rules/basket.js';
import type { Facts } from '../core/rules/conditions.js';
import { readsMembership, readsStats } from '../core/rules/conditions.js';
import { capsOf, evaluate, excludedRules, loadRule, type Award, type EvaluatedEvent, type LimitState, type LoadedRule, type Scope } from '../core/rules/evaluate.js';
import { factsOf, NO_STATS, type FactsInput, type MemberProfile } from '../core/rules/facts.js';
import type { Campaign, Rule } from '../core/rules/rule.js';
import type { Strategies } from '../core/rules/strategies.js';
import { loadMemberProfile, type EventProgram } from '../db/events.js';
import { DEFAULT_WALLET } from './ledger.js';
import { ladderOf, tierMultiplierOf } from './tiers.js';
import { heldTier, membershipFactsOf } from './memberships.js';
import { budgetShards, enabledRulesAt, memberStats, memberUsage, writeBudgetShards } from '../db/rules.js';
import type { Db } from '../db/schema.js';
import { budgetLeft, respread, roomOf, shardOf, spentOn, type BudgetShard } from '../core/rules/budget.js';
import { RunAgain } from './idempotency.js';

export interface EarningEvent extends EvaluatedEvent {
  type: string;
  orderId: string | null;
  currency: string | null;
  attributes: Record<string, unknown>;
  paidWithPoints: bigint;
}

export interface Earning {
  awards: Award[];
  facts: Facts;
  /** points each budget scope gives out: what the event must add to the budgets used */
  spent: Map<Scope, bigint>;
  /** the rules an exclusive rule kept from running */
  excluded: Rule[];
}

const ANONYMOUS: FactsInput['member'] = { memberId: '', tier: null, grade: null, attributes: {}, birthday: null, enrolledAt: new Date(0) };

/**
 * How an event's transaction draws on budgets (core/rules/budget.ts): from its member's shard of
 * each, or from all their shards once that held too little (`all`). One draw lives across the
 * transaction's attempts: the attempt that finds its shard short sets `all` and runs again.
 */
export interface BudgetDraw {
  shard: number;
  all: boolean;
  /** the shards the last evaluation locked and read: spendBudgets writes what the event gave out of them */
  held: BudgetShard[];
}

export const budgetDraw = (memberId: string | null): BudgetDraw => ({ shard: shardOf(memberId), all: false, held: [] });

/** What a scope may give out: over all its shards, or from the member's one. A budget whose shards are missing gives nothing. */
function leftIn(shards: readonly BudgetShard[], scope: Scope, all: boolean): bigint | null {
  const mine = shards.filter((s) => s.scope === scope);
  if (mine.length === 0) return 0n;
  return all ? budgetLeft(mine) : roomOf(mine[0]!);
}

/** Writes what an event gave out of the budgets it drew on, under the locks its evaluation took. */
export async function spendBudgets(db: Db, tenantId: string, draw: BudgetDraw, spent: ReadonlyMap<Scope, bigint>): Promise<void> {
  const written: BudgetShard[] = [];
  for (const [scope, amount] of spent) {
    if (amount === 0n) continue;
    const mine = draw.held.filter((s) => s.scope === scope);
    // A budget without shards gives nothing (leftIn), so points spent from it were decided on other locks than these.
    if (mine.length === 0) throw new Error(`${scope}: points spent from a budget whose shards this evaluation did not lock`);
    written.push(...(draw.all ? respread(mine, draw.shard, amount) : [spentOn(mine[0]!, amount)]));
  }
  await writeBudgetShards(db, tenantId, written);
}

/** The budget scopes a rule draws on. */
function budgetsOf(rule: Rule, campaigns: ReadonlyMap<string, Campaign>): Scope[] {
  const found: Scope[] = [];
  if (rule.limits.budget !== null) found.push(`rule:${rule.ruleId}`);
  const campaign = rule.campaignId === null ? undefined : campaigns.get(rule.campaignId);
  if (campaign && campaign.budget !== null) found.push(`campaign:${campaign.campaignId}`);
  return found;
}

/**
 * Runs the rules. With `budgets` (an event's transaction), the budget shards an award draws on are
 * locked before the final evaluation, so concurrent events never give out more than a budget
 * holds (the caller already holds the member's wallet lock, which serialises that member's caps).
 * An evaluation its member's shards would trim runs again on all of them: only there is the trim
 * the budget's own. Without (a quote), budgets are read as they stand.
 */
export async function evaluateEarning(db: Db, strategies: Strategies, tenantId: string, program: EventProgram, input: {
  event: EarningEvent; basket: Basket; memberId: string | null; budgets: BudgetDraw | null;
  /** called with the other wallets the event may pay into, before any budget row is locked */
  lockWallets?: (wallets: string[]) => Promise<void>;
  /** evaluate as if the member had this tier: the one an event lifts them to (upgradeRate crossing_event) */
  tier?: string;
  /** the member's profile as the caller read it under the member's lock; read here otherwise */
  profile?: MemberProfile;
}): Promise<Earning> {
  const { event, basket, memberId } = input;
  const rules = await rulesFor(db, strategies, tenantId, program, event.type);
  const { campaigns } = program;
  const loaded = memberId === null ? null : input.profile ?? await loadMemberProfile(db, tenantId, memberId);
  const ladder = ladderOf(program.ladder);
  // The tier the member holds when the event occurs: a membership's tier may lift or set the one they qualify for.
  const qualified = input.tier ?? loaded?.tier ?? null;
  const tier = memberId === null || !program.uses.membershipTiers ? qualified : (await heldTier(db, tenantId, ladder, memberId, qualified, event.occurredAt)).tier;
  // A query only when a rule reads the membership (its condition or a membership_* effect).
  const membership = memberId !== null && rules.some((r) => readsMembership(r.rule.condition, r.rule.effect.type))
    ? await membershipFactsOf(db, tenantId, memberId, event.occurredAt) : undefined;
  const profile = { ...(loaded ?? ANONYMOUS), tier, tierMultiplier: tierMultiplierOf(ladder, tier), membership };
  const stats = memberId !== null && rules.some((r) => readsStats(r.rule.condition))
    ? await memberStats(db, tenantId, memberId, event.occurredAt) : NO_STATS;
  const facts = factsOf({ event: { ...event, type: event.type }, basket, member: profile, stats, timeZone: program.timeZone });
  if (rules.length === 0) return { awards: [], facts, spent: new Map(), excluded: [] };
  const caps = capsOf(rules, campaigns);
  const usage = memberId !== null && caps.size > 0
    ? await memberUsage(db, tenantId, memberId, caps, event.occurredAt, program.timeZone)
    : () => ({ points: 0n, times: 0 });
  const budgeted = new Set(rules.flatMap((r) => budgetsOf(r.rule, campaigns)));
  const unlimitedBudgets: LimitState = { usage, budgetLeft: () => null };
  const evaluation = { rules, campaigns, basket, facts, event };
  const unbudgeted = evaluate({ ...evaluation, limits: unlimitedBudgets });
  // Every lock an event takes comes in one order: the member's wallets, then budget rows (a
  // return takes them in the same order), so two events never wait for each other in a circle.
  const otherWallets = [...new Set(unbudgeted.filter((a) => a.points > 0n && a.wallet !== null).map((a) => a.wallet!))].sort();
  if (otherWallets.length > 0) await input.lockWallets?.(otherWallets);
  if (budgeted.size === 0) return { awards: unbudgeted, facts, spent: new Map(), excluded: excludedRules(rules, unbudgeted).map((r) => r.rule) };
  // Lock only the budgets this event would draw on: events that earn nothing from a budgeted rule never wait for it.
  const drawing = new Set(unbudgeted
    .filter((a) => a.points > 0n)
    .flatMap((a) => budgetsOf(rules.find((r) => r.rule.ruleId === a.ruleId)!.rule, campaigns)));
  const draw = input.budgets;
  const all = draw === null || draw.all;
  const shards = await budgetShards(db, tenantId, [...drawing], { shard: all ? null : draw.shard, lock: draw !== null });
  if (draw) draw.held = shards;
  const awards = evaluate({ ...evaluation, limits: { usage, budgetLeft: (scope) => (budgeted.has(scope) ? leftIn(shards, scope, all) : null) } });
  if (!all && awards.some((a) => a.limitedBy.includes('rule_budget') || a.limitedBy.includes('campaign_budget'))) {
    draw.all = true;
    throw new RunAgain('a budget shard holds too little for this event: it runs again holding all the shards');
  }
  const spent = new Map<Scope, bigint>();
  for (const a of awards) {
    for (const scope of budgetsOf(rules.find((r) => r.rule.ruleId === a.ruleId)!.rule, campaigns)) {
      spent.set(scope, (spent.get(scope) ?? 0n) + a.points);
    }
  }
  return { awards, facts, spent, excluded: excludedRules(rules, awards).map((r) => r.rule) };
}

/** The program's enabled rules for events of this type, parsed (their versions are kept per process: db/rules.ts). */
export async function rulesFor(db: Db, strategies: Strategies, tenantId: string, program: EventProgram, type: string): Promise<LoadedRule[]> {
  return (await enabledRulesAt(db, tenantId, program.rules.filter((r) => r.trigger === type))).map((r) => loadRule(r, strategies));
}

/**
 * Whether these rules decide on the event and the member's profile alone: none reads the member's
 * stats or membership, none draws on a per-member cap or a budget. Then earningOnProfile decides
 * without the database, as evaluateEarning would.
 */
export function decidableOnProfile(program: EventProgram, rules: readonly LoadedRule[]): boolean {
  return !program.uses.membershipTiers && capsOf(rules, program.campaigns).size === 0
    && rules.every((r) => !readsStats(r.rule.condition) && !readsMembership(r.rule.condition, r.rule.effect.type)
      && budgetsOf(r.rule, program.campaigns).length === 0);
}

/** evaluateEarning for rules that are decidableOnProfile, given the profile read with the member's lock: pure. */
export function earningOnProfile(program: EventProgram, rules: readonly LoadedRule[], input: { event: EarningEvent; basket: Basket; profile: MemberProfile }): Earning {
  const { event, basket } = input;
  const tierMultiplier = tierMultiplierOf(ladderOf(program.ladder), input.profile.tier);
  const facts = factsOf({ event, basket, member: { ...input.profile, tierMultiplier, membership: undefined }, stats: NO_STATS, timeZone: program.timeZone });
  const awards = evaluate({ rules, campaigns: program.campaigns, basket, facts, event, limits: { usage: () => ({ points: 0n, times: 0 }), budgetLeft: () => null } });
  return { awards, facts, spent: new Map(), excluded: excludedRules(rules, awards).map((r) => r.rule) };
}

/** An award as the explanation stores it: in the wallet it went to. */
export const explained = (a: Award): Explained => ({ ...a, wallet: a.wallet ?? DEFAULT_WALLET });

/** Σ awards per wallet (the points wallet first), leaving out wallets that get nothing. */
export function amountsByWallet(items: readonly { wallet: string; points: bigint }[]): [string, bigint][] {
  const sums = new Map<string, bigint>();
  for (const a of items) sums.set(a.wallet, (sums.get(a.wallet) ?? 0n) + a.points);
  return [...sums].filter(([, v]) => v !== 0n).sort(([a], [b]) => (a === DEFAULT_WALLET ? -1 : b === DEFAULT_WALLET ? 1 : a < b ? -1 : 1));
}
