// Reward calculation is pluggable: every effect is an EarningStrategy, the built-in ones below
// included. A brand adds its own by passing more strategies to openLaurel (README "Earning
// rules"); rules then name it as their effect type, and its params are checked on save by parse().
import { invalid } from '../errors.js';
import { integerIn } from '../events/rate.js';
import { MAX_POINTS } from '../points.js';
import { allocate, type Basket, type BasketLine } from './basket.js';
import type { Facts } from './conditions.js';
import { divide, parseDecimal, ROUNDING_MODES, show, type Ratio, type RoundingMode } from './money.js';

/** Base effects earn on the basket; bonus effects run after them and may build on their points (multipliers). */
export type Phase = 'base' | 'bonus';

export type DetailValue = string | number | boolean | bigint | null;

export interface AwardInput<P> {
  params: P;
  basket: Basket;
  facts: Facts;
  /** points each basket line earned from the base effects that fired, before limits */
  base: readonly bigint[];
  /** a number in [0, 10^9) drawn from the rule and the event id: the same event always draws the same (hashed only when asked) */
  draw(): bigint;
}

export interface AwardResult {
  points: bigint;
  /** base effects: the points per basket line (Σ = points), which multipliers build on */
  perLine?: bigint[];
  /** the inputs that made the amount, for the explanation */
  detail: Record<string, DetailValue>;
}

export interface EarningStrategy<P = unknown> {
  readonly type: string;
  readonly description: string;
  readonly phase: Phase;
  /** the triggers it makes sense for; any when absent */
  readonly triggers?: readonly string[];
  /** checks the effect's params (everything but `type`), naming fields under `prefix` */
  parse(params: Record<string, unknown>, prefix: string): P;
  /** the wallet code it pays into; null: the program's points wallet */
  wallet(params: P): string | null;
  /** pure: the same input always gives the same award */
  award(input: AwardInput<P>): AwardResult;
}

export type Strategies = ReadonlyMap<string, EarningStrategy>;

// ---- shared parameter checks --------------------------------------------------------------

function only(params: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(params)) if (!allowed.includes(k)) throw invalid(`${prefix}${k}`, `${prefix}${k} is not a parameter of this effect`);
}

function points(value: unknown, field: string, min = 1n): bigint {
  return integerIn(value, min, MAX_POINTS, field);
}

function mode(value: unknown, field: string): RoundingMode {
  if (value === undefined) return 'down';
  if (!ROUNDING_MODES.includes(value as RoundingMode)) throw invalid(field, `${field} must be one of ${ROUNDING_MODES.join(', ')}`);
  return value as RoundingMode;
}

interface LineFilter {
  skus: ReadonlySet<string> | null;
  categories: ReadonlySet<string> | null;
}

function lineFilter(params: Record<string, unknown>, prefix: string): LineFilter {
  const list = (v: unknown, f: string): ReadonlySet<string> | null => {
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.length === 0 || v.length > 500 || v.some((x) => typeof x !== 'string' || x === '' || x.length > 200)) {
      throw invalid(f, `${f} must be a list of 1 to 500 names`);
    }
    return new Set(v as string[]);
  };
  return { skus: list(params.skus, `${prefix}skus`), categories: list(params.categories, `${prefix}categories`) };
}

/** A line counts when it matches the sku list or the category list; with neither, every line counts. */
function matches(line: BasketLine, filter: LineFilter): boolean {
  if (!filter.skus && !filter.categories) return true;
  return (filter.skus?.has(line.sku) ?? false) || (line.category !== null && (filter.categories?.has(line.category) ?? false));
}

const filterDetail = (f: LineFilter): Record<string, DetailValue> => ({
  ...(f.skus ? { skus: [...f.skus].join(',') } : {}), ...(f.categories ? { categories: [...f.categories].join(',') } : {}),
});

const ONE: Ratio = { numerator: 1n, denominator: 1n };
const ZERO: Ratio = { numerator: 0n, denominator: 1n };

/** Extra points of a multiplier over `base`: (factor − 1) × base, rounded down. */
const extra = (factor: Ratio, base: bigint): bigint =>
  factor.numerator <= factor.denominator ? 0n : divide(base * (factor.numerator - factor.denominator), factor.denominator, 'down');

// ---- built-in effects ---------------------------------------------------------------------

interface PerAmount extends LineFilter { points: bigint; per: bigint; rounding: 'order' | 'line'; mode: RoundingMode }

