// What each rule awards for one event: effects, conditions, limits, stacking, in priority order.
import { describe, expect, it } from 'vitest';
import type { PurchaseLine } from '../events/purchase.js';
import { goodsOf } from '../events/purchase.js';
import { basketOf } from './basket.js';
import {
  byPriority, capsOf, drawFor, evaluate, loadRule, periodStart, type Award, type LimitState, type Scope, type Usage,
} from './evaluate.js';
import { factsOf, NO_STATS, type MemberStats } from './facts.js';
import type { Campaign, Effect, Period, Rule } from './rule.js';
import { strategiesWith, surprise, type EarningStrategy } from './strategies.js';
import { ruleIdOf, ruleOf } from '../../../test/support/event-arbitraries.js';

const PARIS = 'Europe/Paris';
const TUESDAY = new Date('2026-11-24T09:30:00Z');

const line = (sku: string, quantity: bigint, unitPrice: bigint, category: string | null = null, discount = 0n): PurchaseLine =>
  ({ sku, category, quantity, unitPrice, discount });
// 2 × €12.50 of coffee, 1 × €9.99 of beans with €1.00 off: 3399
const SHOP = [line('LATTE-L', 2n, 1250n, 'coffee'), line('BEANS-1KG', 1n, 999n, 'beans', 100n)];

interface Scenario {
  lines?: PurchaseLine[];
  paidWithPoints?: bigint;
  tier?: string | null;
  stats?: Partial<MemberStats>;
  channel?: string | null;
  location?: string | null;
  occurredAt?: Date;
  externalId?: string;
  timeZone?: string;
  campaigns?: Campaign[];
  limits?: LimitState;
}

/** Evaluates the rules for a purchase; a fresh strategy map each time, so no parsed rule is reused across tests. */
function run(rules: Rule[], s: Scenario = {}): Award[] {
  const strategies = strategiesWith();
  const lines = s.lines ?? SHOP;
  const paidWithPoints = s.paidWithPoints ?? 0n;
  const basket = basketOf(lines, goodsOf(lines) - paidWithPoints);
  const event = {
    externalId: s.externalId ?? 'order-1', channel: s.channel ?? null, location: s.location ?? null, occurredAt: s.occurredAt ?? TUESDAY,
  };
  const facts = factsOf({
    event: { ...event, type: 'purchase', orderId: null, attributes: {}, currency: 'EUR', paidWithPoints },
    basket,
    member: { memberId: 'm-1', tier: s.tier ?? null, grade: null, attributes: {}, birthday: null, enrolledAt: new Date('2026-01-01T00:00:00Z') },
    stats: { ...NO_STATS, ...s.stats },
    timeZone: s.timeZone ?? PARIS,
  });
  return evaluate({
    rules: rules.map((r) => loadRule(r, strategies)), campaigns: new Map((s.campaigns ?? []).map((c) => [c.campaignId, c])),
    basket, facts, event, ...(s.limits ? { limits: s.limits } : {}),
  });
}

const pointsOf = (awards: Award[]) => awards.map((a) => a.points);
const total = (awards: Award[]) => awards.reduce((s, a) => s + a.points, 0n);

const perEuro = (over: Record<string, unknown> = {}): Effect => ({ type: 'points_per_amount', points: 1, per: 100, ...over });
const fixed = (points: number): Effect => ({ type: 'fixed_points', points });
const times = (factor: number | string, categories?: string[]): Effect => ({ type: 'multiplier', factor, ...(categories ? { categories } : {}) });

/** Usage before the event, per scope and period, and budgets left, per scope. */
function limitState(usage: Partial<Record<`${Scope}|${Period}`, Partial<Usage>>> = {}, budgets: Partial<Record<Scope, bigint>> = {}): LimitState {
  return {
    usage: (scope, period) => ({ points: 0n, times: 0, ...usage[`${scope}|${period}`] }),
    budgetLeft: (scope) => budgets[scope] ?? null,
  };
}

const campaign = (id: string, over: Partial<Campaign> = {}): Campaign =>
  ({ campaignId: id, programId: 'p', name: id, validFrom: null, validTo: null, budget: null, perMember: [], ...over });

