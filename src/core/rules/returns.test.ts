// The points a return takes back: each rule keeps the lesser of what it awarded and what it would
// award on the order as it now stands, all computed from the purchase so rounding never drifts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PurchaseLine, ReturnLine } from '../events/purchase.js';
import { goodsOf } from '../events/purchase.js';
import { decideReturn, returnedSoFar, type ReturnRequest } from '../events/returns.js';
import { basketOf, remainingBasket } from './basket.js';
import type { Facts } from './conditions.js';
import { evaluate, loadRule, type Award, type EvaluatedEvent, type LoadedRule } from './evaluate.js';
import { factsOf, NO_STATS, withBasket } from './facts.js';
import { validateRule, type Campaign, type Effect, type Rule } from './rule.js';
import { pointsToTakeBack, type RecordedAward } from './returns.js';
import { strategiesWith } from './strategies.js';
import { basketArbitrary, CREDIT_WALLET, returnPlan, ruleIdOf, ruleOf, ruleSetArbitrary } from '../../../test/support/event-arbitraries.js';

const line = (sku: string, quantity: bigint, unitPrice: bigint, discount = 0n, category: string | null = null): PurchaseLine =>
  ({ sku, category, quantity, unitPrice, discount });
// 2 × €12.50 and 1 × €9.99 with €1.00 off: 3399, 33 points at 1 point per euro
const SHOP = [line('LATTE-L', 2n, 1250n, 0n, 'coffee'), line('BEANS-1KG', 1n, 999n, 100n, 'beans')];
const perEuro: Effect = { type: 'points_per_amount', points: 1, per: 100 };

interface Purchase {
  lines: PurchaseLine[];
  total: bigint;
  awards: Award[];
  rules: LoadedRule[];
  campaigns: Map<string, Campaign>;
  facts: Facts;
  event: EvaluatedEvent;
}

/** A purchase evaluated as the service does, without limits; a fresh strategy map so no parsed rule is reused. */
function buy(lines: PurchaseLine[], rules: Rule[], over: { paidWithPoints?: bigint; tier?: string | null; occurredAt?: Date; externalId?: string } = {}): Purchase {
  const strategies = strategiesWith();
  const paidWithPoints = over.paidWithPoints ?? 0n;
  const total = goodsOf(lines) - paidWithPoints;
  const basket = basketOf(lines, total);
  const event: EvaluatedEvent = { externalId: over.externalId ?? 'order-1', channel: null, location: null, occurredAt: over.occurredAt ?? new Date('2026-11-24T09:30:00Z') };
  const facts = factsOf({
    event: { ...event, type: 'purchase', orderId: null, attributes: {}, currency: 'EUR', paidWithPoints },
    basket, member: { memberId: 'm', tier: over.tier ?? null, grade: null, attributes: {}, birthday: null, enrolledAt: new Date('2026-01-01T00:00:00Z') },
    stats: NO_STATS, timeZone: 'Europe/Paris',
  });
  const loaded = rules.map((r) => loadRule(r, strategies));
  const campaigns = new Map<string, Campaign>();
  return { lines, total, awards: evaluate({ rules: loaded, campaigns, basket, facts, event }), rules: loaded, campaigns, facts, event };
}

/** What the service records of a purchase: the awards > 0, and every rule that fired (trimmed to 0 too) at its version. */
function recorded(p: Purchase, awards: readonly Award[] = p.awards): { awarded: RecordedAward[]; rules: LoadedRule[] } {
  const awarded = awards.filter((a) => a.points > 0n).map((a) => ({ ruleId: a.ruleId, wallet: a.wallet, points: a.points }));
  return { awarded, rules: p.rules.filter((r) => awards.some((a) => a.ruleId === r.rule.ruleId)) };
}

interface Step {
  refundAmount: bigint;
  /** per rule, what this return takes back */
  back: Record<string, bigint>;
}

