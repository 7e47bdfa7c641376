// Random baskets, earning rules and return plans for the properties of events (core and end to end).
import fc from 'fast-check';
import type { PurchaseLine, ReturnLine } from '../../src/core/events/purchase.js';
import type { Effect, Rule, RuleLimits } from '../../src/core/rules/rule.js';

/** The categories baskets draw from, and that rules filter on. */
export const CATEGORIES = ['coffee', 'tea', 'food'] as const;
/** The store-credit wallet percent_back rules pay into: a program running ruleSetArbitrary needs it. */
export const CREDIT_WALLET = 'credit';
/** Tiers the tier multipliers name (a member may also have none: ''). */
export const TIERS = ['gold', 'silver'] as const;

const line = (sku: string, category: string | null, quantity: bigint, unitPrice: bigint, discount: bigint): PurchaseLine =>
  ({ sku, category, quantity, unitPrice, discount });

/** 1 to 5 lines of 1 to 6 units, up to €200 a unit, each with 0 to 100 % off, in a category or none. */
export const basketArbitrary = fc.array(
  fc.record({
    quantity: fc.integer({ min: 1, max: 6 }), unitPrice: fc.integer({ min: 0, max: 20_000 }), discountPct: fc.integer({ min: 0, max: 100 }),
    category: fc.constantFrom<string | null>(null, ...CATEGORIES),
  }),
  { minLength: 1, maxLength: 5 },
).map((ls) => ls.map((l, i) => line(`SKU-${i}`, l.category, BigInt(l.quantity), BigInt(l.unitPrice),
  (BigInt(l.quantity) * BigInt(l.unitPrice) * BigInt(l.discountPct)) / 100n)));

/** A return of some lines, or a refund of a percentage of what is left to refund. */
export type ReturnStep = { lines: ReturnLine[] } | { refundPct: number };

/** Every unit of the basket, shuffled, cut into returns; after some of them, a refund by amount too. */
export function returnPlan(lines: PurchaseLine[]): fc.Arbitrary<ReturnStep[]> {
  const units = lines.flatMap((l) => Array.from({ length: Number(l.quantity) }, () => l.sku));
  return fc.tuple(
    fc.shuffledSubarray(units.map((sku, i) => ({ sku, i })), { minLength: units.length, maxLength: units.length }),
    fc.array(fc.boolean(), { minLength: units.length, maxLength: units.length }),
    fc.array(fc.integer({ min: 0, max: 100 }), { minLength: units.length, maxLength: units.length }),
  ).map(([order, cuts, amountPcts]) => {
    const plan: ReturnStep[] = [];
    let chunk = new Map<string, bigint>();
    order.forEach(({ sku }, k) => {
      chunk.set(sku, (chunk.get(sku) ?? 0n) + 1n);
      if (cuts[k] || k === order.length - 1) {
        plan.push({ lines: [...chunk].map(([s, quantity]) => ({ sku: s, quantity })) });
        chunk = new Map();
        if (amountPcts[k]! < 15) plan.push({ refundPct: amountPcts[k]! });
      }
    });
    // Refunds by amount never come last: the last return brings the last units back.
    while ('refundPct' in plan[plan.length - 1]!) plan.pop();
    return plan;
  });
}

// ---- rules -----------------------------------------------------------------------------------

export const NO_LIMITS: RuleLimits = {
  validFrom: null, validTo: null, channels: null, locations: null, minSpend: null, perMember: [], budget: null,
};

export const PROGRAM_ID = '00000000-0000-7000-8000-00000000aaaa';

/** A uuid-like rule id; ids sort by `n`, as time-ordered uuids do. */
export const ruleIdOf = (n: number): string => `00000000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;

/** A stored rule (version 1, enabled, purchase trigger, no condition, no limits), with what differs. */
export function ruleOf(n: number, effect: Effect, more: Partial<Omit<Rule, 'limits'>> & { limits?: Partial<RuleLimits> } = {}): Rule {
  const { limits, ...rest } = more;
  return {
    ruleId: ruleIdOf(n), programId: PROGRAM_ID, version: 1, enabled: true,
    name: `rule ${n} (${effect.type})`, description: null, trigger: 'purchase', condition: null, effect,
    stacking: 'cumulative', priority: 0, campaignId: null,
    ...rest,
    limits: { ...NO_LIMITS, ...limits },
  };
}

const categoriesArbitrary = fc.option(fc.subarray([...CATEGORIES], { minLength: 1 }), { nil: undefined });
const withCategories = (effect: Effect, categories: string[] | undefined): Effect => (categories ? { ...effect, categories } : effect);

/**
 * The built-in effects with params as a client writes them (JSON: numbers and strings); points per
 * amount three times as often as each other effect, so that multipliers usually have a base.
 */
export const effectArbitrary: fc.Arbitrary<Effect> = fc.oneof(
  { weight: 3, arbitrary: fc.record({
    points: fc.integer({ min: 1, max: 5 }), per: fc.constantFrom(1, 50, 100, 250, 700, 1000),
    rounding: fc.constantFrom('order', 'line'), mode: fc.constantFrom('down', 'half_up', 'up'), categories: categoriesArbitrary,
  }).map(({ categories, ...p }) => withCategories({ type: 'points_per_amount', ...p }, categories)) },
  fc.integer({ min: 1, max: 500 }).map((points): Effect => ({ type: 'fixed_points', points })),
  fc.record({ factor: fc.constantFrom<number | string>(2, 3, '1.5', 1.25, '2.5'), categories: categoriesArbitrary })
    .map(({ factor, categories }) => withCategories({ type: 'multiplier', factor }, categories)),
  fc.constantFrom<Record<string, number | string>>({ gold: 2 }, { gold: 3, silver: '1.5' }, { silver: 1.25 })
    .map((tiers): Effect => ({ type: 'tier_multiplier', tiers })),
  fc.record({ percent: fc.constantFrom<number | string>(10, '2.5', 5, 0), mode: fc.constantFrom('down', 'half_up', 'up') })
    .map((p): Effect => ({ type: 'percent_back', ...p, wallet: CREDIT_WALLET })),
  fc.record({ probability: fc.constantFrom<number | string>('0.25', '0.5', 1, 0), points: fc.integer({ min: 1, max: 100 }) })
    .map((p): Effect => ({ type: 'surprise', ...p })),
);

/** Simple conditions over the order, the member and the time. */
export const conditionArbitrary: fc.Arbitrary<string | null> = fc.constantFrom(
  null, null, null, 'order.total >= 5000', 'order.quantity >= 3', "member.tier == 'gold'", "'coffee' in order.categories", 'time.weekend',
);

/**
 * 1 to 6 stored rules of one program on the purchase trigger (ids sorted, version 1, enabled, no
 * limits), drawn from the built-in effects, with simple conditions, priorities 0 to 3 and
 * mostly cumulative stacking. The ids repeat from one set to the next: evaluate each set with its
 * own strategy map (strategiesWith()), since loadRule caches parsed rules by id and version.
 */
export const ruleSetArbitrary: fc.Arbitrary<Rule[]> = fc.array(
  fc.record({
    effect: effectArbitrary, condition: conditionArbitrary,
    stacking: fc.constantFrom<Rule['stacking']>('cumulative', 'cumulative', 'cumulative', 'exclusive'),
    priority: fc.integer({ min: 0, max: 3 }),
  }),
  { minLength: 1, maxLength: 6 },
).map((drawn) => drawn.map((r, i) => ruleOf(i + 1, r.effect, { condition: r.condition, stacking: r.stacking, priority: r.priority })));
