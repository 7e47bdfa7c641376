// Paid memberships over HTTP, on PGlite and PostgreSQL: plans, the generic payment-event API
// (idempotent on the provider's event id, stale events changing nothing), cancellation, the expiry
// job, the benefits through the rules and the ledger (an earn multiplier, store credit back) with
// verify, who may call what, tenants apart, and bad input refused naming the field with nothing
// half-written.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listOutbox } from '../src/db/jobs.js';
import { runJobNow } from '../src/jobs/runner.js';
import { createMember } from '../src/services/members.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
let serial = 0;

beforeAll(async () => {
  ({ laurel, app } = await openTestApp());
  laurel.clock.set('2026-12-01T09:00:00Z');
});
beforeEach(() => laurel.clock.set('2026-12-01T09:00:00Z'));
afterAll(async () => {
  await app.close();
  await laurel.close();
});

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors?.[0]?.field, r.body).toBe(field);
}

type Plan = { planId: string; code: string };
type View = { membershipId: string; status: string; entitled: boolean; expiresAt: string | null; periodEnd: string | null };

const CO_OP = { code: 'co-op', name: 'Co-op lifetime membership', fee: 2000, currency: 'EUR', period: 'lifetime', benefits: { earnMultiplier: '2', percentBack: '10', flags: ['member_prices'] } };
const PASS = { code: 'pass', name: 'Delivery pass', fee: 499, currency: 'EUR', period: 'monthly', graceDays: 3, benefits: { flags: ['free_shipping'] } };

async function shop(): Promise<TestTenant & { plans: Record<string, Plan> }> {
  const t = await newTenant(laurel, { wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'credit', kind: 'redeemable' }] });
  const plans: Record<string, Plan> = {};
  for (const p of [CO_OP, PASS]) {
    const r = await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, ...p } });
    expect(r.statusCode, r.body).toBe(201);
    plans[p.code] = r.json();
  }
  return { ...t, plans };
}

const member = async (t: TestTenant) => (await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: `m-${++serial}` })).memberId;

const pay = (t: TestTenant, body: Record<string, unknown>, key = t.keys.admin) =>
  call(app, { method: 'POST', url: '/v1/membership-payments', key, body: { programId: t.program.programId, provider: 'acme-billing', ...body } });

async function counts(t: TestTenant) {
  const n = async (table: 'memberships' | 'membership_payment_events' | 'membership_fees' | 'membership_transitions' | 'membership_plans') =>
    Number((await laurel.db.selectFrom(table).select((e) => e.fn.countAll().as('n')).where('tenant_id', '=', t.tenantId).executeTakeFirstOrThrow()).n);
  return [await n('memberships'), await n('membership_payment_events'), await n('membership_fees'), await n('membership_transitions'), await n('membership_plans')];
}

describe('membership plans', () => {
  it('are created, listed and read; codes and Stripe prices are unique per program; bad input names the field', async () => {
    const t = await shop();
    const got = await call(app, { method: 'GET', url: `/v1/membership-plans/${t.plans['co-op']!.planId}`, key: t.keys.read });
    expect(got.json()).toMatchObject({ object: 'membership_plan', code: 'co-op', fee: 2000, period: 'lifetime', trialDays: 0, graceDays: 3, benefits: { earnMultiplier: '2', percentBack: '10', tier: null, flags: ['member_prices'] } });
    const list = await call(app, { method: 'GET', url: `/v1/membership-plans?programId=${t.program.programId}`, key: t.keys.read });
    expect(list.json().data.map((p: Plan) => p.code).sort()).toEqual(['co-op', 'pass']);
    const create = (body: Record<string, unknown>, key = t.keys.admin) => call(app, { method: 'POST', url: '/v1/membership-plans', key, body: { programId: t.program.programId, ...PASS, code: `p${++serial}`, ...body } });
    const before = await counts(t);
    expectProblem(await create({ code: 'pass' }), 409, 'code');
    expectProblem(await create({ fee: -1 }), 400, 'fee');
    expectProblem(await create({ period: 'weekly' }), 400, 'period');
    expectProblem(await create({ currency: 'eur' }), 400, 'currency');
    expectProblem(await create({ benefits: { earnMultiplier: '0.5' } }), 400, 'benefits.earnMultiplier');
    expectProblem(await create({ benefits: { percentBack: '101' } }), 400, 'benefits.percentBack');
    expectProblem(await create({ benefits: { flags: ['Free Shipping'] } }), 400, 'benefits.flags[0]');
    expectProblem(await create({ period: 'lifetime', trialDays: 7 }), 400, 'trialDays');
    expectProblem(await create({ colour: 'blue' }), 400, 'colour');
    expectProblem(await create({ programId: 'not-a-uuid' }), 400, 'programId');
    expectProblem(await create({ programId: '01a20c82-4d1f-7939-b601-6e85e79978fe' }), 404, 'programId');
    expectProblem(await create({}, t.keys.read), 403);
    expectProblem(await create({}, t.keys.pos), 403);
    expect((await create({ stripePriceId: 'price_A' })).statusCode).toBe(201);
    expectProblem(await create({ stripePriceId: 'price_A' }), 409, 'stripePriceId');
    const after = await counts(t);
    expect(after[4]).toBe(before[4]! + 1);
    // another tenant sees none of them
    const other = await newTenant(laurel);
    expectProblem(await call(app, { method: 'GET', url: `/v1/membership-plans/${t.plans['co-op']!.planId}`, key: other.keys.read }), 404, 'planId');
    expect((await call(app, { method: 'GET', url: '/v1/membership-plans', key: other.keys.read })).json().data).toEqual([]);
    expectProblem(await call(app, { method: 'POST', url: '/v1/membership-plans', key: other.keys.admin, body: { programId: t.program.programId, ...PASS } }), 404, 'programId');
  });
});