/** Runs returns one after the other, as the service does: money from decideReturn, points from pointsToTakeBack. */
function returns(p: Purchase, requests: ReturnRequest[], awards: readonly Award[] = p.awards): Step[] {
  const { awarded, rules } = recorded(p, awards);
  const done: { lines: ReturnLine[] | null; refundAmount: bigint }[] = [];
  const takenBack = new Map<string, bigint>();
  return requests.map((request) => {
    const d = decideReturn({ lines: p.lines, total: p.total }, { returned: returnedSoFar(done), refunded: done.reduce((s, r) => s + r.refundAmount, 0n) }, request);
    done.push({ lines: 'lines' in request ? [...request.lines] : null, refundAmount: d.refundAmount });
    const back = pointsToTakeBack({
      awarded, rules, campaigns: p.campaigns, facts: p.facts, event: p.event, remaining: remainingBasket(p.lines, d.returned, d.paidLeft), takenBack,
    });
    for (const b of back) takenBack.set(b.ruleId, (takenBack.get(b.ruleId) ?? 0n) + b.points);
    return { refundAmount: d.refundAmount, back: Object.fromEntries(back.map((b) => [b.ruleId, b.points])) };
  });
}

const ret = (...pairs: [string, bigint][]): ReturnRequest => ({ lines: pairs.map(([sku, quantity]) => ({ sku, quantity })) });
const R1 = ruleIdOf(1);
const R2 = ruleIdOf(2);
/** Steps with the one rule's take-back only (0 when it took nothing). */
const single = (steps: Step[]) => steps.map((s) => ({ refundAmount: s.refundAmount, back: s.back[R1] ?? 0n }));

describe('one rule of 1 point per €1 takes back what the old base rate did: floor(paid left / 100) is kept', () => {
  const purchase = buy(SHOP, [ruleOf(1, perEuro)]);

  it('earns 33 on 3399', () => {
    expect(purchase.awards.map((a) => a.points)).toEqual([33n]);
  });

  it.each([
    ['one line: 33 − floor(2500/100) = 8', [ret(['BEANS-1KG', 1n])], [[899n, 8n]]],
    ['then the rest: 8 + 25 = 33', [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])], [[899n, 8n], [2500n, 25n]]],
    ['unit by unit: 12 (keeps 21), 9 (keeps 12), 12 (keeps 0)',
      [ret(['LATTE-L', 1n]), ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 1n])], [[1250n, 12n], [899n, 9n], [1250n, 12n]]],
    ['everything at once', [ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])], [[3399n, 33n]]],
    ['€10 by amount keeps floor(2399/100) = 23, takes 10', [{ refundAmount: 1000n }], [[1000n, 10n]]],
    ['€30 by amount, then every line: 30, then the 3 left', [{ refundAmount: 3000n }, ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])], [[3000n, 30n], [399n, 3n]]],
    ['€0.99 by amount keeps floor(3300/100) = 33: nothing back', [{ refundAmount: 99n }], [[99n, 0n]]],
    ['€1 by amount keeps 32: 1 back', [{ refundAmount: 100n }], [[100n, 1n]]],
  ] as [string, ReturnRequest[], [bigint, bigint][]][])('%s', (_, requests, expected) => {
    expect(single(returns(purchase, requests))).toEqual(expected.map(([refundAmount, back]) => ({ refundAmount, back })));
  });

  it('spreads what points paid over the lines: €10 in points, beans back → refund 634, 23 − 17 = 6, then 17', () => {
    const partly = buy(SHOP, [ruleOf(1, perEuro)], { paidWithPoints: 1000n });
    expect(partly.awards.map((a) => a.points)).toEqual([23n]);
    expect(single(returns(partly, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])]))).toEqual([
      { refundAmount: 634n, back: 6n }, { refundAmount: 1765n, back: 17n },
    ]);
  });

  it('a discounted line unit by unit: 3 × 333 − 1 = 998 → 9 points; refunds 332, 333, 333 keep 6, 3, 0', () => {
    const mugs = buy([line('MUG', 3n, 333n, 1n)], [ruleOf(1, perEuro)]);
    expect(mugs.awards.map((a) => a.points)).toEqual([9n]);
    expect(single(returns(mugs, [ret(['MUG', 1n]), ret(['MUG', 1n]), ret(['MUG', 1n])]))).toEqual([
      { refundAmount: 332n, back: 3n }, { refundAmount: 333n, back: 3n }, { refundAmount: 333n, back: 3n },
    ]);
  });
});