describe('points per amount', () => {
  it.each([
    ['down', 123n], ['half_up', 123n], ['up', 124n],
  ])('$123.45 at 1 point per $1, rounded %s: %s', (mode, points) => {
    expect(pointsOf(run([ruleOf(1, perEuro({ mode }))], { lines: [line('A', 1n, 12_345n)] }))).toEqual([points]);
  });

  it.each([
    // unit price, points, per, mode, order rounding, line rounding (three lines at that price)
    [199n, 1, 100, 'down', 5n, 3n], // floor(597/100) vs 1 + 1 + 1
    [199n, 1, 100, 'up', 6n, 6n], // ceil(5.97) vs 2 + 2 + 2
    [150n, 1, 100, 'half_up', 5n, 6n], // round(4.5) = 5 vs round(1.5) × 3
    [149n, 1, 100, 'half_up', 4n, 3n], // round(4.47) vs round(1.49) × 3
    [250n, 3, 250, 'down', 9n, 9n], // exact
    [99n, 1, 100, 'down', 2n, 0n], // per line, no line reaches a point
  ])('three lines at %s, %s per %s, %s: per order %s, per line %s', (price, points, per, mode, byOrder, byLine) => {
    const lines = [line('A', 1n, price), line('B', 1n, price), line('C', 1n, price)];
    expect(pointsOf(run([ruleOf(1, perEuro({ points, per, mode, rounding: 'order' }))], { lines }))).toEqual([byOrder]);
    expect(pointsOf(run([ruleOf(1, perEuro({ points, per, mode, rounding: 'line' }))], { lines }))).toEqual([byLine]);
  });

  it('earns nothing on what points paid: €10 of €33.99 in points leaves 2399 → 23; all in points → nothing', () => {
    expect(pointsOf(run([ruleOf(1, perEuro())]))).toEqual([33n]);
    expect(pointsOf(run([ruleOf(1, perEuro())], { paidWithPoints: 1000n }))).toEqual([23n]);
    expect(pointsOf(run([ruleOf(1, perEuro())], { paidWithPoints: 3399n }))).toEqual([0n]);
  });

  it('earns on the matching lines only: coffee 2500 → 25, beans or tea 899 → 8, a sku list', () => {
    expect(pointsOf(run([ruleOf(1, perEuro({ categories: ['coffee'] }))]))).toEqual([25n]);
    expect(pointsOf(run([ruleOf(1, perEuro({ categories: ['beans', 'tea'] }))]))).toEqual([8n]);
    expect(pointsOf(run([ruleOf(1, perEuro({ categories: ['tea'] }))]))).toEqual([0n]);
    expect(pointsOf(run([ruleOf(1, perEuro({ skus: ['BEANS-1KG'], categories: ['coffee'] }))]))).toEqual([33n]);
  });

  it('explains what made the amount', () => {
    const [a] = run([ruleOf(1, perEuro({ rounding: 'line', mode: 'up', categories: ['coffee'] }))]);
    expect(a).toEqual({
      ruleId: ruleIdOf(1), version: 1, name: 'rule 1 (points_per_amount)', campaignId: null, effect: 'points_per_amount', wallet: null,
      points: 25n, uncapped: 25n, limitedBy: [],
      detail: { amount: 2500n, rate: '1 per 100', rounding: 'line, up', categories: 'coffee' },
    });
  });
});

