// Program analytics against tables worked out by hand on a small fixture, the holdout's assignment
// and its effect on the event path, and ROI on a fixture whose answer is computed below.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdoutBucket, holdoutKey, inControlGroup } from '../src/core/analytics/holdout.js';
import { roiOf } from '../src/core/analytics/roi.js';
import { memberCounts } from '../src/db/analytics.js';
import {
  cohortRetention, overview, pointsOverTime, rewardPopularity, roiReport, tierAnalytics, updateAnalyticsSettings,
} from '../src/services/analytics.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance, redeem } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { createPlan, recordPayment } from '../src/services/memberships.js';
import { memberReferral, putReferralSettings } from '../src/services/referrals.js';
import { createReward, redeemReward } from '../src/services/rewards.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { putLadder } from '../src/services/tiers.js';
import { basicProgram, expectVerified, key, openTestLaurel } from './support/laurel.js';

type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;
let laurel: TestLaurel;
beforeAll(async () => { laurel = await openTestLaurel('2025-12-01T12:00:00Z'); });
afterAll(async () => { await laurel.close(); });

interface Fixture { tenantId: string; programId: string }

async function newFixtureProgram(pointValue: { points: number; minor: number }, enrollmentMode: 'opt_in' | 'universal' = 'opt_in'): Promise<Fixture> {
  const tenant = await createTenant(laurel, { name: 'Analytics', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, pointValue: { points: BigInt(pointValue.points), minor: BigInt(pointValue.minor) }, enrollmentMode });
  await createRule(laurel, tenant.tenantId, program.programId, {
    name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 },
  }, { actor: 'test' });
  return { tenantId: tenant.tenantId, programId: program.programId };
}

let serial = 0;
async function enrol(f: Fixture, externalId: string, at: string): Promise<string> {
  laurel.clock.set(at);
  return (await createMember(laurel, f.tenantId, { programId: f.programId, externalId })).memberId;
}

async function buy(f: Fixture, memberId: string, cents: number, at: string, externalId = `o-${++serial}`) {
  laurel.clock.set(at);
  return ingestEvent(laurel, f.tenantId, {
    programId: f.programId, memberId, type: 'purchase', externalId, occurredAt: at, lines: [{ sku: 'GOODS', quantity: 1, unitPrice: cents }],
  });
}

// Europe/Paris: the period is the first quarter of 2026 on the tenant's calendar.
const Q1 = { from: '2025-12-31T23:00:00Z', to: '2026-03-31T22:00:00Z' };