/** `points` for every `per` minor units paid (1 per 100: a point per euro), rounded per order or per line. */
export const pointsPerAmount: EarningStrategy<PerAmount> = {
  type: 'points_per_amount',
  description: 'points for every `per` minor units of money paid on the matching lines (all lines by default)',
  phase: 'base',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, ['points', 'per', 'rounding', 'mode', 'skus', 'categories'], prefix);
    const rounding = params.rounding ?? 'order';
    if (rounding !== 'order' && rounding !== 'line') throw invalid(`${prefix}rounding`, `${prefix}rounding must be order or line`);
    return {
      points: points(params.points, `${prefix}points`), per: integerIn(params.per, 1n, 1_000_000_000n, `${prefix}per`),
      rounding, mode: mode(params.mode, `${prefix}mode`), ...lineFilter(params, prefix),
    };
  },
  wallet: () => null,
  award({ params: p, basket }) {
    const paid = basket.lines.map((l) => (matches(l, p) ? l.paid : 0n));
    const amount = paid.reduce((s, x) => s + x, 0n);
    let perLine: bigint[];
    if (p.rounding === 'line') {
      perLine = paid.map((x) => divide(x * p.points, p.per, p.mode));
    } else {
      perLine = allocate(divide(amount * p.points, p.per, p.mode), paid);
    }
    const total = perLine.reduce((s, x) => s + x, 0n);
    return { points: total, perLine, detail: { amount, rate: `${p.points} per ${p.per}`, rounding: `${p.rounding}, ${p.mode}`, ...filterDetail(p) } };
  },
};

/** A fixed number of points: per visit, per action, a welcome, birthday or first-purchase bonus. */
export const fixedPoints: EarningStrategy<{ points: bigint }> = {
  type: 'fixed_points',
  description: 'a fixed number of points each time the rule fires',
  phase: 'base',
  parse(params, prefix) {
    only(params, ['points'], prefix);
    return { points: points(params.points, `${prefix}points`) };
  },
  wallet: () => null,
  award: ({ params }) => ({ points: params.points, detail: { points: params.points } }),
};

interface Multiplier extends LineFilter { factor: Ratio }

/** Multiplies what the base effects earned on the matching lines: factor 3 adds twice the base. */
export const multiplier: EarningStrategy<Multiplier> = {
  type: 'multiplier',
  description: 'adds (factor − 1) × the base points of the matching lines; multipliers add up (2x and 3x make 4x)',
  phase: 'bonus',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, ['factor', 'skus', 'categories'], prefix);
    return { factor: parseDecimal(params.factor, `${prefix}factor`, ONE, { numerator: 100n, denominator: 1n }), ...lineFilter(params, prefix) };
  },
  wallet: () => null,
  award({ params: p, basket, base }) {
    const on = basket.lines.reduce((s, l, i) => (matches(l, p) ? s + base[i]! : s), 0n);
    return { points: extra(p.factor, on), detail: { factor: show(p.factor), base: on, ...filterDetail(p) } };
  },
};

/**
 * The member's tier multiplier over all base points: the factors given ({ gold: 2, vip: 3 }), or
 * without them the earnMultiplier the program's tier ladder gives the member's tier.
 */
export const tierMultiplier: EarningStrategy<{ tiers: Map<string, Ratio> | null }> = {
  type: 'tier_multiplier',
  description: "multiplies the base points by the factor of the member's tier: the one listed in tiers, or without tiers the tier ladder's earnMultiplier (a tier without one: no extra)",
  phase: 'bonus',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, ['tiers'], prefix);
    const given = params.tiers;
    if (given === undefined || given === null) return { tiers: null };
    if (typeof given !== 'object' || Array.isArray(given) || Object.keys(given).length === 0 || Object.keys(given).length > 50) {
      throw invalid(`${prefix}tiers`, `${prefix}tiers must map 1 to 50 tier codes to factors, such as { "gold": 2 }, or be left out to use the tier ladder's`);
    }
    const tiers = new Map<string, Ratio>();
    for (const [code, factor] of Object.entries(given)) {
      tiers.set(code, parseDecimal(factor, `${prefix}tiers.${code}`, ONE, { numerator: 100n, denominator: 1n }));
    }
    return { tiers };
  },
  wallet: () => null,
  award({ params, facts, base }) {
    const { tier, tierMultiplier: fromLadder } = facts.member;
    const factor = params.tiers ? params.tiers.get(tier)
      // Facts stored before ladders existed have no multiplier: no extra, as at the time.
      : fromLadder ? parseDecimal(fromLadder, 'tierMultiplier', ONE, { numerator: 100n, denominator: 1n }) : undefined;
    const on = base.reduce((s, x) => s + x, 0n);
    return {
      points: factor ? extra(factor, on) : 0n,
      detail: { tier, factor: factor ? show(factor) : null, base: on, ...(params.tiers ? {} : { from: 'tier ladder' }) },
    };
  },
};

interface PercentBack extends LineFilter { percent: Ratio; wallet: string; mode: RoundingMode }