describe('multipliers', () => {
  it('a 3x category multiplier adds twice the base of those lines: 25 + 8, + 2 × 25', () => {
    const awards = run([ruleOf(1, perEuro({ rounding: 'line' })), ruleOf(2, times(3, ['coffee']))]);
    expect(pointsOf(awards)).toEqual([33n, 50n]);
    expect(awards[1]!.detail).toEqual({ factor: '3', base: 25n, categories: 'coffee' });
  });

  it('builds on the order-rounded points as allocated to the lines: 33 → 24 + 9', () => {
    // 33 × 2500 / 3399 = 24.27, 33 × 899 / 3399 = 8.73: the beans line gets the unit left
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times(3, ['coffee']))]))).toEqual([33n, 48n]);
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times(3, ['beans']))]))).toEqual([33n, 18n]);
    // three lines at 199: 5 points allocated 2, 2, 1 (a tie goes to the first)
    const lines = [line('A', 1n, 199n), line('B', 1n, 199n), line('C', 1n, 199n, 'tea')];
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times(2, ['tea']))], { lines }))).toEqual([5n, 1n]);
  });

  it.each([
    ['gold', [33n, 33n]], ['silver', [33n, 16n]], ['bronze', [33n, 0n]], [null, [33n, 0n]],
  ])('a tier multiplier { gold: 2, silver: 1.5 } for a %s member: %o', (tier, points) => {
    const tiers = { type: 'tier_multiplier', tiers: { gold: 2, silver: '1.5' } };
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, tiers)], { tier }))).toEqual(points);
  });

  it('add up: 2x tier and 3x category on the same line make 4x that line', () => {
    const lines = [line('LATTE', 1n, 1000n, 'coffee')];
    const awards = run([
      ruleOf(1, perEuro()), ruleOf(2, { type: 'tier_multiplier', tiers: { gold: 2 } }), ruleOf(3, times(3, ['coffee'])),
    ], { lines, tier: 'gold' });
    expect(pointsOf(awards)).toEqual([10n, 10n, 20n]);
    expect(total(awards)).toBe(40n);
  });

  it('round their extra down: 1.5x of 33 adds 16; 1.25x of 3 adds 0', () => {
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times('1.5'))]))).toEqual([33n, 16n]);
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times(1.25))], { lines: [line('A', 1n, 399n)] }))).toEqual([3n, 0n]);
  });

  it('multiply neither fixed points nor store credit, nor each other', () => {
    const credit = { type: 'percent_back', percent: 10, wallet: 'credit' };
    expect(pointsOf(run([ruleOf(1, fixed(500)), ruleOf(2, credit), ruleOf(3, times(2))]))).toEqual([500n, 339n, 0n]);
    expect(pointsOf(run([ruleOf(1, perEuro()), ruleOf(2, times(2)), ruleOf(3, times(2))]))).toEqual([33n, 33n, 33n]);
  });

  it('do not build on a base effect that pays into another wallet, even one that reports points per line', () => {
    // a brand's store credit on every line, as a base effect with its points per line
    const lineCredit: EarningStrategy<null> = {
      type: 'line_credit', description: 'credit per line', phase: 'base', parse: () => null, wallet: () => 'credit',
      award: ({ basket }) => ({ points: basket.paid, perLine: basket.lines.map((l) => l.paid), detail: {} }),
    };
    const strategies = strategiesWith([lineCredit as EarningStrategy<never>]);
    const basket = basketOf(SHOP, 3399n);
    const event = { externalId: 'o', channel: null, location: null, occurredAt: TUESDAY };
    const facts = factsOf({
      event: { ...event, type: 'purchase', orderId: null, attributes: {}, currency: null, paidWithPoints: 0n },
      basket, member: { memberId: 'm', tier: null, grade: null, attributes: {}, birthday: null, enrolledAt: TUESDAY }, stats: NO_STATS, timeZone: PARIS,
    });
    const rules = [ruleOf(1, { type: 'line_credit' }), ruleOf(2, perEuro()), ruleOf(3, times(2))].map((r) => loadRule(r, strategies));
    expect(evaluate({ rules, campaigns: new Map(), basket, facts, event }).map((a) => [a.wallet, a.points])).toEqual([['credit', 3399n], [null, 33n], [null, 33n]]);
  });

  it('see the base of every base rule that fired, whatever their priority', () => {
    const awards = run([ruleOf(1, times(2), { priority: 9 }), ruleOf(2, perEuro(), { priority: 1 }), ruleOf(3, perEuro({ categories: ['coffee'] }))]);
    expect(awards.map((a) => [a.ruleId, a.points])).toEqual([[ruleIdOf(1), 58n], [ruleIdOf(2), 33n], [ruleIdOf(3), 25n]]);
  });
});

