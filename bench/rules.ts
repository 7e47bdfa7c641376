// Rule evaluation: purchases of 5 lines through `ingestEvent` against a program of 20 enabled
// purchase rules that use every built-in effect, N workers in this process each on its own member
// (as in earn.ts), each event with a new externalId. Next to it, the same rules and baskets through
// the pure `evaluate()` in this process, without the database; and a count of the CEL parser's
// runs, which shows that compiled conditions are cached and not parsed again per event.
import { Environment } from '@marcbachmann/cel-js';
import { sql } from 'kysely';
import type { ProgramInput } from '../src/core/program.js';
import { normaliseEvent } from '../src/core/events/event.js';
import { orderTotal } from '../src/core/events/purchase.js';
import { basketOf } from '../src/core/rules/basket.js';
import { compileCondition } from '../src/core/rules/conditions.js';
import { evaluate, loadRule, type EvaluationInput, type LimitState } from '../src/core/rules/evaluate.js';
import { factsOf, type MemberStats } from '../src/core/rules/facts.js';
import { strategiesWith } from '../src/core/rules/strategies.js';
import { formatReport, verifyLedger } from '../src/db/verify.js';
import { loadEventProgram, loadMemberProfile } from '../src/db/events.js';
import { enabledRulesAt } from '../src/db/rules.js';
import type { Laurel } from '../src/services/context.js';
import { ingestEvent, type EventResult, type IngestInput } from '../src/services/events.js';
import { createCampaign, createRule } from '../src/services/rules.js';
import { isTooManyClients, type Connect } from './earn.js';
import { newFixture, newMembers, type Fixture } from './fixtures.js';
import { runLoad, type LoadResult } from './load.js';
import { log, median, sleep } from './stats.js';

// ---- counting the CEL parser ----------------------------------------------------------------

let parses = 0;
let counting = false;

/**
 * Counts every run of the CEL parser in this process from now on. compileCondition
 * (src/core/rules/conditions.ts) calls Environment#parse on a cache miss, and only then (saving a
 * rule type-checks through Environment#check, which does not go through it), so this count is
 * the number of conditions compiled. The environment instance is frozen, its prototype is not.
 */
export function countCelParses(): void {
  if (counting) return;
  counting = true;
  const proto = Environment.prototype as { parse: (this: Environment, expression: string) => unknown };
  const parse = proto.parse;
  proto.parse = function (this: Environment, expression: string) {
    parses++;
    return parse.call(this, expression);
  };
}

export const celParses = (): number => parses;

// ---- the program, its campaign and its 20 rules ------------------------------------------

/** A points wallet, store credit (percent_back pays into it) and a status wallet; no return window, no expiry. */
export const rulesProgram: ProgramInput = {
  name: 'Bench rules',
  enrollmentMode: 'opt_in',
  wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'credit', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
  returnWindowDays: 0,
  expiry: { kind: 'none' },
  negativeBalance: 'debt',
};

/** The bonus campaign: its rules share one cap of 2,000 points per member and month. */
export const CAMPAIGN_CAP = 2000;
const campaign = { name: 'Spring bonuses', perMember: [{ period: 'month', points: CAMPAIGN_CAP }] };

/** The launch bonus's budget: large, so it never runs out, but its row is locked by every event that draws on it. */
const LAUNCH_BUDGET = 100_000_000;
export const LAUNCH_SKU = 'FRG-NOIR-50';

/**
 * 20 purchase rules, as a beauty retailer might run them: a base rate, multipliers by tier, by
 * time and by product, fixed bonuses on the order, a campaign of bonuses under a shared monthly cap,
 * a launch bonus with a budget, a surprise, store credit, and an exclusive rule of low priority.
 * Which fire depends on the basket, the member and the time of day (the tenant's, Europe/Paris).
 */