describe('analytics on a hand-computed fixture', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await newFixtureProgram({ points: 1, minor: 1 });
    // member 0, silver from 60 qualifying points in a calendar year
    await putLadder(laurel, f.tenantId, f.programId, {
      metric: 'points', window: { kind: 'calendar_year' },
      tiers: [{ code: 'member', name: 'Member', threshold: 0 }, { code: 'silver', name: 'Silver', threshold: 60 }],
    }, { actor: 'test' });
    const voucher = (await createReward(laurel, f.tenantId, f.programId, { code: 'five-off', name: 'Five off', cost: 20, value: { type: 'fixed_discount', amount: 500 } })).reward;

    const erin = await enrol(f, 'erin', '2025-12-20T10:00:00Z');
    const alice = await enrol(f, 'alice', '2026-01-10T10:00:00Z');
    await buy(f, alice, 5000, '2026-01-12T10:00:00Z');
    const bob = await enrol(f, 'bob', '2026-01-20T10:00:00Z');
    await buy(f, bob, 10000, '2026-01-25T10:00:00Z', 'bob-order');
    // 23:30 UTC on 31 January is 00:30 on 1 February in Paris: a February figure
    await buy(f, erin, 2500, '2026-01-31T23:30:00Z');
    await buy(f, alice, 3000, '2026-02-03T10:00:00Z');
    laurel.clock.set('2026-02-10T10:00:00Z');
    await ingestEvent(laurel, f.tenantId, { programId: f.programId, type: 'return', externalId: 'bob-return', purchaseExternalId: 'bob-order', refundAmount: 4000 });
    const carol = await enrol(f, 'carol', '2026-02-15T10:00:00Z');
    await buy(f, carol, 1000, '2026-02-16T10:00:00Z');
    await enrol(f, 'dave', '2026-03-01T10:00:00Z');
    await buy(f, alice, 2000, '2026-03-05T10:00:00Z');
    laurel.clock.set('2026-03-06T10:00:00Z');
    await redeem(laurel, { tenantId: f.tenantId, memberId: alice, amount: 30n, idempotencyKey: key() });
    laurel.clock.set('2026-03-10T10:00:00Z');
    await redeemReward(laurel, f.tenantId, { rewardId: voucher.rewardId, memberId: bob }, { idempotencyKey: key(), actor: 'test' });
    await buy(f, carol, 4000, '2026-03-20T10:00:00Z');
    // after the period: counted nowhere
    await buy(f, carol, 9900, '2026-04-02T10:00:00Z');
    laurel.clock.set('2026-04-05T10:00:00Z');
  });

  it('overview: members, rates, average order value, points and cost', async () => {
    const o = await overview(laurel, f.tenantId, f.programId, Q1);
    // members before the end: erin, alice, bob, carol, dave; new in Q1: all but erin
    expect({ members: o.members, newMembers: o.newMembers, control: o.controlMembers, enrolmentRate: o.enrolmentRate })
      .toEqual({ members: 5n, newMembers: 4n, control: 0n, enrolmentRate: 0.8 });
    // active: alice (3 purchases), bob (purchase, return), carol (2), erin (1); dave did nothing
    // orders 3 + 1 + 2 + 1 = 7; revenue 5000 + 3000 + 2000 + 10000 + 1000 + 4000 + 2500 = 27 500; AOV 3928.57 → 3929
    expect(o.groups.members).toEqual({
      customers: 5n, active: 4n, activeRate: 0.8, purchasers: 4n, repeatPurchasers: 2n, repeatPurchaseRate: 0.5,
      orders: 7n, revenue: 27_500n, averageOrderValue: 3929n,
    });
    expect(o.groups.control).toMatchObject({ customers: 0n, active: 0n, orders: 0n, averageOrderValue: 0n });
    // issued 50 + 100 + 25 + 30 + 10 + 20 + 40 − 40 (bob's return) = 235; redeemed 30 + 20 (the voucher)
    expect(o.points).toEqual({ issued: 235n, redeemed: 50n, expired: 0n, redemptionRate: 0.2128 });
    // 30 points paid nothing but themselves: 30 cents; the voucher's 20 points gave €5
    expect(o.cost).toEqual({ pointsRedeemed: 50n, points: 30n, rewards: 500n, membershipFees: 0n, total: 530n });
    // no referrals, surveys or paid memberships in this fixture
    expect(o.referrals).toMatchObject({ codesShared: 0n, joined: 0n, conversionRate: 0 });
    expect(o.nps).toEqual({ responses: 0n, promoters: 0n, passives: 0n, detractors: 0n, score: null });
  });

  it('points by month and by day, on the tenant\'s calendar', async () => {
    const months = await pointsOverTime(laurel, f.tenantId, f.programId, { ...Q1, bucket: 'month' });
    expect(months.buckets).toEqual([
      { start: '2026-01-01', issued: 150n, redeemed: 0n, expired: 0n },
      { start: '2026-02-01', issued: 25n, redeemed: 0n, expired: 0n },   // 25 (erin) + 30 + 10 − 40
      { start: '2026-03-01', issued: 60n, redeemed: 50n, expired: 0n },
    ]);
    const days = await pointsOverTime(laurel, f.tenantId, f.programId, { from: '2026-01-30T23:00:00Z', to: '2026-02-11T23:00:00Z', bucket: 'day' });
    expect(days.buckets).toEqual([
      { start: '2026-02-01', issued: 25n, redeemed: 0n, expired: 0n },
      { start: '2026-02-03', issued: 30n, redeemed: 0n, expired: 0n },
      { start: '2026-02-10', issued: -40n, redeemed: 0n, expired: 0n },
    ]);
    const weeks = await pointsOverTime(laurel, f.tenantId, f.programId, { ...Q1, bucket: 'week' });
    // weeks start on Monday: 12 Jan, 19 Jan (the 25th), 26 Jan (erin's 1 Feb), 2 Feb, 9 Feb, 16 Feb, 2 Mar, 9 Mar, 16 Mar
    expect(weeks.buckets.map((b) => [b.start, b.issued, b.redeemed])).toEqual([
      ['2026-01-12', 50n, 0n], ['2026-01-19', 100n, 0n], ['2026-01-26', 25n, 0n], ['2026-02-02', 30n, 0n], ['2026-02-09', -40n, 0n],
      ['2026-02-16', 10n, 0n], ['2026-03-02', 20n, 30n], ['2026-03-09', 0n, 20n], ['2026-03-16', 40n, 0n],
    ]);
  });

  it('tier distribution and moves', async () => {
    const t = await tierAnalytics(laurel, f.tenantId, f.programId, Q1);
    // now: alice reached 80 points on 3 Feb, bob 100 on 25 Jan (his return does not lower him before a
    // review), carol 149 on 2 April, after the period; erin and dave stay members
    expect(t.tiers).toEqual([{ code: 'member', members: 2n }, { code: 'silver', members: 3n }]);
    expect(t.grades).toEqual([{ code: null, members: 5n }]);
    // moves in the period: alice's and bob's, not carol's
    expect(t.tierMoves.filter((m) => m.change === 'up')).toEqual([{ from: 'member', to: 'silver', change: 'up', members: 2n, moves: 2n }]);
    // placed on the ladder when enrolled: alice, bob, carol, dave in Q1 (erin in December)
    expect(t.tierMoves.filter((m) => m.change === 'placed').reduce((s, m) => s + m.moves, 0n)).toBe(4n);
    expect(t.gradeMoves).toEqual([]);
  });

  it('cohort retention by enrolment month', async () => {
    const c = await cohortRetention(laurel, f.tenantId, f.programId, Q1);
    expect(c.cohorts).toEqual([
      // alice bought in January, February and March; bob in January
      { month: '2026-01', members: 2n, cells: [{ offset: 0, active: 2n }, { offset: 1, active: 1n }, { offset: 2, active: 1n }] },
      { month: '2026-02', members: 1n, cells: [{ offset: 0, active: 1n }, { offset: 1, active: 1n }] },
      { month: '2026-03', members: 1n, cells: [] },
    ]);
  });

  it('reward popularity', async () => {
    const r = await rewardPopularity(laurel, f.tenantId, f.programId, Q1);
    expect(r.rewards).toMatchObject([{ code: 'five-off', issued: 1n, consumed: 0n, cancelled: 0n, members: 1n, points: 20n, givenMoney: 500n }]);
    expect((await rewardPopularity(laurel, f.tenantId, f.programId, { from: '2026-03-10T10:00:01Z', to: Q1.to })).rewards).toEqual([]);
  });

  it('refuses a period that is not one', async () => {
    await expect(overview(laurel, f.tenantId, f.programId, { from: Q1.to, to: Q1.from })).rejects.toMatchObject({ code: 'validation', field: 'from' });
    await expect(overview(laurel, f.tenantId, f.programId, { from: 'yesterday' })).rejects.toMatchObject({ code: 'validation', field: 'from' });
    await expect(pointsOverTime(laurel, f.tenantId, f.programId, { bucket: 'year' })).rejects.toMatchObject({ field: 'bucket' });
    await expect(pointsOverTime(laurel, f.tenantId, f.programId, { from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', bucket: 'day' })).rejects.toMatchObject({ field: 'bucket' });
  });
});

describe('referral funnel, NPS and membership fees on a hand-computed fixture', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await newFixtureProgram({ points: 1, minor: 1 });
    await putReferralSettings(laurel, f.tenantId, f.programId, {
      enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 30,
      referrer: { points: 500 }, referee: { points: 500 },
    }, { actor: 'test' });
    const plan = await createPlan(laurel, f.tenantId, { programId: f.programId, code: 'club', name: 'Club', fee: 1000, currency: 'EUR', period: 'monthly', benefits: { flags: [] } });
    const pay = (memberId: string, eventId: string, type: 'paid' | 'refunded', at: string, externalId: string) => {
      laurel.clock.set(at);
      return recordPayment(laurel, f.tenantId, {
        programId: f.programId, provider: 'till', eventId, type, externalId, memberId, planId: plan.planId, amount: 1000, currency: 'EUR', occurredAt: at,
      });
    };
    const survey = (memberId: string, score: number, at: string) => {
      laurel.clock.set(at);
      return ingestEvent(laurel, f.tenantId, { programId: f.programId, memberId, type: 'survey_response', externalId: `s-${++serial}`, occurredAt: at, attributes: { score } });
    };
    const code = async (memberId: string, at: string) => { laurel.clock.set(at); return (await memberReferral(laurel, f.tenantId, memberId)).code!; };
    const join = async (email: string, referralCode: string, at: string) => {
      laurel.clock.set(at);
      return (await createMember(laurel, f.tenantId, { programId: f.programId, email, referralCode })).memberId;
    };

    laurel.clock.set('2025-12-10T10:00:00Z');
    const ada = (await createMember(laurel, f.tenantId, { programId: f.programId, email: 'ada@example.com' })).memberId;
    laurel.clock.set('2025-12-11T10:00:00Z');
    const cy = (await createMember(laurel, f.tenantId, { programId: f.programId, email: 'cy@example.com' })).memberId;
    // before the period: ada's first month of the club, counted nowhere
    await pay(ada, 'fee-dec', 'paid', '2025-12-15T10:00:00Z', 'ada-club');
    const adaCode = await code(ada, '2026-01-05T10:00:00Z');
    await code(cy, '2026-03-02T10:00:00Z');
    // bob joins with ada's code and qualifies with €60: 500 points each side
    const bob = await join('bob@example.com', adaCode, '2026-01-10T10:00:00Z');
    await buy(f, bob, 6000, '2026-01-12T10:00:00Z');
    // dan joins and buys €20: still pending; ada's own alias is refused as a self-referral
    const dan = await join('dan@example.com', adaCode, '2026-02-01T10:00:00Z');
    await buy(f, dan, 2000, '2026-02-02T10:00:00Z');
    await join('Ada+promo@Example.com', adaCode, '2026-02-05T10:00:00Z');
    laurel.clock.set('2026-02-20T10:00:00Z');
    await redeem(laurel, { tenantId: f.tenantId, memberId: bob, amount: 50n, idempotencyKey: key() });

    // fees: ada renews in January and February, bob joins the club in February and is refunded in March
    await pay(ada, 'fee-jan', 'paid', '2026-01-15T10:00:00Z', 'ada-club');
    await pay(ada, 'fee-feb', 'paid', '2026-02-15T10:00:00Z', 'ada-club');
    await pay(bob, 'fee-bob', 'paid', '2026-02-16T10:00:00Z', 'bob-club');
    await pay(bob, 'fee-bob-refund', 'refunded', '2026-03-03T10:00:00Z', 'bob-club');

    // survey: bob 10 and dan 9 promote, ada 7 is passive, cy 3 detracts; cy's 0 in April is after the period
    await survey(bob, 10, '2026-01-20T10:00:00Z');
    await survey(dan, 9, '2026-02-10T10:00:00Z');
    await survey(ada, 7, '2026-03-10T10:00:00Z');
    await survey(cy, 3, '2026-03-11T10:00:00Z');
    await survey(cy, 0, '2026-04-02T10:00:00Z');
    laurel.clock.set('2026-04-05T10:00:00Z');
  });

  it('overview: the funnel of the referrals that joined, the NPS of the responses and the fees of the period', async () => {
    const o = await overview(laurel, f.tenantId, f.programId, Q1);
    // codes: ada's (January) and cy's (March); joined: bob, dan and ada's alias; bob qualified (1 of 3),
    // rewarded at once (the program has no return window)
    expect(o.referrals).toEqual({
      codesShared: 2n, joined: 3n, pending: 1n, qualified: 1n, rewarded: 1n, reversed: 0n, rejected: 1n, conversionRate: 0.3333, pointsPaid: 1000n,
    });
    // 2 promoters, 1 passive, 1 detractor of 4: (2 − 1) / 4 = +25
    expect(o.nps).toEqual({ responses: 4n, promoters: 2n, passives: 1n, detractors: 1n, score: 25 });
    // paid 3 × 1000 in the period (December's is before it), 1000 refunded
    expect(o.membershipFees).toEqual({ paid: 3000n, refunded: 1000n, net: 2000n, payments: 3n, refunds: 1n });
    // 50 points redeemed at 1 cent, less the 2000 of fees: the fees pay for the program
    expect(o.cost).toEqual({ pointsRedeemed: 50n, points: 50n, rewards: 0n, membershipFees: 2000n, total: -1950n });
  });

  it('the ROI report subtracts the same fees; a program that costs nothing has no ROI', async () => {
    const r = await roiReport(laurel, f.tenantId, f.programId, Q1);
    expect(r.programCost).toEqual({ pointsRedeemed: 50n, points: 50n, rewards: 0n, membershipFees: 2000n, total: -1950n });
    expect(r.roi).toBeNull();
  });

  it('a period holds only its own: February alone', async () => {
    const o = await overview(laurel, f.tenantId, f.programId, { from: '2026-01-31T23:00:00Z', to: '2026-02-28T23:00:00Z' });
    expect(o.referrals).toMatchObject({ codesShared: 0n, joined: 2n, pending: 1n, qualified: 0n, rejected: 1n, conversionRate: 0, pointsPaid: 0n });
    expect(o.nps).toEqual({ responses: 1n, promoters: 1n, passives: 0n, detractors: 0n, score: 100 });
    expect(o.membershipFees).toEqual({ paid: 2000n, refunded: 0n, net: 2000n, payments: 2n, refunds: 0n });
    await expectVerified(laurel, f.tenantId);
  });
});