describe('payment events', () => {
  it('paid starts and renews, failed is past_due within its grace, refunded cancels at once; each event once; older ones are stale', async () => {
    const t = await shop();
    const m = await member(t);
    const planId = t.plans.pass!.planId;
    const base = { memberId: m, planId, externalId: `contract-${serial}`, currency: 'EUR' };
    const first = await pay(t, { ...base, eventId: 'e1', type: 'paid', amount: 499, occurredAt: '2026-12-01T08:00:00Z' });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ object: 'membership_payment_event', outcome: 'applied', duplicate: false, membership: {
      status: 'active', entitled: true, since: '2026-12-01T08:00:00.000Z', periodEnd: '2027-01-01T08:00:00.000Z', expiresAt: '2027-01-04T08:00:00.000Z', provider: 'acme-billing',
    } });
    const id = first.json().membership.membershipId as string;
    const again = await pay(t, { ...base, eventId: 'e1', type: 'paid', amount: 499, occurredAt: '2026-12-01T08:00:00Z' });
    expect(again.json()).toMatchObject({ duplicate: true, outcome: 'applied', membership: { membershipId: id } });

    laurel.clock.set('2027-01-01T09:00:00Z');
    const failed = await pay(t, { ...base, eventId: 'e2', type: 'failed', occurredAt: '2027-01-01T08:30:00Z' });
    expect(failed.json().membership).toMatchObject({ status: 'past_due', entitled: true, expiresAt: '2027-01-04T08:30:00.000Z' });
    // an event from before the failure, delivered late, changes nothing
    const late = await pay(t, { ...base, eventId: 'e0', type: 'paid', amount: 499, occurredAt: '2026-12-15T00:00:00Z' });
    expect(late.json()).toMatchObject({ outcome: 'stale', membership: { status: 'past_due' } });
    laurel.clock.set('2027-01-02T12:00:00Z');
    const paid = await pay(t, { ...base, eventId: 'e3', type: 'paid', amount: 499, occurredAt: '2027-01-02T10:00:00Z', periodStart: '2027-01-01T08:00:00Z' });
    expect(paid.json().membership).toMatchObject({ status: 'active', periodEnd: '2027-02-01T08:00:00.000Z' });
    const refunded = await pay(t, { ...base, eventId: 'e4', type: 'refunded', amount: 499, occurredAt: '2027-01-02T11:00:00Z' });
    expect(refunded.json().membership).toMatchObject({ status: 'cancelled', entitled: false });

    const detail = (await call(app, { method: 'GET', url: `/v1/memberships/${id}`, key: t.keys.read })).json();
    expect(detail.history.map((h: { from: string | null; to: string; cause: string }) => `${h.from}→${h.to} ${h.cause}`)).toEqual([
      'null→active acme-billing:paid', 'active→past_due acme-billing:failed', 'past_due→active acme-billing:paid', 'active→cancelled acme-billing:refunded',
    ]);
    // the stale payment's money was still received: it is revenue for its period
    expect(detail.fees.map((f: { amount: number; eventId: string }) => `${f.eventId} ${f.amount}`)).toEqual(['e1 499', 'e0 499', 'e3 499', 'e4 -499']);
    expect(detail.fees[0]).toMatchObject({ currency: 'EUR', periodStart: '2026-12-01T08:00:00.000Z', periodEnd: '2027-01-01T08:00:00.000Z' });
    const messages = (await listOutbox(laurel.db, t.tenantId)).filter((o) => o.type.startsWith('membership.'));
    expect(messages.map((o) => o.type)).toEqual(['membership.started', 'membership.past_due', 'membership.renewed', 'membership.cancelled']);
    expect(messages[0]!.payload).toMatchObject({ memberId: m, membershipId: id, plan: 'pass', status: 'active', from: null });

    // expired is final: a payment on it is refused, nothing written
    laurel.clock.set('2027-01-03T00:00:00Z');
    expect((await runJobNow(laurel, 'membership_expiry')).stats).toEqual({ expired: 1 });
    const before = await counts(t);
    expectProblem(await pay(t, { ...base, eventId: 'e5', type: 'paid', amount: 499, occurredAt: '2027-01-03T00:00:00Z' }), 409, 'type');
    expect(await counts(t)).toEqual(before);
    laurel.clock.set('2026-12-01T09:00:00Z');
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const t = await shop();
    const m = await member(t);
    const other = await shop();
    const om = await member(other);
    const ok = { memberId: m, planId: t.plans.pass!.planId, externalId: 'c-1', eventId: 'x1', type: 'paid', amount: 499, currency: 'EUR', occurredAt: '2026-12-01T08:00:00Z' };
    const before = await counts(t);
    const cases: [Record<string, unknown>, number, string][] = [
      [{ type: 'chargeback' }, 400, 'type'],
      [{ amount: -5 }, 400, 'amount'],
      [{ amount: 1.5 }, 400, 'amount'],
      [{ currency: 'USD' }, 400, 'currency'],
      [{ occurredAt: 'yesterday' }, 400, 'occurredAt'],
      // found by test/http-fuzz.test.ts: the month after 9999-12-31 is no date PostgreSQL takes as written
      [{ occurredAt: '9999-12-31T23:59:59.999Z' }, 400, 'occurredAt'],
      [{ periodStart: '9999-12-15T00:00:00Z' }, 400, 'periodStart'],
      [{ occurredAt: '0000-01-01T00:00:00Z' }, 400, 'occurredAt'],
      [{ periodEnd: '10000-01-01T00:00:00Z' }, 400, 'periodEnd'],
      [{ provider: 'stripe' }, 400, 'provider'],
      [{ provider: 'Not A Provider' }, 400, 'provider'],
      [{ eventId: '' }, 400, 'eventId'],
      [{ periodStart: '2026-12-02T00:00:00Z', periodEnd: '2026-12-01T00:00:00Z' }, 400, 'periodEnd'],
      [{ memberId: om }, 404, 'memberId'],
      [{ planId: other.plans.pass!.planId }, 404, 'planId'],
      [{ type: 'failed', externalId: 'never-seen' }, 404, 'externalId'],
      [{ type: 'refunded', amount: 0 }, 400, 'amount'],
    ];
    for (const [change, status, field] of cases) expectProblem(await pay(t, { ...ok, ...change }), status, field);
    expectProblem(await pay(t, ok, t.keys.pos), 403);
    expectProblem(await pay(t, ok, other.keys.admin), 404, 'programId');
    expect(await counts(t)).toEqual(before);
    // a membership belongs to its member: another member cannot pay on it
    expect((await pay(t, ok)).statusCode).toBe(200);
    const m2 = await member(t);
    const mid = await counts(t);
    expectProblem(await pay(t, { ...ok, eventId: 'x2', memberId: m2 }), 409, 'externalId');
    expect(await counts(t)).toEqual(mid);
  });
});