export function ruleSet(campaignId: string): Record<string, unknown>[] {
  const bonus = { campaignId };
  return [
    { name: 'Base: 1 point per 1.00', priority: 100, effect: { type: 'points_per_amount', points: 1, per: 100 } },
    { name: 'Tier multiplier', priority: 90, effect: { type: 'tier_multiplier', tiers: { silver: 1.25, gold: 1.5, platinum: 2 } } },
    { name: 'Weekend skincare x2', priority: 80, condition: 'time.weekend', effect: { type: 'multiplier', factor: 2, categories: ['skincare'] } },
    {
      name: 'Weekday evening bath x1.5', priority: 80, condition: '!time.weekend && time.hour >= 17 && time.hour < 20',
      effect: { type: 'multiplier', factor: 1.5, categories: ['bath'] },
    },
    { name: 'Morning makeup x2', priority: 80, condition: 'time.hour < 12', effect: { type: 'multiplier', factor: 2, categories: ['makeup'] } },
    {
      name: 'Curly hair care x3', priority: 80, condition: 'has(member.attributes.hairType) && member.attributes.hairType == "curly"',
      effect: { type: 'multiplier', factor: 3, categories: ['hair'] },
    },
    { name: 'Hero products x2', priority: 80, effect: { type: 'multiplier', factor: 2, skus: ['SKN-SERUM-30', 'SKN-CREAM-50', 'MKP-PALETTE-12'] } },
    // Reads member.stats: the only rule that does, and it costs the event a stats query.
    { name: 'Regulars +20%', priority: 70, condition: 'member.stats.purchasesThisYear >= 10', effect: { type: 'multiplier', factor: 1.2 } },
    { name: 'Birthday month x2', priority: 60, condition: 'member.birthdayThisMonth', effect: { type: 'multiplier', factor: 2 } },
    { ...bonus, name: '100 points from 100.00', priority: 50, condition: 'order.total >= 10000', effect: { type: 'fixed_points', points: 100 } },
    { ...bonus, name: '250 points from 200.00', priority: 49, condition: 'order.total >= 20000', effect: { type: 'fixed_points', points: 250 } },
    { ...bonus, name: 'Four categories', priority: 48, condition: 'size(order.categories) >= 4', effect: { type: 'fixed_points', points: 50 } },
    {
      ...bonus, name: 'Fragrance from 50.00', priority: 47, condition: 'order.lines.exists(l, l.category == "fragrance" && l.net >= 5000)',
      effect: { type: 'fixed_points', points: 75 },
    },
    {
      name: 'Noir launch', priority: 40, condition: `"${LAUNCH_SKU}" in order.skus`, limits: { budget: LAUNCH_BUDGET },
      effect: { type: 'fixed_points', points: 50 },
    },
    { name: 'Surprise', priority: 30, effect: { type: 'surprise', probability: 0.05, points: 500 } },
    {
      name: 'Cardholders: 2% credit from 100.00', priority: 20,
      condition: 'has(member.attributes.cardholder) && member.attributes.cardholder == true && order.total >= 10000',
      effect: { type: 'percent_back', percent: 2, wallet: 'credit' },
    },
    {
      name: 'Newsletter skincare', priority: 10,
      condition: 'has(member.attributes.newsletter) && member.attributes.newsletter == true && "skincare" in order.categories',
      effect: { type: 'fixed_points', points: 20 },
    },
    { name: 'App orders', priority: 5, limits: { channels: ['app'] }, effect: { type: 'fixed_points', points: 40 } },
    // Exclusive and of low priority: when it fires, the rules below it (the refill bonus) do not.
    {
      name: 'Small basket: flat 25', priority: -10, stacking: 'exclusive', condition: 'order.total < 5000',
      effect: { type: 'fixed_points', points: 25 },
    },
    { name: 'Refills', priority: -20, condition: 'order.lines.exists(l, l.sku.startsWith("REFILL-"))', effect: { type: 'fixed_points', points: 30 } },
  ].map((r) => ({ trigger: 'purchase', ...r }));
}

/** What the conditions read of the members: all alike, so every worker's events cost the same. */
export const MEMBER_PROFILE = { tier: 'gold', attributes: { cardholder: true, newsletter: true, hairType: 'curly', skinType: 'dry' } };

type Line = { sku: string; category: string; quantity: number; unitPrice: number; discount?: number };

/**
 * Four baskets of 5 lines (one per category), one after the other: 197.30 with the launch
 * fragrance, 146.40 with a discount, a small one of 45.10 (the exclusive rule fires, the refill
 * bonus is stopped) and 271.50 from the app.
 */