describe('fixed points, store credit, surprises', () => {
  it('a first-purchase bonus: member.stats.purchases == 0', () => {
    const welcome = ruleOf(1, fixed(500), { condition: 'member.stats.purchases == 0' });
    expect(run([welcome], { stats: { purchases: 0n } })).toMatchObject([{ points: 500n, detail: { points: 500n } }]);
    expect(run([welcome], { stats: { purchases: 1n } })).toEqual([]);
  });

  it.each([
    [10, 'down', 0n, 339n], [10, 'half_up', 0n, 340n], [10, 'up', 1000n, 240n], ['2.5', 'down', 0n, 84n], [0, 'up', 0n, 0n],
  ])('percent back %s %% rounded %s, %s paid with points: %s minor units of credit', (percent, mode, paidWithPoints, credit) => {
    // 10 % of 3399 = 339.9; of 2399 = 239.9; 2.5 % of 3399 = 84.975
    const awards = run([ruleOf(1, { type: 'percent_back', percent, wallet: 'credit', mode })], { paidWithPoints });
    expect(awards).toMatchObject([{ effect: 'percent_back', wallet: 'credit', points: credit }]);
  });

  it('a surprise draws the same for the same rule and event, and differently for another event', () => {
    const rule = ruleOf(1, { type: 'surprise', probability: '0.5', points: 50 });
    const first = run([rule], { externalId: 'order-42' });
    for (let i = 0; i < 5; i++) expect(run([rule], { externalId: 'order-42' })).toEqual(first);
    expect(drawFor(ruleIdOf(1), 'order-42')).toBe(drawFor(ruleIdOf(1), 'order-42'));
    expect(drawFor(ruleIdOf(1), 'order-42')).not.toBe(drawFor(ruleIdOf(2), 'order-42'));
    expect(drawFor(ruleIdOf(1), 'order-42')).not.toBe(drawFor(ruleIdOf(1), 'order-43'));
    expect(first[0]!.detail).toMatchObject({ probability: '0.5', draw: `${drawFor(ruleIdOf(1), 'order-42')}/1000000000` });
  });

  it('a surprise with probability 0.25 wins about a quarter of 10,000 events', () => {
    const strategies = strategiesWith();
    const rule = loadRule(ruleOf(1, { type: 'surprise', probability: '0.25', points: 10 }), strategies);
    const basket = basketOf(SHOP, 3399n);
    const facts = factsOf({
      event: { type: 'purchase', externalId: 'x', channel: null, location: null, orderId: null, occurredAt: TUESDAY, attributes: {}, currency: null, paidWithPoints: 0n },
      basket, member: { memberId: 'm', tier: null, grade: null, attributes: {}, birthday: null, enrolledAt: TUESDAY }, stats: NO_STATS, timeZone: PARIS,
    });
    let won = 0;
    for (let i = 0; i < 10_000; i++) {
      const [a] = evaluate({ rules: [rule], campaigns: new Map(), basket, facts, event: { externalId: `order-${i}`, channel: null, location: null, occurredAt: TUESDAY } });
      expect(a!.points === 0n || a!.points === 10n).toBe(true);
      expect(a!.detail.won).toBe(a!.points === 10n);
      if (a!.points > 0n) won++;
    }
    expect(won / 10_000).toBeGreaterThanOrEqual(0.22);
    expect(won / 10_000).toBeLessThanOrEqual(0.28);
  });

  it.each([
    ['0.25', 249_999_999n, 10n], ['0.25', 250_000_000n, 0n], ['0', 0n, 0n], ['1', 999_999_999n, 10n], ['0.0001', 99_999n, 10n], ['0.0001', 100_000n, 0n],
  ])('a surprise with probability %s wins on a draw of %s: %s points', (probability, draw, points) => {
    const params = surprise.parse({ probability, points: 10 }, 'effect.');
    const basket = basketOf(SHOP, 3399n);
    expect(surprise.award({ params, basket, facts: {} as never, base: [], draw: () => draw }).points).toBe(points);
  });

  it('a surprise with probability 0 never wins, with probability 1 always', () => {
    for (let i = 0; i < 200; i++) {
      const externalId = `o-${i}`;
      expect(pointsOf(run([ruleOf(1, { type: 'surprise', probability: 0, points: 5 })], { externalId }))).toEqual([0n]);
      expect(pointsOf(run([ruleOf(1, { type: 'surprise', probability: '1', points: 5 })], { externalId }))).toEqual([5n]);
    }
  });
});