describe('cancellation and expiry', () => {
  it('at period end keeps the benefits until then; at once stops them; the job expires what is due, once', async () => {
    const t = await shop();
    const [a, b] = [await member(t), await member(t)];
    const start = async (memberId: string, ext: string) => (await pay(t, {
      memberId, planId: t.plans.pass!.planId, externalId: ext, eventId: `${ext}-paid`, type: 'paid', amount: 499, currency: 'EUR', occurredAt: '2026-12-01T08:00:00Z',
    })).json().membership as View;
    const ma = await start(a, 'ca');
    const mb = await start(b, 'cb');
    const cancel = (id: string, body: Record<string, unknown>, key = t.keys.admin) => call(app, { method: 'POST', url: `/v1/memberships/${id}/cancel`, key, body });
    const atEnd = await cancel(ma.membershipId, { reason: 'moving away' });
    expect(atEnd.json()).toMatchObject({ status: 'cancelled', cancelAtPeriodEnd: true, entitled: true, expiresAt: '2027-01-01T08:00:00.000Z' });
    expectProblem(await cancel(ma.membershipId, {}), 409, 'membershipId');
    const atOnce = await cancel(mb.membershipId, { atPeriodEnd: false });
    expect(atOnce.json()).toMatchObject({ status: 'cancelled', cancelAtPeriodEnd: false, entitled: false });
    expectProblem(await cancel(mb.membershipId, { atPeriodEnd: 'no' }), 400, 'atPeriodEnd');
    expectProblem(await cancel(mb.membershipId, {}, t.keys.read), 403);
    const other = await newTenant(laurel);
    expectProblem(await cancel(ma.membershipId, {}, other.keys.admin), 404, 'membershipId');
    expectProblem(await call(app, { method: 'GET', url: `/v1/memberships/${ma.membershipId}`, key: other.keys.read }), 404, 'membershipId');
    expect((await call(app, { method: 'GET', url: '/v1/memberships', key: other.keys.read })).json().data).toEqual([]);

    // the job, at 09:00 on 1 December: b's benefits ended, a's not yet
    const runAt = async (iso: string) => {
      laurel.clock.set(iso);
      return (await runJobNow(laurel, 'membership_expiry')).stats;
    };
    expect(await runAt('2026-12-01T09:00:00Z')).toEqual({ expired: 1 });
    expect(await runAt('2026-12-01T09:00:00Z')).toEqual({ expired: 0 });
    const list = async (status: string) => (await call(app, { method: 'GET', url: `/v1/memberships?programId=${t.program.programId}&status=${status}`, key: t.keys.read })).json().data.map((x: View) => x.membershipId);
    expect(await list('expired')).toEqual([mb.membershipId]);
    expect(await list('cancelled')).toEqual([ma.membershipId]);
    expect(await runAt('2027-01-01T08:00:00Z')).toEqual({ expired: 1 });
    const detail = (await call(app, { method: 'GET', url: `/v1/memberships/${ma.membershipId}`, key: t.keys.read })).json();
    expect(detail).toMatchObject({ status: 'expired', entitled: false });
    expect(detail.history.at(-1)).toMatchObject({ from: 'cancelled', to: 'expired', cause: 'expiry: benefits ended', at: '2027-01-01T08:00:00.000Z' });
    const expiredMessages = (await listOutbox(laurel.db, t.tenantId)).filter((o) => o.type === 'membership.expired');
    expect(expiredMessages.map((o) => (o.payload as { membershipId: string }).membershipId).sort()).toEqual([ma.membershipId, mb.membershipId].sort());
    // pages
    const page1 = (await call(app, { method: 'GET', url: `/v1/memberships?programId=${t.program.programId}&limit=1`, key: t.keys.read })).json();
    expect(page1).toMatchObject({ hasMore: true });
    const page2 = (await call(app, { method: 'GET', url: `/v1/memberships?programId=${t.program.programId}&limit=1&cursor=${page1.nextCursor}`, key: t.keys.read })).json();
    expect(page2).toMatchObject({ hasMore: false });
    expectProblem(await call(app, { method: 'GET', url: '/v1/memberships?status=paused', key: t.keys.read }), 400, 'status');
    laurel.clock.set('2026-12-01T09:00:00Z');
  });
});