export const BASKETS: { channel: string; lines: Line[] }[] = [
  {
    channel: 'store', lines: [
      { sku: 'SKN-SERUM-30', category: 'skincare', quantity: 1, unitPrice: 4200 },
      { sku: 'BTH-OIL-100', category: 'bath', quantity: 1, unitPrice: 1850 },
      { sku: 'MKP-MASCARA', category: 'makeup', quantity: 1, unitPrice: 2490 },
      { sku: 'HAIR-MASK-200', category: 'hair', quantity: 1, unitPrice: 2290 },
      { sku: LAUNCH_SKU, category: 'fragrance', quantity: 1, unitPrice: 8900 },
    ],
  },
  {
    channel: 'store', lines: [
      { sku: 'SKN-CREAM-50', category: 'skincare', quantity: 1, unitPrice: 3600 },
      { sku: 'BTH-SALTS-500', category: 'bath', quantity: 2, unitPrice: 1290 },
      { sku: 'MKP-LIPSTICK', category: 'makeup', quantity: 1, unitPrice: 2150 },
      { sku: 'HAIR-SHAMPOO-250', category: 'hair', quantity: 1, unitPrice: 1450 },
      { sku: 'FRG-ROSE-30', category: 'fragrance', quantity: 1, unitPrice: 5400, discount: 540 },
    ],
  },
  {
    channel: 'store', lines: [
      { sku: 'SKN-CLEANSER', category: 'skincare', quantity: 1, unitPrice: 1290 },
      { sku: 'BTH-SOAP', category: 'bath', quantity: 1, unitPrice: 450 },
      { sku: 'MKP-BALM', category: 'makeup', quantity: 1, unitPrice: 890 },
      { sku: 'REFILL-HAIR-COND', category: 'hair', quantity: 1, unitPrice: 990 },
      { sku: 'FRG-MINI-5', category: 'fragrance', quantity: 1, unitPrice: 890 },
    ],
  },
  {
    channel: 'app', lines: [
      { sku: 'REFILL-SKN-CREAM-50', category: 'skincare', quantity: 1, unitPrice: 2900 },
      { sku: 'BTH-CANDLE', category: 'bath', quantity: 1, unitPrice: 3400 },
      { sku: 'MKP-PALETTE-12', category: 'makeup', quantity: 1, unitPrice: 5200 },
      { sku: 'HAIR-DRY-OIL', category: 'hair', quantity: 1, unitPrice: 2750 },
      { sku: 'FRG-NOIR-100', category: 'fragrance', quantity: 1, unitPrice: 12900 },
    ],
  },
];

/** The `seq`-th purchase of a worker; consecutive workers start on different baskets. */
export function purchase(fx: Fixture, memberId: string, externalId: string, worker: number, seq: number): IngestInput {
  const basket = BASKETS[(worker + seq) % BASKETS.length]!;
  return { programId: fx.program.programId, memberId, externalId, type: 'purchase', channel: basket.channel, lines: basket.lines };
}

export interface RulesFixture {
  fx: Fixture;
  campaignId: string;
  /** the rules as saved, in the order above */
  rules: { name: string; effect: string; condition: string | null }[];
  /** distinct condition texts: what the CEL parser must compile, once */
  conditions: number;
}

export async function newRulesFixture(laurel: Laurel, runId: string): Promise<RulesFixture> {
  const fx = await newFixture(laurel, runId, 'rules', rulesProgram, []);
  const { campaignId } = await createCampaign(laurel, fx.tenantId, fx.program.programId, campaign);
  const rules: RulesFixture['rules'] = [];
  for (const rule of ruleSet(campaignId)) {
    const saved = await createRule(laurel, fx.tenantId, fx.program.programId, rule, { actor: 'bench' });
    rules.push({ name: saved.name, effect: saved.effect.type, condition: saved.condition });
  }
  const conditions = new Set(rules.flatMap((r) => (r.condition === null ? [] : [r.condition]))).size;
  return { fx, campaignId, rules, conditions };
}

// ---- through the database ----------------------------------------------------------------

/** What the events of a run earned, warm-up included. */
export interface Earned {
  events: number;
  /** rules that fired (awards, some trimmed to 0 by a cap), awards of more than 0, points, store credit */
  fired: number;
  awarded: number;
  points: bigint;
  credit: bigint;
  /** per rule name: events it fired on, events it gave more than 0 */
  byRule: Map<string, { fired: number; awarded: number }>;
}

export const noEarnings = (): Earned => ({ events: 0, fired: 0, awarded: 0, points: 0n, credit: 0n, byRule: new Map() });