describe('when a rule applies', () => {
  it.each([
    [4999n, 0n, false], [5000n, 0n, true], [6000n, 1001n, false], [6000n, 1000n, true],
  ])('minSpend 5000: goods %s with %s paid in points applies: %s', (price, paidWithPoints, applies) => {
    const rule = ruleOf(1, fixed(100), { limits: { minSpend: 5000n } });
    expect(run([rule], { lines: [line('A', 1n, price)], paidWithPoints }).length).toBe(applies ? 1 : 0);
  });

  it.each([
    ['web', null, true], ['pos', null, false], [null, null, false], ['web', 'paris-1', true],
  ])('channels [web]: from channel %s, location %s applies: %s', (channel, location, applies) => {
    expect(run([ruleOf(1, fixed(10), { limits: { channels: ['web'] } })], { channel, location }).length).toBe(applies ? 1 : 0);
  });

  it.each([
    ['paris-1', true], ['lyon-2', true], ['nice', false], [null, false],
  ])('locations [paris-1, lyon-2]: from %s applies: %s', (location, applies) => {
    expect(run([ruleOf(1, fixed(10), { limits: { locations: ['paris-1', 'lyon-2'] } })], { location }).length).toBe(applies ? 1 : 0);
  });

  const from = new Date('2026-12-01T00:00:00+01:00');
  const to = new Date('2027-01-01T00:00:00+01:00');
  it.each([
    ['2026-11-30T22:59:59.999Z', false], ['2026-11-30T23:00:00Z', true], ['2026-12-31T22:59:59.999Z', true], ['2026-12-31T23:00:00Z', false],
  ])('valid in [December in Paris): at %s applies: %s', (at, applies) => {
    const occurredAt = new Date(at);
    expect(run([ruleOf(1, fixed(10), { limits: { validFrom: from, validTo: to } })], { occurredAt }).length).toBe(applies ? 1 : 0);
    // the same window on the rule's campaign
    const campaigns = [campaign('xmas', { validFrom: from, validTo: to })];
    expect(run([ruleOf(1, fixed(10), { campaignId: 'xmas' })], { occurredAt, campaigns }).length).toBe(applies ? 1 : 0);
  });

  it('only from, only to', () => {
    expect(run([ruleOf(1, fixed(10), { limits: { validFrom: new Date('2026-11-24T09:30:00Z') } })]).length).toBe(1);
    expect(run([ruleOf(1, fixed(10), { limits: { validTo: new Date('2026-11-24T09:30:00Z') } })]).length).toBe(0);
  });

  it('never when its campaign is not given', () => {
    expect(run([ruleOf(1, fixed(10), { campaignId: 'gone' })], { campaigns: [campaign('other')] })).toEqual([]);
  });

  it.each([
    [PARIS, true], // Friday 23:30 UTC is Saturday 00:30 in Paris
    ['America/New_York', false], // and Friday 18:30 in New York
    ['UTC', false],
    ['Asia/Tokyo', true],
  ])('a weekend rule for an event at 2026-11-27T23:30:00Z in %s applies: %s', (timeZone, applies) => {
    const awards = run([ruleOf(1, fixed(100), { condition: 'time.weekend' })], { occurredAt: new Date('2026-11-27T23:30:00Z'), timeZone });
    expect(pointsOf(awards)).toEqual(applies ? [100n] : []);
  });

  it('conditions read the order: order.total >= 3000 holds for 3399 and not once points paid 1000', () => {
    const big = ruleOf(1, fixed(100), { condition: 'order.total >= 3000' });
    expect(run([big]).length).toBe(1);
    expect(run([big], { paidWithPoints: 1000n }).length).toBe(0);
  });
});

describe('stacking', () => {
  // priority 10 cumulative, 5 exclusive, 5 cumulative (a later id), 1 cumulative
  const rules = (exclusiveApplies: boolean) => [
    ruleOf(4, fixed(1), { priority: 1 }),
    ruleOf(3, fixed(7), { priority: 5 }),
    ruleOf(2, fixed(50), { priority: 5, stacking: 'exclusive', condition: exclusiveApplies ? null : 'order.total > 1000000' }),
    ruleOf(1, fixed(100), { priority: 10 }),
  ];

  it('an exclusive rule that applies stops the rules after it; those before still apply', () => {
    expect(run(rules(true)).map((a) => [a.ruleId, a.points])).toEqual([[ruleIdOf(1), 100n], [ruleIdOf(2), 50n]]);
  });

  it('an exclusive rule that does not apply stops nothing', () => {
    expect(run(rules(false)).map((a) => [a.ruleId, a.points])).toEqual([[ruleIdOf(1), 100n], [ruleIdOf(3), 7n], [ruleIdOf(4), 1n]]);
  });

  it('an exclusive rule stops a multiplier of lower priority and keeps its own base', () => {
    const awards = run([ruleOf(1, perEuro(), { stacking: 'exclusive', priority: 2 }), ruleOf(2, times(5), { priority: 1 })]);
    expect(pointsOf(awards)).toEqual([33n]);
  });

  it('orders by priority, highest first, then by id', () => {
    const loaded = [ruleOf(3, fixed(1), { priority: 0 }), ruleOf(2, fixed(1), { priority: -1 }), ruleOf(1, fixed(1), { priority: 0 }), ruleOf(4, fixed(1), { priority: 7 })]
      .map((r) => loadRule(r, strategiesWith()));
    expect([...loaded].sort(byPriority).map((r) => r.rule.ruleId)).toEqual([4, 1, 3, 2].map(ruleIdOf));
  });
});

