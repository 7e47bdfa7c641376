// Every field of a tier ladder is checked before it is saved, and every problem names its field.
import { describe, expect, it } from 'vitest';
import { ladderToJson, rankOf, validateLadder } from './ladder.js';
import { fieldOf } from '../../../test/support/refusal.js';

const good = {
  metric: 'points',
  window: { kind: 'calendar_year' },
  review: { kind: 'period_end' },
  graceDays: 0,
  tiers: [
    { code: 'member', name: 'Member', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 1000, benefits: { earnMultiplier: '1.25', upgradeBonus: 100 } },
    { code: 'gold', name: 'Gold', threshold: 5000, benefits: { earnMultiplier: 2, flags: ['free_shipping'], upgradeBonus: 500 } },
    { code: 'vip', name: 'VIP', threshold: 20_000, benefits: { earnMultiplier: '3', flags: ['free_shipping', 'early_access'], rewardAccess: ['vip_lounge'], upgradeBonus: 2000 } },
  ],
};
const at = (over: Record<string, unknown>) => ({ ...good, ...over });
/** the good ladder with tier i changed (fields set to undefined are dropped) */
const withTier = (i: number, over: Record<string, unknown>) =>
  at({ tiers: good.tiers.map((t, j) => (j === i ? Object.fromEntries(Object.entries({ ...t, ...over }).filter(([, v]) => v !== undefined)) : t)) });
const withBenefits = (i: number, benefits: unknown) => withTier(i, { benefits });