function tally(e: Earned, r: EventResult): void {
  e.events++;
  for (const a of r.event.explanation) {
    const t = e.byRule.get(a.name) ?? { fired: 0, awarded: 0 };
    e.byRule.set(a.name, t);
    t.fired++;
    e.fired++;
    if (a.points <= 0n) continue;
    t.awarded++;
    e.awarded++;
    if (a.wallet === 'credit') e.credit += a.points;
    else e.points += a.points;
  }
}

export function addEarned(into: Earned, e: Earned): void {
  into.events += e.events;
  into.fired += e.fired;
  into.awarded += e.awarded;
  into.points += e.points;
  into.credit += e.credit;
  for (const [name, t] of e.byRule) {
    const u = into.byRule.get(name) ?? { fired: 0, awarded: 0 };
    into.byRule.set(name, { fired: u.fired + t.fired, awarded: u.awarded + t.awarded });
  }
}

export interface RuleRun extends LoadResult {
  members: string[];
  /** CEL parses during the whole run, warm-up included */
  parses: number;
  earned: Earned;
}

/**
 * One measured run, like runEarn: its own pool (concurrency + 2 connections), fresh members (each
 * with the same profile), each worker looping ingestEvent on its member with a new externalId.
 */
export async function runRules(connect: Connect, rf: RulesFixture, concurrency: number, warmupMs: number, durationMs: number, label: string): Promise<RuleRun> {
  const { fx } = rf;
  for (let attempt = 1; ; attempt++) {
    const laurel = await connect(concurrency + 2);
    try {
      const members = await newMembers(laurel, fx, concurrency, `${label}-a${attempt}`, MEMBER_PROFILE);
      const earned = noEarnings();
      const parses0 = celParses();
      const result = await runLoad({
        concurrency, warmupMs, durationMs,
        op: async (w, seq) => {
          const externalId = `rules-${fx.runId}-${label}-a${attempt}-${w}-${seq}`;
          tally(earned, await ingestEvent(laurel, fx.tenantId, { ...purchase(fx, members[w]!, externalId, w, seq), actor: 'bench' }));
        },
      });
      return { ...result, members, parses: celParses() - parses0, earned };
    } catch (e) {
      if (!isTooManyClients(e) || attempt >= 5) throw e;
      log(`the server has too many clients; retrying the rules run in 3 s (attempt ${attempt})`);
      await sleep(3000);
    } finally {
      await laurel.close();
    }
  }
}

/**
 * Every acknowledged event is recorded once with its journal entries; the awards add up to the
 * journal in each wallet; the launch budget used is what its awards gave; no member got more
 * than the campaign's monthly cap; and the tenant's ledger verifies.
 */
export async function checkRules(laurel: Laurel, rf: RulesFixture, completed: number): Promise<string> {
  const t = rf.fx.tenantId;
  const { rows: [r] } = await sql<{ events: string; entries: string; journal: string; wrong_wallets: string; budget_off: string; over_cap: string }>`
    select (select count(*) from events where tenant_id = ${t}) as events,
           (select coalesce(sum(jsonb_array_length(entries)), 0) from events where tenant_id = ${t}) as entries,
           (select count(*) from journal_entries where tenant_id = ${t} and kind = 'earn') as journal,
           (select count(*) from (
              select a.wallet from rule_awards a where a.tenant_id = ${t} group by a.wallet
              having sum(a.points) <> (select coalesce(sum(j.amount), 0) from journal_entries j join wallets w
                on w.tenant_id = j.tenant_id and w.wallet_id = j.wallet_id where j.tenant_id = ${t} and w.code = a.wallet)) x) as wrong_wallets,
           (select count(*) from rules r join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
              where r.tenant_id = ${t} and v.definition -> 'limits' ->> 'budget' is not null and (select sum(s.used) from budget_shards s where s.tenant_id = r.tenant_id and s.scope = 'rule:' || r.rule_id) <>
                (select coalesce(sum(points), 0) from rule_awards a where a.tenant_id = r.tenant_id and a.rule_id = r.rule_id)) as budget_off,
           (select count(*) from (select member_id from rule_awards where tenant_id = ${t} and campaign_id = ${rf.campaignId}
              group by member_id, date_trunc('month', occurred_at at time zone 'Europe/Paris')
              having sum(points) > ${CAMPAIGN_CAP}) x) as over_cap`.execute(laurel.db);
  const problems: string[] = [];
  if (Number(r!.events) !== completed) problems.push(`${completed} events acknowledged, ${r!.events} recorded`);
  if (Number(r!.entries) !== Number(r!.journal)) problems.push(`events name ${r!.entries} journal entries, the journal has ${r!.journal} earns`);
  if (Number(r!.wrong_wallets) !== 0) problems.push(`${r!.wrong_wallets} wallets whose awards do not add up to their journal`);
  if (Number(r!.budget_off) !== 0) problems.push(`${r!.budget_off} rule budgets whose use is not the sum of their awards`);
  if (Number(r!.over_cap) !== 0) problems.push(`${r!.over_cap} member-months over the campaign cap`);
  const report = await verifyLedger(laurel.db, laurel.clock.now(), t);
  if (!report.ok) problems.push(`laurel verify:\n${formatReport(report)}`);
  if (problems.length) throw new Error(`rules check failed: ${problems.join('; ')}`);
  return `${completed} events acknowledged = ${r!.events} recorded, ${r!.journal} journal entries (points and credit) = their awards;`
    + ` launch budget used = its awards; no member over the campaign cap; laurel verify of the rules tenant: ok`;
}

