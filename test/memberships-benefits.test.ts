// What a membership's plan gives beyond the rules, on PGlite and PostgreSQL: its tier (a floor or
// an override) held while the membership entitles — read by the tier API, the rules' earn and the
// reviews, recorded as tier moves with the membership as their cause and sent as tier.changed —
// and falling back to the tier qualified for when it stops; its included rewards issued once per
// paid period whatever the provider resends; and the member reading their own memberships.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { effectiveTier, periodCovered, type TierBenefit } from '../src/core/memberships/benefits.js';
import { validateLadder } from '../src/core/tiers/ladder.js';
import { listOutbox } from '../src/db/jobs.js';
import { runJobNow } from '../src/jobs/runner.js';
import { createMember } from '../src/services/members.js';
import { createReward } from '../src/services/rewards.js';
import { createRule } from '../src/services/rules.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
let serial = 0;

beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
beforeEach(() => laurel.clock.set('2026-12-01T09:00:00Z'));
afterAll(async () => {
  await app.close();
  await laurel.close();
});

const LADDER = {
  metric: 'points', window: { kind: 'calendar_year' }, graceDays: 0,
  tiers: [
    { code: 'member', name: 'Member', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 100, benefits: { earnMultiplier: '1.5' } },
    { code: 'gold', name: 'Gold', threshold: 500, benefits: { earnMultiplier: '3' } },
  ],
};