describe('benefits through the rules and the ledger', () => {
  it('a co-op member earns double points and 10% back in store credit while the membership is in force; verify ties', async () => {
    const t = await shop();
    const rule = async (body: Record<string, unknown>) => {
      const r = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { trigger: 'purchase', ...body } });
      expect(r.statusCode, r.body).toBe(201);
    };
    await rule({ name: '1 point per euro', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule({ name: 'Members earn double', effect: { type: 'membership_multiplier' } });
    await rule({ name: 'Co-op: 10% back', effect: { type: 'membership_percent_back', wallet: 'credit' } });
    await rule({ name: 'Member prices bonus', condition: 'member.membership.active && "member_prices" in member.membership.flags && member.membership.plan == "co-op"', effect: { type: 'fixed_points', points: 5 } });
    const bad = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { trigger: 'purchase', name: 'x', condition: 'member.membership.level == 1', effect: { type: 'fixed_points', points: 1 } } });
    expectProblem(bad, 400, 'condition');
    const badWallet = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { trigger: 'purchase', name: 'x', effect: { type: 'membership_percent_back', wallet: 'nope' } } });
    expectProblem(badWallet, 400, 'effect.wallet');

    const coop = await member(t);
    const plain = await member(t);
    const joined = await pay(t, { memberId: coop, planId: t.plans['co-op']!.planId, externalId: 'till-42', eventId: 'till-42', type: 'paid', amount: 2000, currency: 'EUR', occurredAt: '2026-12-01T08:00:00Z' });
    expect(joined.json().membership).toMatchObject({ status: 'active', periodEnd: null, expiresAt: null, entitled: true });
    const buy = async (memberId: string, externalId: string, unitPrice: number) => {
      const r = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
        programId: t.program.programId, externalId, type: 'purchase', memberId, occurredAt: laurel.clock.now().toISOString(), lines: [{ sku: 'A', quantity: 1, unitPrice }],
      } });
      expect(r.statusCode, r.body).toBe(201);
      return r.json();
    };
    const balances = async (memberId: string) => Object.fromEntries((await call(app, { method: 'GET', url: `/v1/members/${memberId}/balances`, key: t.keys.read })).json().data
      .map((b: { wallet: string; available: number }) => [b.wallet, b.available]));
    expect((await buy(coop, `o-${++serial}`, 5000)).points).toBe(105);
    expect((await buy(plain, `o-${++serial}`, 5000)).points).toBe(50);
    expect(await balances(coop)).toEqual({ points: 105, credit: 500 });
    expect(await balances(plain)).toEqual({ points: 50, credit: 0 });
    await expectVerified(laurel, t.tenantId);

    // refunded: the benefits stop at once
    laurel.clock.set('2026-12-01T10:00:00Z');
    await pay(t, { memberId: coop, planId: t.plans['co-op']!.planId, externalId: 'till-42', eventId: 'till-42-refund', type: 'refunded', amount: 2000, currency: 'EUR', occurredAt: '2026-12-01T09:30:00Z' });
    expect((await buy(coop, `o-${++serial}`, 5000)).points).toBe(50);
    expect(await balances(coop)).toEqual({ points: 155, credit: 500 });
    await expectVerified(laurel, t.tenantId);
    laurel.clock.set('2026-12-01T09:00:00Z');
  });
});