describe('validateLadder refuses', () => {
  const tier = (i: number) => ({ code: `t${i}`, name: `T${i}`, threshold: i * 10 });
  const bad: [string, unknown, string][] = [
    ['a ladder that is not an object', [good], 'ladder'],
    ['null', null, 'ladder'],
    ['an unknown top-level field', at({ levels: [] }), 'levels'],
    ['no metric', { window: good.window, tiers: good.tiers }, 'metric'],
    ['an unknown metric', at({ metric: 'revenue' }), 'metric'],
    ['no window', at({ window: undefined }), 'window'],
    ['a window as text', at({ window: 'calendar_year' }), 'window'],
    ['an unknown window kind', at({ window: { kind: 'quarter' } }), 'window.kind'],
    ['a rolling window without months', at({ window: { kind: 'rolling_months' } }), 'window.months'],
    ['a rolling window of 0 months', at({ window: { kind: 'rolling_months', months: 0 } }), 'window.months'],
    ['a rolling window of 121 months', at({ window: { kind: 'rolling_months', months: 121 } }), 'window.months'],
    ['a rolling window of 1.5 months', at({ window: { kind: 'rolling_months', months: 1.5 } }), 'window.months'],
    ['months as text', at({ window: { kind: 'rolling_months', months: '12' } }), 'window.months'],
    // months mean nothing to a calendar year: refused rather than silently dropped
    ['months on a calendar-year window', at({ window: { kind: 'calendar_year', months: 12 } }), 'window.months'],
    ['a review as text', at({ review: 'period_end' }), 'review'],
    ['an unknown review kind', at({ review: { kind: 'weekly' } }), 'review.kind'],
    ['an unknown review field', at({ review: { kind: 'anniversary', day: 1 } }), 'review.day'],
    // a calendar year reviewed on a March anniversary would judge members on ten weeks of activity
    ['an anniversary review of a calendar-year window', at({ review: { kind: 'anniversary' } }), 'review.kind'],
    ['graceDays -1', at({ graceDays: -1 }), 'graceDays'],
    ['graceDays 3651', at({ graceDays: 3651 }), 'graceDays'],
    ['graceDays 1.5', at({ graceDays: 1.5 }), 'graceDays'],
    ['graceDays as text', at({ graceDays: '30' }), 'graceDays'],
    ['an unknown upgradeRate', at({ upgradeRate: 'instant' }), 'upgradeRate'],
    ['no tiers', at({ tiers: undefined }), 'tiers'],
    ['an empty ladder', at({ tiers: [] }), 'tiers'],
    ['tiers as an object', at({ tiers: { member: good.tiers[0] } }), 'tiers'],
    ['21 tiers', at({ tiers: Array.from({ length: 21 }, (_, i) => tier(i)) }), 'tiers'],
    ['a tier that is not an object', at({ tiers: [good.tiers[0], 'silver'] }), 'tiers[1]'],
    ['an unknown tier field', withTier(1, { multiplier: 2 }), 'tiers[1].multiplier'],
    ['a tier without a code', withTier(1, { code: undefined }), 'tiers[1].code'],
    ['an upper-case code', withTier(2, { code: 'Gold' }), 'tiers[2].code'],
    ['a code starting with a digit', withTier(2, { code: '1gold' }), 'tiers[2].code'],
    ['a code of 33 characters', withTier(2, { code: 'g'.repeat(33) }), 'tiers[2].code'],
    ['a code used twice', withTier(2, { code: 'silver' }), 'tiers[2].code'],
    ['a tier without a name', withTier(1, { name: undefined }), 'tiers[1].name'],
    ['a blank name', withTier(1, { name: '  ' }), 'tiers[1].name'],
    ['a name of 101 characters', withTier(1, { name: 'S'.repeat(101) }), 'tiers[1].name'],
    ['a name with a NUL', withTier(1, { name: 'Sil\0ver' }), 'tiers[1].name'],
    ['a tier without a threshold', withTier(1, { threshold: undefined }), 'tiers[1].threshold'],
    ['a first threshold above 0', withTier(0, { threshold: 1 }), 'tiers[0].threshold'],
    ['a negative threshold', withTier(1, { threshold: -1 }), 'tiers[1].threshold'],
    ['a threshold of 1.5', withTier(1, { threshold: 1.5 }), 'tiers[1].threshold'],
    ['a threshold in exponent notation', withTier(1, { threshold: '1e3' }), 'tiers[1].threshold'],
    ['a threshold beyond 10^12', withTier(3, { threshold: 1_000_000_000_001n }), 'tiers[3].threshold'],
    ['a threshold equal to the one below', withTier(2, { threshold: 1000 }), 'tiers[2].threshold'],
    ['a threshold below the one below', withTier(3, { threshold: 4000 }), 'tiers[3].threshold'],
    ['benefits that are not an object', withBenefits(1, ['free_shipping']), 'tiers[1].benefits'],
    ['an unknown benefit', withBenefits(1, { discount: 10 }), 'tiers[1].benefits.discount'],
    ['a multiplier below 1', withBenefits(1, { earnMultiplier: '0.5' }), 'tiers[1].benefits.earnMultiplier'],
    ['a multiplier above 100', withBenefits(1, { earnMultiplier: 101 }), 'tiers[1].benefits.earnMultiplier'],
    ['a multiplier with 5 decimals', withBenefits(1, { earnMultiplier: '1.23456' }), 'tiers[1].benefits.earnMultiplier'],
    ['a multiplier that is not a number', withBenefits(1, { earnMultiplier: 'double' }), 'tiers[1].benefits.earnMultiplier'],
    ['flags that are not a list', withBenefits(2, { flags: 'free_shipping' }), 'tiers[2].benefits.flags'],
    ['a flag that is not a code', withBenefits(2, { flags: ['Free Shipping'] }), 'tiers[2].benefits.flags[0]'],
    ['a flag listed twice', withBenefits(2, { flags: ['free_shipping', 'free_shipping'] }), 'tiers[2].benefits.flags[1]'],
    ['21 flags', withBenefits(2, { flags: Array.from({ length: 21 }, (_, i) => `f${i}`) }), 'tiers[2].benefits.flags'],
    ['a reward code that is not a code', withBenefits(3, { rewardAccess: [7] }), 'tiers[3].benefits.rewardAccess[0]'],
    ['a negative upgrade bonus', withBenefits(2, { upgradeBonus: -5 }), 'tiers[2].benefits.upgradeBonus'],
    ['an upgrade bonus of 1.5', withBenefits(2, { upgradeBonus: 1.5 }), 'tiers[2].benefits.upgradeBonus'],
    // nobody is upgraded to the first tier: the bonus would never be paid
    ['an upgrade bonus on the first tier', withBenefits(0, { upgradeBonus: 50 }), 'tiers[0].benefits.upgradeBonus'],
  ];
  it.each(bad)('%s, naming %s', (_, input, field) => {
    expect(fieldOf(() => validateLadder(input))).toBe(field);
  });
});