/** Store credit: a percentage of the money paid, in minor units, into a money wallet (REI's 10%). */
export const percentBack: EarningStrategy<PercentBack> = {
  type: 'percent_back',
  description: 'a percentage of the money paid on the matching lines, as store credit (minor units) into a wallet',
  phase: 'base',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, ['percent', 'wallet', 'mode', 'skus', 'categories'], prefix);
    if (typeof params.wallet !== 'string' || params.wallet === '') throw invalid(`${prefix}wallet`, `${prefix}wallet must name the program's store-credit wallet`);
    return {
      percent: parseDecimal(params.percent, `${prefix}percent`, ZERO, { numerator: 100n, denominator: 1n }),
      wallet: params.wallet, mode: mode(params.mode, `${prefix}mode`), ...lineFilter(params, prefix),
    };
  },
  wallet: (p) => p.wallet,
  award({ params: p, basket }) {
    const amount = basket.lines.reduce((s, l) => (matches(l, p) ? s + l.paid : s), 0n);
    const credit = divide(amount * p.percent.numerator, p.percent.denominator * 100n, p.mode);
    return { points: credit, detail: { amount, percent: show(p.percent), mode: p.mode, ...filterDetail(p) } };
  },
};

/** The earn multiplier of the member's paid membership, while its benefits apply (member.membership.multiplier). */
export const membershipMultiplier: EarningStrategy<Record<string, never>> = {
  type: 'membership_multiplier',
  description: "multiplies the base points by the earn multiplier of the member's membership plan, while the membership's benefits apply (no membership, or none in force: no extra)",
  phase: 'bonus',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, [], prefix);
    return {};
  },
  wallet: () => null,
  award({ facts, base }) {
    const m = facts.member.membership;
    // Facts stored before memberships existed have none: no extra, as at the time.
    const factor = m?.active && m.multiplier ? parseDecimal(m.multiplier, 'membership.multiplier', ONE, { numerator: 100n, denominator: 1n }) : undefined;
    const on = base.reduce((s, x) => s + x, 0n);
    return { points: factor ? extra(factor, on) : 0n, detail: { plan: m?.plan ?? '', factor: factor ? show(factor) : null, base: on } };
  },
};

/** Store credit at the percent of the member's membership plan, while its benefits apply (a co-op's 10% back). */
export const membershipPercentBack: EarningStrategy<{ wallet: string; mode: RoundingMode }> = {
  type: 'membership_percent_back',
  description: "the percent back of the member's membership plan, on the money paid, as store credit (minor units) into a wallet, while the membership's benefits apply",
  phase: 'base',
  triggers: ['purchase'],
  parse(params, prefix) {
    only(params, ['wallet', 'mode'], prefix);
    if (typeof params.wallet !== 'string' || params.wallet === '') throw invalid(`${prefix}wallet`, `${prefix}wallet must name the program's store-credit wallet`);
    return { wallet: params.wallet, mode: mode(params.mode, `${prefix}mode`) };
  },
  wallet: (p) => p.wallet,
  award({ params: p, basket, facts }) {
    const m = facts.member.membership;
    const percent = m?.active && m.percentBack ? parseDecimal(m.percentBack, 'membership.percentBack', ZERO, { numerator: 100n, denominator: 1n }) : undefined;
    const amount = basket.lines.reduce((s, l) => s + l.paid, 0n);
    const credit = percent ? divide(amount * percent.numerator, percent.denominator * 100n, p.mode) : 0n;
    return { points: credit, detail: { plan: m?.plan ?? '', amount, percent: percent ? show(percent) : null, mode: p.mode } };
  },
};

const BILLION = 1_000_000_000n;

/** Points with probability p, decided by the event id: the same event always wins or always loses. */
export const surprise: EarningStrategy<{ probability: Ratio; points: bigint }> = {
  type: 'surprise',
  description: 'a bonus with probability `probability` (0 to 1), drawn deterministically from the rule and the event id',
  phase: 'bonus',
  parse(params, prefix) {
    only(params, ['probability', 'points'], prefix);
    return { probability: parseDecimal(params.probability, `${prefix}probability`, ZERO, ONE), points: points(params.points, `${prefix}points`) };
  },
  wallet: () => null,
  award({ params, draw }) {
    const threshold = (params.probability.numerator * BILLION) / params.probability.denominator;
    const drawn = draw();
    const won = drawn < threshold;
    return { points: won ? params.points : 0n, detail: { probability: show(params.probability), draw: `${drawn}/${BILLION}`, won } };
  },
};

export const BUILT_IN_STRATEGIES: readonly EarningStrategy<unknown>[] = [
  pointsPerAmount, fixedPoints, multiplier, tierMultiplier, percentBack, surprise, membershipMultiplier, membershipPercentBack,
] as EarningStrategy<unknown>[];

/** The built-in strategies plus a brand's own; a brand's strategy may not reuse a built-in type. */
export function strategiesWith(extra: readonly EarningStrategy<unknown>[] = []): Strategies {
  const all = new Map<string, EarningStrategy>();
  for (const s of [...BUILT_IN_STRATEGIES, ...extra]) {
    if (all.has(s.type)) throw new Error(`two earning strategies named ${s.type}`);
    all.set(s.type, s);
  }
  return all;
}