describe('fees in the books', () => {
  it('a paid period of a program that keeps its books in Laurel is deferred once and recognised over the period it pays for', async () => {
    const t = await shop();
    const m = await member(t);
    const books = `/v1/programs/${t.program.programId}/accounting`;
    const report = async (period: string) => {
      const r = await call(app, { method: 'GET', url: `${books}/reports/${period}`, key: t.keys.read });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { deferredFees: { received: number; closing: number }; revenue: { fees: number } };
    };
    const base = { memberId: m, planId: t.plans.pass!.planId, externalId: `contract-${serial}`, currency: 'EUR' };
    // before the books are set up, a fee stays in the membership's history only
    expect((await pay(t, { ...base, eventId: 'before-books', type: 'paid', amount: 499, occurredAt: '2026-11-01T08:00:00Z', periodStart: '2026-11-01T08:00:00Z', periodEnd: '2026-12-01T08:00:00Z' })).statusCode).toBe(200);
    const set = await call(app, { method: 'PUT', url: books, key: t.keys.admin, body: { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9' } });
    expect(set.statusCode, set.body).toBe(200);
    expect((await report('2026-11')).deferredFees.received).toBe(0);

    const renewal = { ...base, eventId: 'renewal', type: 'paid', amount: 499, occurredAt: '2026-12-01T08:00:00Z', periodStart: '2026-12-01T08:00:00Z', periodEnd: '2027-01-01T08:00:00Z' };
    expect((await pay(t, renewal)).statusCode).toBe(200);
    expect((await pay(t, renewal)).json()).toMatchObject({ duplicate: true });
    const december = await report('2026-12');
    const january = await report('2027-01');
    expect(december.deferredFees.received).toBe(499);
    expect(december.revenue.fees).toBeGreaterThan(480);
    expect(december.revenue.fees + january.revenue.fees).toBe(499);
    expect(january.deferredFees.closing).toBe(0);
  });
});