describe('the holdout', () => {
  it('puts a stable share of customers in the control group: within ±1% over 100,000', () => {
    const programId = '01a20c82-4d1f-7939-b601-6e85e79978fe';
    for (const share of [500, 1000, 2500]) {
      let control = 0;
      for (let i = 0; i < 100_000; i++) if (inControlGroup(programId, { externalId: `customer-${i}`, memberId: 'x' }, share)) control++;
      expect(Math.abs(control / 100_000 - share / 10_000)).toBeLessThanOrEqual(0.01);
    }
    // the same customer, the same answer; a higher share keeps everyone already in
    for (let i = 0; i < 2000; i++) {
      const m = { externalId: `customer-${i}`, memberId: 'x' };
      expect(inControlGroup(programId, m, 1000)).toBe(inControlGroup(programId, m, 1000));
      if (inControlGroup(programId, m, 1000)) expect(inControlGroup(programId, m, 2000)).toBe(true);
    }
    // the documented hash: md5("salt:externalId"), first 32 bits unsigned, mod 10 000
    expect(holdoutBucket('abc')).toBe(5272);
    expect(holdoutKey(programId, { externalId: null, memberId: 'm-1' })).toBe(`${programId}:m-1`);
  });

  it('the database splits members exactly as the event path does', async () => {
    const f = await newFixtureProgram({ points: 1, minor: 1 });
    await updateAnalyticsSettings(laurel, f.tenantId, f.programId, { controlShareBp: 3000 }, 'test');
    laurel.clock.set('2026-01-01T00:00:00Z');
    const members: { memberId: string; externalId: string | null }[] = [];
    for (let i = 0; i < 200; i++) {
      members.push(await createMember(laurel, f.tenantId, { programId: f.programId, ...(i % 10 === 0 ? { email: `p${i}@example.com` } : { externalId: `h-${i}` }) }));
    }
    // by default the salt is the program's id; another salt draws another group
    for (const salt of [f.programId, 'experiment-2']) {
      const expected = members.filter((m) => inControlGroup(salt, m, 3000)).length;
      const counts = await memberCounts(laurel.db, {
        tenantId: f.tenantId, programId: f.programId, timeZone: 'UTC', from: new Date('2025-01-01'), to: new Date('2027-01-01'), controlShareBp: 3000, holdoutSalt: salt,
      });
      expect(counts.members).toBe(200n);
      expect(counts.control, salt).toBe(BigInt(expected));
      expect(expected).toBeGreaterThan(30);
    }
    const drawn = (salt: string) => members.filter((m) => inControlGroup(salt, m, 3000)).map((m) => m.memberId);
    expect(drawn('experiment-2')).not.toEqual(drawn(f.programId));
  });

  it('control members are tracked but earn nothing', async () => {
    const f = await newFixtureProgram({ points: 1, minor: 1 }, 'universal');
    await updateAnalyticsSettings(laurel, f.tenantId, f.programId, { controlShareBp: 5000, holdoutSalt: 'spring test' }, 'test');
    const ids = Array.from({ length: 40 }, (_, i) => `c-${i}`);
    const inControl = ids.find((x) => inControlGroup('spring test', { externalId: x, memberId: '' }, 5000))!;
    const notInControl = ids.find((x) => !inControlGroup('spring test', { externalId: x, memberId: '' }, 5000))!;
    // enrolled by their first event, named by external id
    laurel.clock.set('2026-02-01T10:00:00Z');
    const send = (externalId: string, order: string) => ingestEvent(laurel, f.tenantId, {
      programId: f.programId, member: { externalId }, type: 'purchase', externalId: order, occurredAt: '2026-02-01T10:00:00Z',
      lines: [{ sku: 'GOODS', quantity: 1, unitPrice: 4200 }],
    });
    const c = await send(inControl, 'control-order');
    const m = await send(notInControl, 'member-order');
    expect(c.points).toBe(0n);
    expect(c.ledger).toBeNull();
    expect(c.event.total).toBe(4200n);
    expect(m.points).toBe(42n);
    expect((await getBalance(laurel, f.tenantId, c.event.memberId)).available).toBe(0n);
    // tracked: the control member's spend is in the report
    const o = await overview(laurel, f.tenantId, f.programId, { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' });
    expect(o.controlMembers).toBe(1n);
    expect(o.groups.control).toMatchObject({ customers: 1n, active: 1n, orders: 1n, revenue: 4200n });
    expect(o.groups.members).toMatchObject({ customers: 1n, orders: 1n, revenue: 4200n });
    // a return of the control member's purchase takes nothing back
    laurel.clock.set('2026-02-02T10:00:00Z');
    const back = await ingestEvent(laurel, f.tenantId, { programId: f.programId, type: 'return', externalId: 'control-return', purchaseExternalId: 'control-order', refundAmount: 4200 });
    expect(back.points).toBe(0n);
    await expectVerified(laurel, f.tenantId);
  });
});

describe('ROI', () => {
  it('on a fixture with a known answer', async () => {
    // 1 point = 10 cents; margin 40%; half the customers held out
    const f = await newFixtureProgram({ points: 1, minor: 10 });
    await updateAnalyticsSettings(laurel, f.tenantId, f.programId, { controlShareBp: 5000, grossMarginBp: 4000 }, 'test');
    const ids = Array.from({ length: 60 }, (_, i) => `roi-${i}`);
    const control = ids.filter((x) => inControlGroup(f.programId, { externalId: x, memberId: '' }, 5000)).slice(0, 3);
    const members = ids.filter((x) => !inControlGroup(f.programId, { externalId: x, memberId: '' }, 5000)).slice(0, 3);
    const memberIds: string[] = [];
    for (const [i, x] of members.entries()) {
      const id = await enrol(f, x, '2026-01-02T10:00:00Z');
      memberIds.push(id);
      await buy(f, id, [10_000, 12_000, 14_000][i]!, '2026-01-05T10:00:00Z');
    }
    for (const [i, x] of control.entries()) {
      const id = await enrol(f, x, '2026-01-02T10:00:00Z');
      await buy(f, id, [8_000, 9_000, 10_000][i]!, '2026-01-05T10:00:00Z');
    }
    // 100 points redeemed at 10 cents: the program cost 1000
    laurel.clock.set('2026-01-20T10:00:00Z');
    await redeem(laurel, { tenantId: f.tenantId, memberId: memberIds[0]!, amount: 100n, idempotencyKey: key() });
    laurel.clock.set('2026-02-01T00:00:00Z');
    const r = await roiReport(laurel, f.tenantId, f.programId, { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' });
    // members: mean 12 000, sd 2000; control: mean 9000, sd 1000
    expect(r.members).toMatchObject({ customers: 3, mean: 12_000, standardDeviation: 2000 });
    expect(r.control).toMatchObject({ customers: 3, mean: 9000, standardDeviation: 1000 });
    // difference 3000, se = √(2000²/3 + 1000²/3) = 1290.994…, half-width 1.959964 × se = 2530.30
    expect(r.difference).toBe(3000);
    expect(r.differenceInterval![0]).toBeCloseTo(469.70, 2);
    expect(r.differenceInterval![1]).toBeCloseTo(5530.30, 2);
    // incremental revenue 3000 × 3 = 9000; interval 1409.09 → 1409, 16 590.9 → 16 591; margin 40%: 3600
    expect(r.incrementalRevenue).toBe(9000n);
    expect(r.incrementalRevenueInterval).toEqual([1409n, 16_591n]);
    expect(r.incrementalGrossMargin).toBe(3600n);
    expect(r.programCost).toEqual({ pointsRedeemed: 100n, points: 1000n, rewards: 0n, membershipFees: 0n, total: 1000n });
    // ROI = (3600 − 1000) / 1000; at the interval's ends: (564 − 1000) / 1000 and (6636 − 1000) / 1000
    expect(r.roi).toBeCloseTo(2.6, 10);
    expect(r.roiInterval![0]).toBeCloseTo(-0.436, 10);
    expect(r.roiInterval![1]).toBeCloseTo(5.636, 10);
    // Welch–Satterthwaite: (4e6/3 + 1e6/3)² / ((4e6/3)²/2 + (1e6/3)²/2) = 2.941
    expect(r.degreesOfFreedom).toBeCloseTo(2.941, 3);
  });

  it('has no answer without two customers in each group or without a cost', () => {
    const g = (n: bigint, sum: bigint, sumSquares: bigint) => ({ n, sum, sumSquares });
    expect(roiOf({ members: g(3n, 30n, 350n), control: g(1n, 5n, 25n), cost: 10n, grossMarginBp: 5000 }).roi).toBeNull();
    const free = roiOf({ members: g(2n, 30n, 500n), control: g(2n, 10n, 52n), cost: 0n, grossMarginBp: 5000 });
    expect(free.difference).toBe(10);
    expect(free.incrementalRevenue).toBe(20n);
    expect(free.roi).toBeNull();
  });
});

describe('ROI statistics, as a property', () => {
  it('the exact integer sums give the textbook means, variances and interval for any spends', () => {
    const spends = fc.array(fc.integer({ min: -50_000, max: 5_000_000 }), { minLength: 2, maxLength: 60 });
    fc.assert(fc.property(spends, spends, fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 1_000_000 }), (m, c, margin, cost) => {
      const sums = (xs: number[]) => ({ n: BigInt(xs.length), sum: xs.reduce((s, x) => s + BigInt(x), 0n), sumSquares: xs.reduce((s, x) => s + BigInt(x) * BigInt(x), 0n) });
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const variance = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
      const r = roiOf({ members: sums(m), control: sums(c), cost: BigInt(cost), grossMarginBp: margin });
      const scale = Math.max(1, ...m.map(Math.abs), ...c.map(Math.abs));
      expect(Math.abs(r.members.mean! - mean(m))).toBeLessThan(1e-9 * scale);
      expect(Math.abs(r.members.standardDeviation! - Math.sqrt(variance(m)))).toBeLessThan(1e-6 * scale);
      expect(Math.abs(r.difference! - (mean(m) - mean(c)))).toBeLessThan(1e-9 * scale);
      const half = 1.959963984540054 * Math.sqrt(variance(m) / m.length + variance(c) / c.length);
      expect(Math.abs(r.differenceInterval![1] - r.difference! - half)).toBeLessThan(1e-6 * scale);
      // the interval holds the estimate, and ROI is ordered as the interval is
      expect(r.differenceInterval![0]).toBeLessThanOrEqual(r.difference!);
      expect(r.roiInterval![0]).toBeLessThanOrEqual(r.roi! + 1e-12);
      expect(r.roi!).toBeLessThanOrEqual(r.roiInterval![1] + 1e-12);
      // revenue and margin stay whole minor units
      expect(typeof r.incrementalRevenue).toBe('bigint');
      expect(typeof r.incrementalGrossMargin).toBe('bigint');
    }), { numRuns: 300 });
  });
});