async function laddered(): Promise<TestTenant> {
  const t = await newTenant(laurel);
  const r = await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/tier-ladder`, key: t.keys.admin, body: LADDER });
  expect(r.statusCode, r.body).toBe(200);
  await createRule(laurel, t.tenantId, t.program.programId, { name: 'per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
  await createRule(laurel, t.tenantId, t.program.programId, { name: 'tier bonus', trigger: 'purchase', effect: { type: 'tier_multiplier' } }, { actor: 'test' });
  return t;
}

async function plan(t: TestTenant, body: Record<string, unknown>): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, currency: 'EUR', fee: 499, code: `p${++serial}`, name: 'Plan', ...body } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().planId;
}

const member = async (t: TestTenant) => (await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: `m-${++serial}` })).memberId;

const pay = (t: TestTenant, body: Record<string, unknown>) =>
  call(app, { method: 'POST', url: '/v1/membership-payments', key: t.keys.admin, body: { programId: t.program.programId, provider: 'acme-billing', type: 'paid', ...body } });

const tierOf = async (t: TestTenant, memberId: string) => (await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier`, key: t.keys.read })).json();
const historyOf = async (t: TestTenant, memberId: string) =>
  (await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier-history`, key: t.keys.read })).json().data as { from: string | null; to: string; change: string; reason: string }[];
const tierMessages = async (t: TestTenant, memberId: string) => (await listOutbox(laurel.db, t.tenantId))
  .filter((m) => m.type === 'tier.changed' && (m.payload as { memberId: string }).memberId === memberId)
  .map((m) => { const p = m.payload as { from: string; to: string; reason: string }; return `${p.from}→${p.to}`; });

async function purchase(t: TestTenant, memberId: string, amount: number) {
  const r = await call(app, {
    method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false,
    body: { programId: t.program.programId, memberId, type: 'purchase', externalId: `o-${++serial}`, lines: [{ sku: 'X', quantity: 1, unitPrice: amount }] },
  });
  expect(r.statusCode, r.body).toBe(201);
  return r.json() as { points: number };
}

describe("a plan's tier", () => {
  it('is the floor while the membership entitles: the tier API, the earn and the history say so; cancelled at once, the member is back on the tier they qualify for', async () => {
    const t = await laddered();
    const gold = await plan(t, { period: 'monthly', benefits: { tier: 'gold' } });
    const m = await member(t);
    expect((await purchase(t, m, 1000)).points).toBe(10);

    const r = await pay(t, { eventId: 'e1', memberId: m, planId: gold, externalId: 'sub-1', amount: 499, currency: 'EUR', occurredAt: '2026-12-01T08:00:00Z' });
    expect(r.statusCode, r.body).toBe(200);
    expect(await tierOf(t, m)).toMatchObject({ tier: { code: 'gold' }, qualifiedTier: 'member', heldBy: { tier: 'gold', mode: 'floor' } });
    // 10 base points, and the gold tier's multiplier of 3 gives 20 more while the floor holds
    expect((await purchase(t, m, 1000)).points).toBe(30);
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'member', to: 'gold', change: 'up' });
    expect((await historyOf(t, m))[0]!.reason).toMatch(/^membership p\d+: gold while active \(floor; acme-billing:paid\)$/);

    const c = await call(app, { method: 'POST', url: `/v1/memberships/${r.json().membership.membershipId}/cancel`, key: t.keys.admin, body: { atPeriodEnd: false } });
    expect(c.statusCode, c.body).toBe(200);
    expect(await tierOf(t, m)).toMatchObject({ tier: { code: 'member' }, qualifiedTier: 'member', heldBy: null });
    expect((await purchase(t, m, 1000)).points).toBe(10);
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'gold', to: 'member', change: 'down' });
    expect(await tierMessages(t, m)).toEqual(['null→member', 'member→gold', 'gold→member']);
    await expectVerified(laurel, t.tenantId);
  });

  it('falls back when the expiry job ends the membership; a member who qualifies for more keeps their own tier', async () => {
    const t = await laddered();
    const silver = await plan(t, { period: 'monthly', graceDays: 0, benefits: { tier: 'silver' } });
    const [a, b] = [await member(t), await member(t)];
    await purchase(t, b, 60_000); // 600 points: gold of their own
    for (const [id, m] of [['a', a], ['b', b]] as const) {
      expect((await pay(t, { eventId: `e-${id}`, memberId: m, planId: silver, externalId: `sub-${id}`, occurredAt: '2026-12-01T08:00:00Z' })).statusCode).toBe(200);
    }
    expect((await tierOf(t, a)).tier.code).toBe('silver');
    expect((await tierOf(t, b))).toMatchObject({ tier: { code: 'gold' }, heldBy: null });
    laurel.clock.set('2027-01-01T09:00:00Z');
    expect((await runJobNow(laurel, 'membership_expiry')).stats.expired).toBeGreaterThanOrEqual(2);
    expect((await tierOf(t, a)).tier.code).toBe('member');
    expect((await historyOf(t, a))[0]).toMatchObject({ from: 'silver', to: 'member', change: 'down' });
    expect((await historyOf(t, a))[0]!.reason).toContain('no longer entitles');
    expect(await tierMessages(t, b)).toEqual(['null→member', 'member→gold']);
  });

  it('keeps a member the review would lower: the history says kept, no tier.changed is sent; the fall back comes when the membership ends', async () => {
    const t = await laddered();
    const floor = await plan(t, { period: 'lifetime', benefits: { tier: 'gold', tierMode: 'floor' } });
    const m = await member(t);
    const set = await call(app, { method: 'PATCH', url: `/v1/members/${m}`, key: t.keys.admin, body: { tier: 'gold' } });
    expect(set.statusCode, set.body).toBe(200);
    const r = await pay(t, { eventId: 'life', memberId: m, planId: floor, externalId: 'life-1', occurredAt: '2026-12-01T08:00:00Z' });
    expect((await historyOf(t, m))[0]!.change).toBe('set'); // already gold: the membership moved nothing

    laurel.clock.set('2027-01-02T09:00:00Z');
    expect((await runJobNow(laurel, 'tier_reviews')).stats).toMatchObject({ down: 1 });
    expect(await tierOf(t, m)).toMatchObject({ tier: { code: 'gold' }, qualifiedTier: 'silver', heldBy: { mode: 'floor' } });
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'gold', to: 'gold', change: 'kept' });
    expect((await historyOf(t, m))[0]!.reason).toMatch(/^review: down one level .*, to silver; membership p\d+ holds gold while active$/);
    expect(await tierMessages(t, m)).toEqual(['null→member', 'member→gold']);

    await call(app, { method: 'POST', url: `/v1/memberships/${r.json().membership.membershipId}/cancel`, key: t.keys.admin, body: { atPeriodEnd: false } });
    expect((await tierOf(t, m)).tier.code).toBe('silver');
    expect(await tierMessages(t, m)).toEqual(['null→member', 'member→gold', 'gold→silver']);
  });

  it('hides an upgrade to the tier a floor already holds: the history says kept and no tier.changed is sent; a climb past the floor is a move from it', async () => {
    const t = await laddered();
    const floor = await plan(t, { period: 'lifetime', benefits: { tier: 'silver' } });
    const m = await member(t);
    await pay(t, { eventId: 'floor', memberId: m, planId: floor, externalId: 'floor-1', occurredAt: '2026-12-01T08:00:00Z' });
    await purchase(t, m, 15_000); // 150 points: silver of their own
    expect(await tierOf(t, m)).toMatchObject({ tier: { code: 'silver' }, qualifiedTier: 'silver', heldBy: null });
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'silver', to: 'silver', change: 'kept' });
    await purchase(t, m, 40_000); // 400 more: gold
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'silver', to: 'gold', change: 'up' });
    expect(await tierMessages(t, m)).toEqual(['null→member', 'member→silver', 'silver→gold']);
  });

  it('as an override is exactly its tier, above or below the one qualified for', async () => {
    const t = await laddered();
    const staff = await plan(t, { period: 'lifetime', benefits: { tier: 'silver', tierMode: 'override' } });
    const m = await member(t);
    await purchase(t, m, 60_000);
    expect((await tierOf(t, m)).tier.code).toBe('gold');
    await pay(t, { eventId: 'staff', memberId: m, planId: staff, externalId: 'staff-1', occurredAt: '2026-12-01T08:00:00Z' });
    expect(await tierOf(t, m)).toMatchObject({ tier: { code: 'silver' }, qualifiedTier: 'gold', heldBy: { mode: 'override' } });
    // 10 base points at silver's 1.5: 5 more
    expect((await purchase(t, m, 1000)).points).toBe(15);
    expect((await historyOf(t, m))[0]).toMatchObject({ from: 'gold', to: 'silver', change: 'down' });
  });

  it('is refused naming the field when its mode is unknown or has no tier', async () => {
    const t = await laddered();
    for (const [benefits, field] of [[{ tier: 'gold', tierMode: 'ceiling' }, 'benefits.tierMode'], [{ tierMode: 'floor' }, 'benefits.tierMode']] as const) {
      const r = await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, code: 'x', name: 'X', fee: 1, currency: 'EUR', period: 'monthly', benefits } });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().errors[0].field).toBe(field);
    }
  });

  it('combines as a pure function: never below the qualified tier with floors only, exactly the newest override otherwise, without effect when entitling nothing', () => {
    const ladder = validateLadder(LADDER);
    const codes = ladder.tiers.map((x) => x.code);
    const benefit = fc.record({
      plan: fc.constantFrom('a', 'b'), tier: fc.constantFrom(...codes, 'gone'), mode: fc.constantFrom('floor' as const, 'override' as const),
      since: fc.date({ min: new Date('2026-01-01'), max: new Date('2026-12-31'), noInvalidDate: true }),
    });
    fc.assert(fc.property(fc.constantFrom(...codes), fc.array(benefit, { maxLength: 4 }), (qualified, benefits: TierBenefit[]) => {
      const held = effectiveTier(ladder, qualified, benefits);
      const known = benefits.filter((x) => x.tier !== 'gone');
      const overrides = known.filter((x) => x.mode === 'override');
      if (overrides.length > 0) {
        const newest = Math.max(...overrides.map((x) => x.since.getTime()));
        expect(overrides.filter((x) => x.since.getTime() === newest).map((x) => x.tier)).toContain(held.tier);
      } else {
        const rank = (c: string) => codes.indexOf(c);
        expect(rank(held.tier!)).toBe(Math.max(rank(qualified), ...known.map((x) => rank(x.tier))));
      }
      expect(held.heldBy === null).toBe(held.tier === qualified);
      expect(effectiveTier(ladder, qualified, [])).toEqual({ tier: qualified, heldBy: null });
    }));
  });
});

describe("a plan's included rewards", () => {
  async function withRewards() {
    const t = await newTenant(laurel);
    const coffee = (await createReward(laurel, t.tenantId, t.program.programId, { code: `coffee-${++serial}`, name: 'Free coffee', cost: 100, value: { type: 'free_product', sku: 'LATTE' } })).reward;
    return { t, coffee };
  }
  const instances = async (t: TestTenant, memberId: string) =>
    (await call(app, { method: 'GET', url: `/v1/members/${memberId}/reward-instances`, key: t.keys.read })).json().data as { rewardId: string; status: string }[];

  it('are issued free with each paid period, once: a redelivery, the same period paid again a few seconds apart, or a late payment issue nothing more', async () => {
    const { t, coffee } = await withRewards();
    const pass = await plan(t, { period: 'monthly', benefits: { includedRewards: [{ rewardId: coffee.rewardId, quantity: 2 }] } });
    const m = await member(t);
    const paid = (eventId: string, periodStart: string, occurredAt = periodStart) =>
      pay(t, { eventId, memberId: m, planId: pass, externalId: 'sub-1', amount: 499, currency: 'EUR', periodStart, occurredAt });
    expect((await paid('dec', '2026-12-01T08:00:00Z')).statusCode).toBe(200);
    expect(await instances(t, m)).toHaveLength(2);
    expect((await paid('dec', '2026-12-01T08:00:00Z')).json().duplicate).toBe(true);
    expect((await paid('dec-invoice', '2026-12-01T08:00:04Z')).statusCode).toBe(200);
    expect(await instances(t, m)).toHaveLength(2);
    expect((await paid('jan', '2027-01-01T08:00:00Z')).statusCode).toBe(200);
    expect(await instances(t, m)).toHaveLength(4);
    // a payment for December arriving after January's: stale for the lifecycle, and December had its rewards
    expect((await paid('dec-late', '2026-12-01T08:00:00Z', '2026-12-01T08:30:00Z')).json().outcome).toBe('stale');
    expect(await instances(t, m)).toHaveLength(4);
    expect((await instances(t, m)).every((i) => i.rewardId === coffee.rewardId && i.status === 'issued')).toBe(true);
    const messages = (await listOutbox(laurel.db, t.tenantId)).filter((x) => x.type === 'reward.issued');
    expect(messages).toHaveLength(4);
    await expectVerified(laurel, t.tenantId);
  });

  it('name a reward of the program that can be given, or are refused naming the field', async () => {
    const { t, coffee } = await withRewards();
    const credit = (await createReward(laurel, t.tenantId, t.program.programId, { code: 'credit', name: 'Credit', cost: 100, value: { type: 'store_credit', amount: 500, wallet: 'points' } }).catch(() => null))?.reward;
    const other = await withRewards();
    const cases: [unknown, string][] = [
      [[{ rewardId: other.coffee.rewardId }], 'benefits.includedRewards[0].rewardId'],
      [[{ rewardId: 'nope' }], 'benefits.includedRewards[0].rewardId'],
      [[{ rewardId: coffee.rewardId, quantity: 0 }], 'benefits.includedRewards[0].quantity'],
      [[{ rewardId: coffee.rewardId }, { rewardId: coffee.rewardId }], 'benefits.includedRewards[1].rewardId'],
      ...(credit ? [[[{ rewardId: credit.rewardId }], 'benefits.includedRewards[0].rewardId'] as [unknown, string]] : []),
    ];
    for (const [includedRewards, field] of cases) {
      const r = await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, code: `x${++serial}`, name: 'X', fee: 1, currency: 'EUR', period: 'monthly', benefits: { includedRewards } } });
      expect(r.statusCode, r.body).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, r.body).toBeLessThan(500);
      expect(r.json().errors[0].field).toBe(field);
    }
  });

  it('periods a provider stamps a few seconds apart are one; the next month is another', () => {
    const dec = { start: new Date('2026-12-01T10:00:05Z'), end: new Date('2027-01-01T10:00:05Z') };
    expect(periodCovered([dec], new Date('2026-12-01T10:00:00Z'))).toBe(true);
    expect(periodCovered([dec], new Date('2027-01-01T10:00:00Z'))).toBe(false);
    expect(periodCovered([{ start: dec.start, end: null }], new Date('2030-01-01T00:00:00Z'))).toBe(true);
    expect(periodCovered([], dec.start)).toBe(false);
  });
});

describe('Stripe renewals', () => {
  const FIXTURES = new URL('./fixtures/stripe/', import.meta.url);
  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort().map((f) => readFileSync(new URL(f, FIXTURES), 'utf8'));
  const SECRET = 'whsec_test_laurel_0123456789abcdef';

  it('issue the included rewards once per paid period, with every event delivered twice and a renewal before its subscription update', async () => {
    const t = await laddered();
    const coffee = (await createReward(laurel, t.tenantId, t.program.programId, { code: 'coffee', name: 'Free coffee', cost: 100, value: { type: 'free_product', sku: 'LATTE' } })).reward;
    await plan(t, { code: 'delivery-pass', period: 'monthly', stripePriceId: 'price_1QLaurelDeliveryPass', benefits: { tier: 'silver', includedRewards: [{ rewardId: coffee.rewardId }] } });
    await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/stripe`, key: t.keys.admin, body: { webhookSecret: SECRET } });
    const erin = (await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: 'erin' })).memberId;
    const send = (payload: string) => {
      const ts = Math.floor(laurel.clock.now().getTime() / 1000);
      const sig = createHmac('sha256', SECRET).update(`${ts}.${payload}`).digest('hex');
      return app.inject({ method: 'POST', url: `/v1/integrations/stripe/webhook?programId=${t.program.programId}`, payload, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${ts},v1=${sig}` } });
    };
    // 08 (November's invoice) after 09 (the subscription's update of the same day): stale for the lifecycle, paid for all that
    const order = [0, 1, 2, 3, 4, 5, 6, 8, 7, 9];
    for (const i of order) {
      for (let n = 0; n < 2; n++) expect((await send(fixtures[i]!)).statusCode).toBe(200);
    }
    const issued = (await call(app, { method: 'GET', url: `/v1/members/${erin}/reward-instances`, key: t.keys.read })).json().data;
    expect(issued).toHaveLength(3); // September, October, November
    expect((await tierOf(t, erin)).tier.code).toBe('silver');
    expect((await send(fixtures[10]!)).json().membership.status).toBe('expired');
    expect((await tierOf(t, erin)).tier.code).toBe('member');
    expect(await tierMessages(t, erin)).toEqual(['null→member', 'member→silver', 'silver→member']);
  });
});

describe("a member's own memberships", () => {
  it('are read with their token, with the plan and whether it applies now; another member\'s are 403, an unknown member 404', async () => {
    const t = await laddered();
    const gold = await plan(t, { code: 'gold-pass', name: 'Gold pass', period: 'monthly', benefits: { tier: 'gold', flags: ['free_shipping'] } });
    const [m, other] = [await member(t), await member(t)];
    await pay(t, { eventId: 'e', memberId: m, planId: gold, externalId: 'sub-m', occurredAt: '2026-12-01T08:00:00Z' });
    const token = (await call(app, { method: 'POST', url: `/v1/members/${m}/tokens`, key: t.keys.pos, body: {} })).json().token as string;
    const own = await call(app, { method: 'GET', url: `/v1/members/${m}/membership`, key: token });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().data).toEqual([expect.objectContaining({
      object: 'membership', memberId: m, status: 'active', entitled: true, plan: { code: 'gold-pass', name: 'Gold pass', benefits: expect.objectContaining({ tier: 'gold', tierMode: 'floor', flags: ['free_shipping'] }) },
    })]);
    expect((await call(app, { method: 'GET', url: `/v1/members/${other}/membership`, key: token })).statusCode).toBe(403);
    expect((await call(app, { method: 'GET', url: `/v1/members/${other}/membership`, key: t.keys.read })).json().data).toEqual([]);
    expect((await call(app, { method: 'GET', url: '/v1/members/0190a0a0-0000-7000-8000-000000000000/membership', key: t.keys.read })).statusCode).toBe(404);
    const elsewhere = await newTenant(laurel);
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/membership`, key: elsewhere.keys.read })).statusCode).toBe(404);
  });
});
