// Every field of a rule is checked before it is saved, and every problem names its field.
import { describe, expect, it } from 'vitest';
import { validateCampaign, validateRule, type RuleEnvironment } from './rule.js';
import { strategiesWith } from './strategies.js';
import { fieldOf } from '../../../test/support/refusal.js';

const env: RuleEnvironment = { strategies: strategiesWith(), wallets: new Set(['credit']) };
const good = { name: 'A point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } };
const at = (over: Record<string, unknown>) => ({ ...good, ...over });
const withEffect = (effect: Record<string, unknown>, over: Record<string, unknown> = {}) => at({ effect, ...over });
const withLimits = (limits: unknown, over: Record<string, unknown> = {}) => at({ limits, ...over });

describe('validateRule refuses', () => {
  const bad: [string, unknown, string][] = [
    ['a rule that is not an object', [good], 'rule'],
    ['an unknown top-level field', at({ points: 5 }), 'points'],
    ['a rule without a name', { trigger: 'purchase', effect: good.effect }, 'name'],
    ['a blank name', at({ name: '  ' }), 'name'],
    ['a missing trigger', { name: 'x', effect: good.effect }, 'trigger'],
    ['a trigger that is not an event type', at({ trigger: 'Purchase!' }), 'trigger'],
    ['a trigger starting with a digit', at({ trigger: '1review' }), 'trigger'],
    ['the return trigger', at({ trigger: 'return' }), 'trigger'],
    ['a condition that is not text', at({ condition: 5 }), 'condition'],
    ['a condition that does not parse', at({ condition: 'order.total >=' }), 'condition'],
    ['a condition on an unknown fact', at({ condition: 'member.foo == 1' }), 'condition'],
    ['a condition that is not a bool', at({ condition: 'order.total' }), 'condition'],
    ['an effect that is not an object', at({ effect: 'points_per_amount' }), 'effect'],
    ['an effect without a type', withEffect({ points: 1 }), 'effect.type'],
    ['an unknown effect type', withEffect({ type: 'cashback' }), 'effect.type'],
    ['an unknown effect param', withEffect({ type: 'fixed_points', points: 5, per: 100 }), 'effect.per'],
    ['effect.points 0', withEffect({ type: 'fixed_points', points: 0 }), 'effect.points'],
    ['effect.points 1.5', withEffect({ type: 'fixed_points', points: 1.5 }), 'effect.points'],
    ['effect.points as text', withEffect({ type: 'fixed_points', points: '5' }), 'effect.points'],
    ['effect.points beyond the points limit', withEffect({ type: 'fixed_points', points: 1_000_000_000_001 }), 'effect.points'],
    ['effect.per 0', withEffect({ type: 'points_per_amount', points: 1, per: 0 }), 'effect.per'],
    ['effect.per missing', withEffect({ type: 'points_per_amount', points: 1 }), 'effect.per'],
    ['effect.rounding weird', withEffect({ type: 'points_per_amount', points: 1, per: 100, rounding: 'weird' }), 'effect.rounding'],
    ['effect.mode sideways', withEffect({ type: 'points_per_amount', points: 1, per: 100, mode: 'nearest' }), 'effect.mode'],
    ['empty effect.categories', withEffect({ type: 'points_per_amount', points: 1, per: 100, categories: [] }), 'effect.categories'],
    ['effect.skus with a blank name', withEffect({ type: 'multiplier', factor: 2, skus: [''] }), 'effect.skus'],
    ['effect.factor "x"', withEffect({ type: 'multiplier', factor: 'x' }), 'effect.factor'],
    ['effect.factor below 1', withEffect({ type: 'multiplier', factor: 0.5 }), 'effect.factor'],
    ['effect.factor above 100', withEffect({ type: 'multiplier', factor: 101 }), 'effect.factor'],
    ['effect.tiers empty', withEffect({ type: 'tier_multiplier', tiers: {} }), 'effect.tiers'],
    ['effect.tiers as a list', withEffect({ type: 'tier_multiplier', tiers: [2] }), 'effect.tiers'],
    ['a bad tier factor', withEffect({ type: 'tier_multiplier', tiers: { gold: 2, silver: '1.23456' } }), 'effect.tiers.silver'],
    ['percent_back without a wallet', withEffect({ type: 'percent_back', percent: 10 }), 'effect.wallet'],
    ['percent_back into a wallet the program has not', withEffect({ type: 'percent_back', percent: 10, wallet: 'cash' }), 'effect.wallet'],
    ['percent_back over 100 %', withEffect({ type: 'percent_back', percent: 101, wallet: 'credit' }), 'effect.percent'],
    ['surprise with a probability over 1', withEffect({ type: 'surprise', probability: '1.5', points: 10 }), 'effect.probability'],
    ['a purchase-only effect on a custom action', withEffect({ type: 'multiplier', factor: 2 }, { trigger: 'review' }), 'trigger'],
    ['points_per_amount on signup', withEffect({ type: 'points_per_amount', points: 1, per: 100 }, { trigger: 'signup' }), 'trigger'],
    ['stacking x', at({ stacking: 'x' }), 'stacking'],
    ['priority 1.5', at({ priority: 1.5 }), 'priority'],
    ['priority as text', at({ priority: '1' }), 'priority'],
    ['priority beyond a million', at({ priority: 1_000_001 }), 'priority'],
    ['a campaignId that is not text', at({ campaignId: 7 }), 'campaignId'],
    ['limits that are not an object', withLimits([]), 'limits'],
    ['an unknown limit', withLimits({ maxPoints: 5 }), 'limits.maxPoints'],
    ['minSpend on a non-purchase trigger', withLimits({ minSpend: 5000 }, { trigger: 'review', effect: { type: 'fixed_points', points: 5 } }), 'limits.minSpend'],
    ['a negative minSpend', withLimits({ minSpend: -1 }), 'limits.minSpend'],
    ['validFrom without an offset form', withLimits({ validFrom: 'next monday' }), 'limits.validFrom'],
    ['validFrom without its offset (it would mean the server zone)', withLimits({ validFrom: '2026-12-01T00:00:00' }), 'limits.validFrom'],
    ['validFrom on 30 February', withLimits({ validFrom: '2026-02-30T00:00:00Z' }), 'limits.validFrom'],
    ['validTo before validFrom', withLimits({ validFrom: '2026-12-01T00:00:00+01:00', validTo: '2026-11-30T00:00:00+01:00' }), 'limits.validTo'],
    ['validTo equal to validFrom', withLimits({ validFrom: '2026-12-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z' }), 'limits.validTo'],
    ['an empty channel list', withLimits({ channels: [] }), 'limits.channels'],
    ['a blank location', withLimits({ locations: ['paris', ' '] }), 'limits.locations[1]'],
    ['perMember that is not a list', withLimits({ perMember: { period: 'day', points: 5 } }), 'limits.perMember'],
    ['a cap with an unknown period', withLimits({ perMember: [{ period: 'fortnight', points: 5 }] }), 'limits.perMember[0].period'],
    ['a duplicate cap period', withLimits({ perMember: [{ period: 'day', points: 5 }, { period: 'day', times: 1 }] }), 'limits.perMember[1].period'],
    ['a cap with neither points nor times', withLimits({ perMember: [{ period: 'month' }] }), 'limits.perMember[0]'],
    ['a cap with an unknown field', withLimits({ perMember: [{ period: 'month', points: 5, amount: 5 }] }), 'limits.perMember[0].amount'],
    ['a cap with negative points', withLimits({ perMember: [{ period: 'week', points: -1 }] }), 'limits.perMember[0].points'],
    ['a negative budget', withLimits({ budget: -5 }), 'limits.budget'],
  ];
  it.each(bad)('%s, naming %s', (_, input, field) => {
    expect(fieldOf(() => validateRule(input, env))).toBe(field);
  });
});

describe('validateRule accepts', () => {
  it('a minimal rule, with the defaults: cumulative, priority 0, no limits', () => {
    expect(validateRule(good, env)).toEqual({
      name: 'A point per euro', description: null, trigger: 'purchase', condition: null,
      effect: { type: 'points_per_amount', points: 1, per: 100 },
      limits: { validFrom: null, validTo: null, channels: null, locations: null, minSpend: null, perMember: [], budget: null },
      stacking: 'cumulative', priority: 0, campaignId: null,
    });
  });

  it('a full rule, normalised: dates as Date, money and points as bigint', () => {
    const rule = validateRule({
      name: 'Weekend coffee', description: 'triple points on coffee at weekends', trigger: 'purchase', condition: 'time.weekend',
      effect: { type: 'multiplier', factor: '3', categories: ['coffee'] },
      limits: {
        validFrom: '2026-12-01T00:00:00+01:00', validTo: '2027-01-01T00:00:00+01:00', channels: ['web', 'pos'], locations: ['paris-1'],
        minSpend: 1500, perMember: [{ period: 'month', points: 2000 }, { period: 'day', times: 1 }], budget: 1_000_000,
      },
      stacking: 'exclusive', priority: -5, campaignId: 'c-1',
    }, env);
    expect(rule).toEqual({
      name: 'Weekend coffee', description: 'triple points on coffee at weekends', trigger: 'purchase', condition: 'time.weekend',
      effect: { type: 'multiplier', factor: '3', categories: ['coffee'] },
      limits: {
        validFrom: new Date('2026-11-30T23:00:00Z'), validTo: new Date('2026-12-31T23:00:00Z'), channels: ['web', 'pos'], locations: ['paris-1'],
        minSpend: 1500n, perMember: [{ period: 'month', points: 2000n, times: null }, { period: 'day', points: null, times: 1 }], budget: 1_000_000n,
      },
      stacking: 'exclusive', priority: -5, campaignId: 'c-1',
    });
  });

  it.each([
    ['fixed points on a custom action', { trigger: 'review', effect: { type: 'fixed_points', points: 50 } }],
    ['a welcome bonus on signup', { trigger: 'signup', effect: { type: 'fixed_points', points: 100 } }],
    ['a surprise on a custom action', { trigger: 'survey_completed', effect: { type: 'surprise', probability: '0.25', points: 10 } }],
    ['percent back into the credit wallet', { effect: { type: 'percent_back', percent: '2.5', wallet: 'credit', mode: 'half_up' } }],
    ['tier multipliers', { effect: { type: 'tier_multiplier', tiers: { gold: 2, vip: '2.5' } } }],
    ['a per-line rounding', { effect: { type: 'points_per_amount', points: 3, per: 250, rounding: 'line', mode: 'up', skus: ['A'] } }],
    ['a minimum spend of 0', { limits: { minSpend: 0 } }],
    ['null for every optional field', { limits: null, condition: null, description: null, campaignId: null }],
  ])('%s', (_, over) => {
    const rule = validateRule(at(over), env);
    expect(rule.trigger).toBe((over as { trigger?: string }).trigger ?? 'purchase');
    expect(rule.effect).toEqual((over as { effect?: unknown }).effect ?? good.effect);
  });

  it('keeps the effect params as written and sets the type', () => {
    expect(validateRule(withEffect({ type: 'tier_multiplier', tiers: { gold: 2 } }), env).effect).toEqual({ type: 'tier_multiplier', tiers: { gold: 2 } });
  });

  it('lets the caller allow extra top-level fields', () => {
    expect(fieldOf(() => validateRule(at({ enabled: true }), env))).toBe('enabled');
    expect(validateRule(at({ enabled: true }), env, ['enabled']).name).toBe('A point per euro');
  });

  it('knows a brand strategy passed in its environment', () => {
    const stamps = { ...strategiesWith().get('fixed_points')!, type: 'stamps' };
    const custom: RuleEnvironment = { strategies: strategiesWith([stamps as never]), wallets: new Set() };
    expect(validateRule(withEffect({ type: 'stamps', points: 2 }), custom).effect).toEqual({ type: 'stamps', points: 2 });
    expect(fieldOf(() => validateRule(withEffect({ type: 'stamps', points: 2 }), env))).toBe('effect.type');
    expect(fieldOf(() => validateRule(withEffect({ type: 'percent_back', percent: 10, wallet: 'credit' }), custom))).toBe('effect.wallet');
  });
});

describe('validateCampaign', () => {
  it('normalises a campaign', () => {
    expect(validateCampaign({
      name: 'Black Friday', validFrom: '2026-11-27T00:00:00+01:00', validTo: '2026-11-30T00:00:00+01:00', budget: 50_000,
      perMember: [{ period: 'lifetime', points: 2000 }],
    })).toEqual({
      name: 'Black Friday', validFrom: new Date('2026-11-26T23:00:00Z'), validTo: new Date('2026-11-29T23:00:00Z'), budget: 50_000n,
      perMember: [{ period: 'lifetime', points: 2000n, times: null }],
    });
    expect(validateCampaign({ name: 'Always' })).toEqual({ name: 'Always', validFrom: null, validTo: null, budget: null, perMember: [] });
  });

  const bad: [string, unknown, string][] = [
    ['a campaign that is not an object', 'Black Friday', 'campaign'],
    ['an unknown field', { name: 'x', stacking: 'exclusive' }, 'stacking'],
    ['no name', { budget: 5 }, 'name'],
    ['validTo before validFrom', { name: 'x', validFrom: '2026-12-01T00:00:00Z', validTo: '2026-11-01T00:00:00Z' }, 'validTo'],
    ['a bad validFrom', { name: 'x', validFrom: '2026-12-01' }, 'validFrom'],
    ['a budget of 1.5', { name: 'x', budget: 1.5 }, 'budget'],
    ['a negative budget', { name: 'x', budget: -1 }, 'budget'],
    ['a duplicate cap period', { name: 'x', perMember: [{ period: 'year', points: 5 }, { period: 'year', points: 6 }] }, 'perMember[1].period'],
    ['a cap with neither points nor times', { name: 'x', perMember: [{ period: 'week', points: null, times: null }] }, 'perMember[0]'],
    ['a cap with 1.5 times', { name: 'x', perMember: [{ period: 'week', times: 1.5 }] }, 'perMember[0].times'],
    ['six caps', { name: 'x', perMember: ['day', 'week', 'month', 'year', 'lifetime', 'day'].map((period) => ({ period, times: 1 })) }, 'perMember'],
  ];
  it.each(bad)('refuses %s, naming %s', (_, input, field) => {
    expect(fieldOf(() => validateCampaign(input))).toBe(field);
  });
});