describe('a minimum-spend bonus', () => {
  // 2 × €30 + 1 × €10 = 7000: 70 points, and a bonus of 500 from €50 paid
  const lines = [line('SHOES', 2n, 3000n), line('SOCKS', 1n, 1000n)];
  const rules = [ruleOf(1, perEuro), ruleOf(2, { type: 'fixed_points', points: 500 }, { limits: { minSpend: 5000n } })];

  it('is kept while what is left still reaches the minimum, and taken back entirely once it does not', () => {
    const p = buy(lines, rules);
    expect(p.awards.map((a) => a.points)).toEqual([70n, 500n]);
    expect(returns(p, [ret(['SOCKS', 1n]), ret(['SHOES', 1n]), ret(['SHOES', 1n])]).map((s) => s.back)).toEqual([
      { [R1]: 10n }, // 6000 left: the bonus stays
      { [R1]: 30n, [R2]: 500n }, // 3000 left, under 5000: all of it goes
      { [R1]: 30n }, // nothing more to take of the bonus
    ]);
  });

  it('goes on a partial refund by amount that drops below the minimum', () => {
    const p = buy(lines, rules);
    expect(returns(p, [{ refundAmount: 2000n }, { refundAmount: 1n }]).map((s) => s.back)).toEqual([{ [R1]: 20n }, { [R1]: 1n, [R2]: 500n }]);
  });

  it('written as a condition, order.total >= 5000, behaves the same', () => {
    const p = buy(lines, [ruleOf(1, perEuro), ruleOf(2, { type: 'fixed_points', points: 500 }, { condition: 'order.total >= 5000' })]);
    expect(returns(p, [ret(['SOCKS', 1n]), ret(['SHOES', 1n])]).map((s) => s.back)).toEqual([{ [R1]: 10n }, { [R1]: 30n, [R2]: 500n }]);
  });
});