/** Sequential events (median latency, ms) for a member with no history and for the one with the most purchases. */
export async function historyLatency(laurel: Laurel, rf: RulesFixture, n: number): Promise<{ freshMs: number; longMs: number; purchases: number }> {
  const { fx } = rf;
  const { rows: [top] } = await sql<{ member_id: string; n: string }>`
    select member_id, count(*) as n from events where tenant_id = ${fx.tenantId} group by member_id order by n desc limit 1`.execute(laurel.db);
  const [fresh] = await newMembers(laurel, fx, 1, 'latency', MEMBER_PROFILE);
  const time = async (memberId: string, label: string) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await ingestEvent(laurel, fx.tenantId, { ...purchase(fx, memberId, `rules-${fx.runId}-${label}-${i}`, 0, i), actor: 'bench' });
      times.push(performance.now() - t);
    }
    return median(times);
  };
  // The fresh member first: it has no history at its first event.
  const freshMs = await time(fresh!, 'lat-fresh');
  const longMs = await time(top!.member_id, 'lat-long');
  return { freshMs, longMs, purchases: Number(top!.n) };
}

// ---- in process, without the database -----------------------------------------------------

export interface EvaluateResult {
  /** evaluate() calls per second of wall time, and per second of this process's CPU */
  perSecond: number[];
  perCpuSecond: number[];
  /** an event's whole pure decision: basketOf, factsOf, and evaluate twice (as evaluateEarning does when a rule has a budget) */
  decisionsPerSecond: number[];
  /** loading the 20 rules the first time (CEL parses included) and again with a fresh strategy map (cache hits), ms */
  coldLoadMs: number;
  warmLoadMs: number;
  coldParses: number;
  warmParses: number;
  /** the first evaluate() (CEL type-checks each compiled AST on its first run) and the median of the next 1000, µs */
  firstUs: number;
  laterUs: number;
  /** parses while the loops ran */
  loopParses: number;
  /** compileCondition returns the very function each loaded rule holds */
  sameFunction: boolean;
  awardsPerEvaluation: number;
}

/** A member's stats after a few months of shopping: the regulars' rule fires. */
const STATS: MemberStats = { purchases: 24n, purchasesThisYear: 12n, purchasesThisMonth: 2n, spend: 380_000n, spendThisYear: 190_000n };

/** What the service hands evaluate() for each basket, built by the same functions. */
async function evaluationInputs(laurel: Laurel, rf: RulesFixture, memberId: string, now: Date) {
  const { fx } = rf;
  const profile = (await loadMemberProfile(laurel.db, fx.tenantId, memberId))!;
  const program = (await loadEventProgram(laurel.db, fx.tenantId, fx.program.programId))!;
  const rows = await enabledRulesAt(laurel.db, fx.tenantId, program.rules.filter((r) => r.trigger === 'purchase'));
  const { campaigns } = program;
  const budgets = new Map(rows.filter((r) => r.limits.budget !== null).map((r) => [`rule:${r.ruleId}`, r.limits.budget!]));
  // No usage yet, the budgets whole: every cap and budget is looked at, none trims. evaluateEarning
  // first evaluates without budgets (to find the budget rows to lock), then with them.
  const usage: LimitState['usage'] = () => ({ points: 0n, times: 0 });
  const limits: LimitState = { usage, budgetLeft: (scope) => budgets.get(scope) ?? null };
  const noBudgets: LimitState = { usage, budgetLeft: () => null };
  const events = BASKETS.map((_, i) => {
    const e = normaliseEvent(purchase(fx, memberId, `eval-${i}`, 0, i));
    if (e.kind !== 'purchase') throw new Error('a bench purchase is a purchase');
    return e;
  });
  const factsFor = (e: (typeof events)[number], externalId: string) => {
    const basket = basketOf(e.lines, orderTotal(e.lines, e.paidWithPoints));
    const event = { ...e, externalId, occurredAt: now, currency: 'EUR' };
    return { basket, event, facts: factsOf({ event, basket, member: profile, stats: STATS, timeZone: 'Europe/Paris' }) };
  };
  return { rows, campaigns, limits, noBudgets, events, factsFor };
}

