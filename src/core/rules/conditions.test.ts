// Conditions are CEL, type-checked against the facts when a rule is saved and compiled once.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { basketOf } from './basket.js';
import { checkCondition, compileCondition, readsStats, type Facts } from './conditions.js';
import { factsOf, NO_STATS } from './facts.js';

function facts(over: { tier?: string | null; attributes?: Record<string, unknown>; purchases?: bigint } = {}): Facts {
  const basket = basketOf([
    { sku: 'LATTE-L', category: 'coffee', quantity: 2n, unitPrice: 1250n, discount: 0n },
    { sku: 'BEANS-1KG', category: 'beans', quantity: 1n, unitPrice: 999n, discount: 100n },
  ], 3399n);
  return factsOf({
    event: {
      type: 'purchase', externalId: 'order-1', channel: 'web', location: null, orderId: null, occurredAt: new Date('2026-11-24T09:30:00Z'),
      attributes: over.attributes ?? {}, currency: 'EUR', paidWithPoints: 0n,
    },
    basket,
    member: { memberId: 'm-1', tier: over.tier ?? null, grade: null, attributes: {}, birthday: '1990-11-24', enrolledAt: new Date('2026-01-01T00:00:00Z') },
    stats: { ...NO_STATS, purchases: over.purchases ?? 0n },
    timeZone: 'Europe/Paris',
  });
}

function refusal(source: string): DomainError {
  try {
    checkCondition(source, 'condition');
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error(`${source} was accepted`);
}

describe('checkCondition', () => {
  it.each([
    'order.total >= 5000',
    "member.tier == 'gold'",
    'member.stats.purchases == 0',
    "'coffee' in order.categories && time.weekend",
    "order.lines.exists(l, l.category == 'coffee' && l.quantity >= 2)",
    "event.channel == 'web' || event.attributes.campaign == 'spring'",
    'member.birthdayToday',
    "order.skus.size() > 1 && order.currency == 'EUR'",
  ])('accepts %s', (source) => {
    expect(() => checkCondition(source, 'condition')).not.toThrow();
  });

  // source, what the message says; each marks the position of the problem (a line with ^)
  it.each([
    ['order.total >=', /Unexpected token/], // syntax error
    ['order.total >= 5000 &&', /Unexpected token/],
    ['(order.total > 1', /./],
    ['member.foo == 1', /No such key: foo/], // a fact that does not exist
    ['member.stats.visits > 3', /No such key: visits/],
    ['customer.tier == "gold"', /customer/], // an unknown variable
    ['member.tier == 1', /no such overload: string == int/], // wrong types
    ["order.total >= '5000'", /no such overload/],
  ])('refuses %s, naming the condition and marking the position', (source, message) => {
    const e = refusal(source);
    expect(e.code).toBe('validation');
    expect(e.field).toBe('condition');
    expect(e.message).toMatch(/^condition is not a valid CEL condition: /);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/\n\s*\^/);
  });

  it.each([
    ['order.total', 'int'],
    ['member.tier', 'string'],
    ['order.skus', 'list'],
  ])('refuses %s, which is not a bool', (source, type) => {
    const e = refusal(source);
    expect(e.field).toBe('condition');
    expect(e.message).toContain(`condition must be a bool expression, not ${type}`);
  });

  it('refuses matches(), whose regex could backtrack', () => {
    const e = refusal("member.id.matches('^(a+)+$')");
    expect(e.field).toBe('condition');
    expect(e.message).toMatch(/may not use matches/);
  });

  it('names the field it is given', () => {
    expect(() => checkCondition('order.total', 'rules[2].condition')).toThrow(expect.objectContaining({ field: 'rules[2].condition' }));
  });
});

describe('compileCondition', () => {
  it('returns the same function for the same source', () => {
    const a = compileCondition('order.total >= 3000');
    expect(compileCondition('order.total >= 3000')).toBe(a);
    expect(compileCondition('order.total >= 3001')).not.toBe(a);
  });

  it.each([
    ['order.total >= 3399', true],
    ['order.total >= 3400', false],
    ["member.tier == 'gold'", false],
    ['member.stats.purchases == 0', true],
    ["'coffee' in order.categories", true],
    ["'tea' in order.categories", false],
    ['order.quantity == 3', true],
    ['member.birthdayToday && member.birthdayThisMonth', true],
    ["time.date == '2026-11-24' && time.hour == 10 && time.weekday == 2 && !time.weekend", true],
    ['member.daysSinceEnrolment == 327', true],
  ])('evaluates %s to %s', (source, expected) => {
    expect(compileCondition(source)(facts())).toBe(expected);
  });

  it('reads the facts it is given each time', () => {
    const gold = compileCondition("member.tier == 'gold'");
    expect(gold(facts({ tier: 'gold' }))).toBe(true);
    expect(gold(facts({ tier: 'silver' }))).toBe(false);
    const first = compileCondition('member.stats.purchases == 0');
    expect(first(facts({ purchases: 0n }))).toBe(true);
    expect(first(facts({ purchases: 1n }))).toBe(false);
  });

  it('is false when it fails at run time: a missing attributes key, a division by zero', () => {
    const campaign = compileCondition("event.attributes.campaign == 'spring'");
    expect(campaign(facts({ attributes: { campaign: 'spring' } }))).toBe(true);
    expect(campaign(facts({ attributes: {} }))).toBe(false);
    expect(compileCondition('event.attributes.visits > 2')(facts({ attributes: { visits: 3 } }))).toBe(true);
    expect(compileCondition('order.total / (order.quantity - 3) > 0')(facts())).toBe(false);
  });
});

describe('readsStats', () => {
  it.each([
    [null, false], ['order.total > 1', false], ['member.stats.purchases == 0', true], ['member.stats.spendThisYear > 10000', true],
  ])('%s: %s', (source, reads) => {
    expect(readsStats(source)).toBe(reads);
  });
});