describe('limits', () => {
  it('a rule cap hit mid-order: 80 of 100 used this month leaves 20 of 33', () => {
    const rule = ruleOf(1, perEuro(), { limits: { perMember: [{ period: 'month', points: 100n, times: null }] } });
    const awards = run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|month`]: { points: 80n, times: 4 } }) });
    expect(awards).toMatchObject([{ points: 20n, uncapped: 33n, limitedBy: ['rule_cap'] }]);
    expect(run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|month`]: { points: 100n } }) })).toMatchObject([{ points: 0n, limitedBy: ['rule_cap'] }]);
    expect(run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|month`]: { points: 150n } }) })).toMatchObject([{ points: 0n, limitedBy: ['rule_cap'] }]);
    expect(run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|month`]: { points: 67n } }) })).toMatchObject([{ points: 33n, limitedBy: [] }]);
    // without limits (a dry run, a return's re-evaluation) caps do not count
    expect(run([rule])).toMatchObject([{ points: 33n, limitedBy: [] }]);
  });

  it('the tightest of several caps wins', () => {
    const rule = ruleOf(1, perEuro(), { limits: { perMember: [{ period: 'day', points: 30n, times: null }, { period: 'year', points: 1000n, times: null }] } });
    expect(run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|year`]: { points: 990n } }) })).toMatchObject([{ points: 10n, limitedBy: ['rule_cap'] }]);
    expect(run([rule], { limits: limitState() })).toMatchObject([{ points: 30n, limitedBy: ['rule_cap'] }]);
  });

  it('a campaign cap shared by several rules is used in priority order', () => {
    const bonus = campaign('bonus', { perMember: [{ period: 'month', points: 50n, times: null }] });
    const rules = [
      ruleOf(1, fixed(30), { campaignId: 'bonus', priority: 3 }),
      ruleOf(2, fixed(30), { campaignId: 'bonus', priority: 2, limits: { perMember: [{ period: 'week', points: 25n, times: null }] } }),
      ruleOf(3, fixed(10), { campaignId: 'bonus', priority: 1 }),
      ruleOf(4, fixed(10), { priority: 0 }),
    ];
    const awards = run(rules, { campaigns: [bonus], limits: limitState({ 'campaign:bonus|month': { points: 5n } }) });
    expect(awards.map((a) => [a.ruleId, a.points, a.uncapped, a.limitedBy])).toEqual([
      [ruleIdOf(1), 30n, 30n, []], // 5 + 30 = 35 of 50
      [ruleIdOf(2), 15n, 30n, ['rule_cap', 'campaign_cap']], // its own cap leaves 25, the campaign 15
      [ruleIdOf(3), 0n, 10n, ['campaign_cap']],
      [ruleIdOf(4), 10n, 10n, []], // not in the campaign
    ]);
  });

  it('a times cap: once a day', () => {
    const rule = ruleOf(1, fixed(10), { limits: { perMember: [{ period: 'day', points: null, times: 1 }] } });
    expect(run([rule], { limits: limitState() })).toMatchObject([{ points: 10n, limitedBy: [] }]);
    expect(run([rule], { limits: limitState({ [`rule:${ruleIdOf(1)}|day`]: { times: 1, points: 10n } }) })).toMatchObject([{ points: 0n, limitedBy: ['rule_cap'] }]);
  });

  it('a campaign times cap counts the awards of this event: the second rule gets nothing', () => {
    const once = campaign('once', { perMember: [{ period: 'lifetime', points: null, times: 1 }] });
    const rules = [ruleOf(1, fixed(10), { campaignId: 'once', priority: 1 }), ruleOf(2, fixed(20), { campaignId: 'once' })];
    expect(run(rules, { campaigns: [once], limits: limitState() }).map((a) => [a.points, a.limitedBy])).toEqual([[10n, []], [0n, ['campaign_cap']]]);
  });

  it('an award trimmed to nothing does not count as a time', () => {
    const once = campaign('once', { perMember: [{ period: 'lifetime', points: null, times: 1 }] });
    const rules = [
      ruleOf(1, fixed(10), { campaignId: 'once', priority: 1, limits: { budget: 0n } }),
      ruleOf(2, fixed(20), { campaignId: 'once' }),
    ];
    const limits = limitState({}, { [`rule:${ruleIdOf(1)}`]: 0n });
    expect(run(rules, { campaigns: [once], limits }).map((a) => [a.points, a.limitedBy])).toEqual([[0n, ['rule_budget']], [20n, []]]);
  });

  it.each([
    [null, 33n, []], [100n, 33n, []], [33n, 33n, []], [20n, 20n, ['rule_budget']], [0n, 0n, ['rule_budget']], [-5n, 0n, ['rule_budget']],
  ])('a rule budget with %s left gives %s', (left, points, limitedBy) => {
    const budgets = left === null ? {} : { [`rule:${ruleIdOf(1)}`]: left };
    expect(run([ruleOf(1, perEuro())], { limits: limitState({}, budgets) })).toMatchObject([{ points, uncapped: 33n, limitedBy }]);
  });

  it('a campaign budget shared by two rules: 40 left gives 30 and 10', () => {
    const rules = [ruleOf(1, fixed(30), { campaignId: 'c', priority: 1 }), ruleOf(2, fixed(30), { campaignId: 'c' })];
    const awards = run(rules, { campaigns: [campaign('c')], limits: limitState({}, { 'campaign:c': 40n }) });
    expect(awards.map((a) => [a.points, a.limitedBy])).toEqual([[30n, []], [10n, ['campaign_budget']]]);
  });
});

describe('loadRule', () => {
  it('parses a stored version once; a draft each time', () => {
    const strategies = strategiesWith();
    const rule = ruleOf(1, perEuro());
    expect(loadRule(rule, strategies)).toBe(loadRule({ ...rule }, strategies));
    expect(loadRule({ ...rule, enabled: false }, strategies).rule.enabled).toBe(false);
    const draft = { ...rule, version: 0 };
    expect(loadRule(draft, strategies)).not.toBe(loadRule(draft, strategies));
  });

  it('refuses an effect the process does not know', () => {
    expect(() => loadRule(ruleOf(1, { type: 'gone' }), strategiesWith())).toThrow(/gone/);
  });
});

describe('cap periods', () => {
  it.each([
    ['day', '2026-11-23T23:00:00.000Z'], ['week', '2026-11-22T23:00:00.000Z'], ['month', '2026-10-31T23:00:00.000Z'],
    ['year', '2025-12-31T23:00:00.000Z'], ['lifetime', null],
  ] as const)('a %s starts at %s in Paris for an event on Tuesday 24 November 2026', (period, start) => {
    // Tuesday 2026-11-24 00:30 in Paris
    expect(periodStart(period, new Date('2026-11-23T23:30:00Z'), PARIS)?.toISOString() ?? null).toBe(start);
  });

  it('capsOf lists the caps of the rules and their campaigns', () => {
    const strategies = strategiesWith();
    const c = campaign('c', { perMember: [{ period: 'year', points: 5n, times: null }] });
    const caps = capsOf([
      loadRule(ruleOf(1, fixed(1), { limits: { perMember: [{ period: 'day', points: 1n, times: null }] } }), strategies),
      loadRule(ruleOf(2, fixed(1), { campaignId: 'c' }), strategies),
      loadRule(ruleOf(3, fixed(1)), strategies),
    ], new Map([['c', c]]));
    expect([...caps.keys()]).toEqual([`rule:${ruleIdOf(1)}`, 'campaign:c']);
  });
});