/** Runs `step` for `ms`, returning calls per wall second and per CPU second. */
function loop(ms: number, step: (i: number) => void): { perSecond: number; perCpuSecond: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  let t = t0;
  while (t - t0 < ms) {
    for (let k = 0; k < 64; k++) step(i++);
    t = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: i / ((t - t0) / 1000), perCpuSecond: i / ((cpu.user + cpu.system) / 1e6) };
}

/**
 * evaluate() for the 20 rules and the four baskets, in this process. Run before any rule run, so
 * that the first load of the rules is cold: it shows what a parse costs and that it happens once.
 */
export async function evaluateBenchmark(laurel: Laurel, rf: RulesFixture, rounds: number, ms: number): Promise<EvaluateResult> {
  const [memberId] = await newMembers(laurel, rf.fx, 1, 'evaluate', MEMBER_PROFILE);
  const { rows, campaigns, limits, noBudgets, events, factsFor } = await evaluationInputs(laurel, rf, memberId!, new Date());
  const strategies = strategiesWith();
  let p = celParses();
  let t = performance.now();
  const rules = rows.map((r) => loadRule(r, strategies));
  const coldLoadMs = performance.now() - t;
  const coldParses = celParses() - p;
  // A fresh strategy map misses loadRule's cache (per map): only the conditions' cache can spare the parse.
  p = celParses();
  t = performance.now();
  rows.forEach((r) => loadRule(r, strategiesWith()));
  const warmLoadMs = performance.now() - t;
  const warmParses = celParses() - p;
  const sameFunction = rules.every((r) => r.condition === null || compileCondition(r.rule.condition!) === r.condition);

  const inputs: EvaluationInput[] = events.map((e, i) => ({ rules, campaigns, limits, ...factsFor(e, `eval-${i}`) }));
  t = performance.now();
  const first = evaluate(inputs[0]!);
  const firstUs = (performance.now() - t) * 1000;
  const later: number[] = [];
  for (let i = 1; i <= 1000; i++) {
    t = performance.now();
    evaluate(inputs[i % inputs.length]!);
    later.push((performance.now() - t) * 1000);
  }
  const awardsPerEvaluation = inputs.reduce((s, x) => s + evaluate(x).length, 0) / inputs.length;
  if (first.length === 0) throw new Error('the bench rules award nothing');

  const result: EvaluateResult = {
    perSecond: [], perCpuSecond: [], decisionsPerSecond: [], coldLoadMs, warmLoadMs, coldParses, warmParses,
    firstUs, laterUs: median(later), loopParses: 0, sameFunction, awardsPerEvaluation,
  };
  p = celParses();
  for (let round = 0; round < rounds; round++) {
    // Each evaluation its own event id, as each event has: the surprise draw hashes it.
    const only = loop(ms, (i) => {
      const x = inputs[i % inputs.length]!;
      evaluate({ ...x, event: { ...x.event, externalId: `eval-${i}` } });
    });
    result.perSecond.push(only.perSecond);
    result.perCpuSecond.push(only.perCpuSecond);
    const decision = loop(ms, (i) => {
      const x = factsFor(events[i % events.length]!, `eval-${i}`);
      evaluate({ rules, campaigns, limits: noBudgets, ...x });
      evaluate({ rules, campaigns, limits, ...x });
    });
    result.decisionsPerSecond.push(decision.perSecond);
    log(`round ${round + 1}/${rounds}: evaluate() ${only.perSecond.toFixed(0)}/s, whole pure decision ${decision.perSecond.toFixed(0)}/s`);
  }
  result.loopParses = celParses() - p;
  return result;
}