describe('validateLadder accepts', () => {
  it('a full ladder, normalised: thresholds and bonuses as bigint, multipliers as exact decimal text, benefits filled in', () => {
    expect(validateLadder(good)).toEqual({
      metric: 'points', window: { kind: 'calendar_year' }, review: { kind: 'period_end' }, graceDays: 0, upgradeRate: 'next_event',
      tiers: [
        { code: 'member', name: 'Member', threshold: 0n, benefits: { earnMultiplier: null, flags: [], rewardAccess: [], upgradeBonus: 0n } },
        { code: 'silver', name: 'Silver', threshold: 1000n, benefits: { earnMultiplier: '1.25', flags: [], rewardAccess: [], upgradeBonus: 100n } },
        { code: 'gold', name: 'Gold', threshold: 5000n, benefits: { earnMultiplier: '2', flags: ['free_shipping'], rewardAccess: [], upgradeBonus: 500n } },
        {
          code: 'vip', name: 'VIP', threshold: 20_000n,
          benefits: { earnMultiplier: '3', flags: ['free_shipping', 'early_access'], rewardAccess: ['vip_lounge'], upgradeBonus: 2000n },
        },
      ],
    });
  });

  it('a single-tier ladder with the defaults: review at period end, no grace', () => {
    expect(validateLadder({ metric: 'visits', window: { kind: 'lifetime' }, tiers: [{ code: 'member', name: ' Member ', threshold: 0n }] })).toEqual({
      metric: 'visits', window: { kind: 'lifetime' }, review: { kind: 'period_end' }, graceDays: 0, upgradeRate: 'next_event',
      tiers: [{ code: 'member', name: 'Member', threshold: 0n, benefits: { earnMultiplier: null, flags: [], rewardAccess: [], upgradeBonus: 0n } }],
    });
  });

  it.each([
    ['a rolling window reviewed at period end', { window: { kind: 'rolling_months', months: 12 } }],
    ['a rolling window reviewed on anniversaries', { window: { kind: 'rolling_months', months: 1 }, review: { kind: 'anniversary' } }],
    ['120 months', { window: { kind: 'rolling_months', months: 120 } }],
    ['a lifetime window reviewed on anniversaries', { window: { kind: 'lifetime' }, review: { kind: 'anniversary' } }],
    ['spend as the metric', { metric: 'spend' }],
    ['the longest grace', { graceDays: 3650 }],
    ['null grace and review', { graceDays: null, review: null }],
    ['20 tiers', { tiers: Array.from({ length: 20 }, (_, i) => ({ code: `t${i}`, name: `T${i}`, threshold: i * 10 })) }],
    ['thresholds as digit strings (how a stored ladder holds its bigints)', { tiers: [{ code: 'a', name: 'A', threshold: '0' }, { code: 'b', name: 'B', threshold: '1000000000000' }] }],
  ])('%s', (_, over) => {
    expect(() => validateLadder(at(over))).not.toThrow();
  });

  it('comes back unchanged from JSON (bigints as text)', () => {
    const ladder = validateLadder(at({ window: { kind: 'rolling_months', months: 12 }, review: { kind: 'anniversary' }, graceDays: 30 }));
    expect(validateLadder(JSON.parse(JSON.stringify(ladderToJson(ladder))))).toEqual(ladder);
  });
});

describe('rankOf', () => {
  it('is the position on the ladder, and refuses an unknown code naming the field asked', () => {
    const ladder = validateLadder(good);
    expect(['member', 'silver', 'gold', 'vip'].map((c) => rankOf(ladder, c))).toEqual([0, 1, 2, 3]);
    expect(fieldOf(() => rankOf(ladder, 'platinum', 'current'))).toBe('current');
  });
});