describe('pointsToTakeBack', () => {
  const rich = [
    ruleOf(1, perEuro, { priority: 5 }),
    ruleOf(2, { type: 'multiplier', factor: 3, categories: ['coffee'] }),
    ruleOf(3, { type: 'tier_multiplier', tiers: { gold: 2 } }),
    ruleOf(4, { type: 'percent_back', percent: 10, wallet: CREDIT_WALLET }),
    ruleOf(5, { type: 'surprise', probability: 1, points: 40 }),
    ruleOf(6, { type: 'fixed_points', points: 500 }, { condition: "member.tier == 'gold'" }),
  ];

  it('takes back exactly everything awarded on a full return, in every wallet', () => {
    const p = buy(SHOP, rich, { tier: 'gold' });
    // 33 base (24 + 9 on the lines), 2 × 24 coffee, 33 tier, 339 credit, 40, 500
    expect(p.awards.map((a) => [a.points, a.wallet])).toEqual([
      [33n, null], [48n, null], [33n, null], [339n, CREDIT_WALLET], [40n, null], [500n, null],
    ]);
    const [all] = returns(p, [ret(['LATTE-L', 2n], ['BEANS-1KG', 1n])]);
    expect(all!.back).toEqual(Object.fromEntries(p.awards.map((a) => [a.ruleId, a.points])));
  });

  it('names the wallet of each take-back', () => {
    const p = buy(SHOP, rich, { tier: 'gold' });
    const { awarded, rules } = recorded(p);
    const back = pointsToTakeBack({
      awarded, rules, campaigns: p.campaigns, facts: p.facts, event: p.event, remaining: remainingBasket(SHOP, new Map([['BEANS-1KG', 1n]]), 2500n), takenBack: new Map(),
    });
    // 25 of 33 base kept; the coffee multiplier would give 50 now and keeps its 48; the tier 25 of 33; credit 250 of 339
    expect(back).toEqual([
      { ruleId: ruleIdOf(1), wallet: null, points: 8n },
      { ruleId: ruleIdOf(3), wallet: null, points: 8n },
      { ruleId: ruleIdOf(4), wallet: CREDIT_WALLET, points: 89n },
    ]);
  });

  it('keeps the lesser of what was awarded (after caps) and what the rest would earn now', () => {
    const p = buy(SHOP, [ruleOf(1, perEuro)]);
    const capped = [{ ...p.awards[0]!, points: 20n }]; // a cap let the purchase earn 20 of 33
    expect(single(returns(p, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 1n]), ret(['LATTE-L', 1n])], capped))).toEqual([
      { refundAmount: 899n, back: 0n }, // 25 would be earned now: the 20 stay
      { refundAmount: 1250n, back: 8n }, // 12 now
      { refundAmount: 1250n, back: 12n },
    ]);
  });

  it('respects what earlier returns took back: never twice, never below nothing', () => {
    const p = buy(SHOP, [ruleOf(1, perEuro)]);
    const { awarded, rules } = recorded(p);
    const afterBeans = remainingBasket(SHOP, new Map([['BEANS-1KG', 1n]]), 2500n);
    const back = (takenBack: bigint) => pointsToTakeBack({
      awarded, rules, campaigns: p.campaigns, facts: p.facts, event: p.event, remaining: afterBeans, takenBack: new Map([[R1, takenBack]]),
    });
    expect(back(0n)).toEqual([{ ruleId: R1, wallet: null, points: 8n }]);
    expect(back(5n)).toEqual([{ ruleId: R1, wallet: null, points: 3n }]);
    expect(back(8n)).toEqual([]);
    expect(back(20n)).toEqual([]);
  });

  it('keeps nothing when nothing paid is left, even with every unit kept', () => {
    const p = buy(SHOP, [ruleOf(1, perEuro), ruleOf(2, { type: 'fixed_points', points: 500 })]);
    expect(returns(p, [{ refundAmount: 3399n }]).map((s) => s.back)).toEqual([{ [R1]: 33n, [R2]: 500n }]);
  });

  it('keeps a fixed bonus whose condition still holds, and a surprise drawn the same as at the purchase', () => {
    const p = buy(SHOP, [ruleOf(1, { type: 'fixed_points', points: 500 }), ruleOf(2, { type: 'surprise', probability: '0.5', points: 40 })], { externalId: 'order-7' });
    const won = p.awards[1]!.points;
    expect(returns(p, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 1n])]).map((s) => s.back)).toEqual([{}, {}]);
    expect(returns(p, [ret(['BEANS-1KG', 1n], ['LATTE-L', 2n])]).map((s) => s.back)).toEqual([{ [R1]: 500n, ...(won > 0n ? { [R2]: won } : {}) }]);
  });

  it('of an order paid only with points keeps its fixed bonus while some units are kept, and nothing once all are back', () => {
    const p = buy(SHOP, [ruleOf(1, { type: 'fixed_points', points: 500 })], { paidWithPoints: 3399n });
    expect(returns(p, [ret(['BEANS-1KG', 1n]), ret(['LATTE-L', 2n])]).map((s) => s.back)).toEqual([{}, { [R1]: 500n }]);
  });

  it('takes back a multiplier by its lines even when the base rule it built on was capped to 0', () => {
    // 10 units of €10: base 100 points, capped to 0 by its rule cap; 2x adds 100 on the uncapped base
    const lines = [line('TEA', 10n, 1000n)];
    const p = buy(lines, [ruleOf(1, perEuro, { limits: { perMember: [{ period: 'month', points: 0n, times: null }] } }), ruleOf(2, { type: 'multiplier', factor: 2 })]);
    const capped = evaluate({
      rules: p.rules, campaigns: p.campaigns, basket: basketOf(lines, 10_000n), facts: p.facts, event: p.event,
      limits: { usage: () => ({ points: 0n, times: 0 }), budgetLeft: () => null },
    });
    expect(capped.map((a) => a.points)).toEqual([0n, 100n]);
    // one unit of ten comes back: the multiplier keeps 2 × 90 − 90 = 90, so 10 go back
    const { awarded, rules } = recorded(p, capped);
    const back = pointsToTakeBack({
      awarded, rules, campaigns: p.campaigns, facts: p.facts, event: p.event, takenBack: new Map(),
      remaining: remainingBasket(lines, new Map([['TEA', 1n]]), 9000n),
    });
    expect(back).toEqual([{ ruleId: R2, wallet: null, points: 10n }]);
  });

  it('takes nothing from a rule the purchase did not award', () => {
    const p = buy(SHOP, [ruleOf(1, perEuro)]);
    const back = pointsToTakeBack({
      awarded: [], rules: p.rules, campaigns: p.campaigns, facts: p.facts, event: p.event, remaining: remainingBasket(SHOP, new Map(), 0n), takenBack: new Map(),
    });
    expect(back).toEqual([]);
  });
});

describe('withBasket', () => {
  it('asks the order facts again of what is left and keeps everything else', () => {
    const p = buy(SHOP, [], { paidWithPoints: 1000n, tier: 'gold' });
    const remaining = remainingBasket(SHOP, new Map([['LATTE-L', 2n]]), 634n);
    const now = withBasket(p.facts, remaining);
    expect(now.order).toEqual({
      total: 634n, goods: 899n, paidWithPoints: 1000n, currency: 'EUR', quantity: 1n,
      lines: [{ sku: 'BEANS-1KG', category: 'beans', quantity: 1n, unitPrice: 999n, discount: 100n, net: 899n }],
      skus: ['BEANS-1KG'], categories: ['beans'],
    });
    expect({ ...now, order: null }).toEqual({ ...p.facts, order: null });
    expect(p.facts.order.total).toBe(2399n);
  });
});

// Any rules, any basket, any sequence of returns ending with the last units.
describe('any rules, basket and sequence of returns', () => {
  it('take back ≥ 0 each time, never more than a rule awarded, keep the least kept so far, and everything at the end', () => {
    fc.assert(fc.property(
      basketArbitrary.chain((lines) => fc.tuple(
        fc.constant(lines), fc.integer({ min: 0, max: 100 }), ruleSetArbitrary, returnPlan(lines),
        fc.constantFrom<string | null>(null, 'gold', 'silver'), fc.constantFrom('2026-11-24T09:30:00Z', '2026-11-28T11:00:00Z'),
      )),
      ([lines, paidPct, rules, plan, tier, at]) => {
        const p = buy(lines, rules, { paidWithPoints: (goodsOf(lines) * BigInt(paidPct)) / 100n, tier, occurredAt: new Date(at) });
        const { awarded, rules: used } = recorded(p);
        const awardOf = new Map(awarded.map((a) => [a.ruleId, a.points]));
        const takenBack = new Map<string, bigint>();
        const least = new Map(awardOf);
        const done: { lines: ReturnLine[] | null; refundAmount: bigint }[] = [];
        let refunded = 0n;
        for (const step of plan) {
          const request: ReturnRequest = 'lines' in step ? step : { refundAmount: ((p.total - refunded) * BigInt(step.refundPct)) / 100n };
          if ('refundAmount' in request && request.refundAmount === 0n) continue;
          const d = decideReturn({ lines, total: p.total }, { returned: returnedSoFar(done), refunded }, request);
          done.push({ lines: 'lines' in request ? [...request.lines] : null, refundAmount: d.refundAmount });
          refunded += d.refundAmount;
          expect(d.paidLeft).toBe(p.total - refunded);
          const remaining = remainingBasket(lines, d.returned, d.paidLeft);
          const back = pointsToTakeBack({ awarded, rules: used, campaigns: p.campaigns, facts: p.facts, event: p.event, remaining, takenBack });
          for (const b of back) {
            expect(b.points).toBeGreaterThanOrEqual(0n);
            expect(b.wallet).toBe(awarded.find((a) => a.ruleId === b.ruleId)!.wallet);
            takenBack.set(b.ruleId, (takenBack.get(b.ruleId) ?? 0n) + b.points);
          }
          // what each rule would award now: the purchase's rules and facts on what is left, without limits
          const nothingLeft = remaining.lines.length === 0 || (p.facts.order.total > 0n && remaining.paid === 0n);
          const now = nothingLeft ? [] : evaluate({ rules: used, campaigns: p.campaigns, basket: remaining, facts: withBasket(p.facts, remaining), event: p.event });
          for (const [ruleId, points] of awardOf) {
            const would = now.find((a) => a.ruleId === ruleId)?.points ?? 0n;
            const kept = would < points ? would : points;
            if (kept < least.get(ruleId)!) least.set(ruleId, kept);
            const taken = takenBack.get(ruleId) ?? 0n;
            expect(taken).toBeLessThanOrEqual(points);
            expect(points - taken).toBe(least.get(ruleId));
          }
        }
        expect(refunded).toBe(p.total);
        for (const [ruleId, points] of awardOf) expect(takenBack.get(ruleId) ?? 0n).toBe(points);
        expect([...takenBack.keys()].every((id) => awardOf.has(id))).toBe(true);
      },
    ), { numRuns: 300 });
  });

  it('ruleSetArbitrary makes rules a program would accept, unchanged by validation', () => {
    const env = { strategies: strategiesWith(), wallets: new Set([CREDIT_WALLET]) };
    fc.assert(fc.property(ruleSetArbitrary, (rules) => {
      expect(rules.map((r) => r.ruleId)).toEqual([...rules.map((r) => r.ruleId)].sort());
      for (const r of rules) {
        const { ruleId: _i, programId: _p, version, enabled, ...definition } = r;
        expect([version, enabled]).toEqual([1, true]);
        expect(validateRule(definition, env)).toEqual(definition);
      }
    }), { numRuns: 200 });
  });
});
