// Loyalty accounting over HTTP (SPEC §10): IFRS 15 Illustrative Example 52 reproduced to the
// currency unit through the API, closed periods compared byte for byte after corrections, the
// journal export, roles, tenant isolation and bad input.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { verifyLedger } from '../src/db/verify.js';
import { createUser, type Role } from '../src/services/users.js';
import { expectVerified, onPostgres } from './support/laurel.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
  if (field) expect(r.json().errors?.map((e: { field: string }) => e.field), r.body).toContain(field);
}

const ok = (r: LightMyRequestResponse, status = 200) => {
  expect(r.statusCode, r.body).toBe(status);
  return r.json();
};

let serial = 0;

/** A tenant whose program earns 1 point per 10 minor units (so 100,000 CU earn 10,000 points), with accounting at 1 CU a point. */
async function booksTenant(rate = '0.95'): Promise<TestTenant & { url: string }> {
  const t = await newTenant(laurel);
  const url = `/v1/programs/${t.program.programId}/accounting`;
  ok(await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { name: '1 point per 10', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 10 } } }), 201);
  ok(await call(app, { method: 'PUT', url, key: t.keys.admin, body: { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: rate } }));
  return { ...t, url };
}

async function member(t: TestTenant): Promise<string> {
  return ok(await call(app, { method: 'POST', url: '/v1/members', key: t.keys.admin, body: { programId: t.program.programId, externalId: `acc-${++serial}` } }), 201).memberId;
}

async function purchase(t: TestTenant, memberId: string, price: number, externalId = `order-${++serial}`) {
  return ok(await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: { programId: t.program.programId, externalId, type: 'purchase', memberId, lines: [{ sku: 'A', quantity: 1, unitPrice: price }] } }), 201);
}

const redeem = async (t: TestTenant, memberId: string, amount: number) =>
  ok(await call(app, { method: 'POST', url: `/v1/members/${memberId}/redemptions`, key: t.keys.pos, body: { amount } }), 201);

const report = async (t: TestTenant & { url: string }, period: string, key = t.keys.read) => ok(await call(app, { method: 'GET', url: `${t.url}/reports/${period}`, key }));

type Lines<K extends string> = Record<K, number>;
const ties = (r: { liability: Lines<'opening' | 'issued' | 'returned' | 'redeemed' | 'breakage' | 'expired' | 'estimateChange' | 'closing'>; points: Lines<'opening' | 'issued' | 'returned' | 'redeemed' | 'expired' | 'adjusted' | 'closing'> }) => {
  const l = r.liability;
  expect(l.opening + l.issued + l.returned + l.redeemed + l.breakage + l.expired + l.estimateChange).toBe(l.closing);
  const p = r.points;
  expect(p.opening + p.issued + p.returned + p.redeemed + p.expired + p.adjusted).toBe(p.closing);
};

describe('IFRS 15 Illustrative Example 52 (customer loyalty programme), through the API', () => {
  it('allocates 8,676 to the points, recognises 4,110 in year 1 and 3,493 in year 2 after the estimate rises to 9,700; liability 4,566 then 1,073', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant('0.95');
    const m = await member(t);
    // Year 1: sales of 100,000 CU earn 10,000 points; each point's SSP is 1 CU and 9,500 are expected to be redeemed.
    const sale = await purchase(t, m, 100_000);
    expect(sale.points).toBe(10_000);
    laurel.clock.set('2026-06-10T10:00:00Z');
    await redeem(t, m, 4_500);
    laurel.clock.set('2027-01-05T10:00:00Z');
    const y1 = await report(t, '2026');
    ties(y1);
    expect(y1.liability).toEqual({ opening: 0, issued: 8_676, returned: 0, redeemed: -3_904, breakage: -206, expired: 0, estimateChange: 0, closing: 4_566 });
    expect(y1.revenue.points).toBe(4_110);
    expect(y1.points).toMatchObject({ opening: 0, issued: 10_000, redeemed: -4_500, closing: 5_500 });
    expect(y1.rates).toMatchObject({ redemptionRate: '0.45', breakageRate: '0.05', costPerPoint: '0.8676' });
    ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026' } }), 201);

    // Year 2: the entity now expects 9,700 points to be redeemed in total; 8,500 have been by the year end.
    ok(await call(app, { method: 'PUT', url: `${t.url}/rates/2027`, key: t.keys.admin, body: { expectedRedemptionRate: '0.97' } }));
    laurel.clock.set('2027-07-01T10:00:00Z');
    await redeem(t, m, 4_000);
    laurel.clock.set('2028-01-03T10:00:00Z');
    const y2 = await report(t, '2027');
    ties(y2);
    expect(y2.liability.opening).toBe(4_566);
    expect(y2.revenue.points).toBe(3_493);
    expect(y2.toDate).toEqual({ allocated: 8_676, recognised: 7_603, liability: 1_073 });
    // 4,000 points redeemed at 0.8676 → 3,471; breakage 107 in proportion; −85 catch-up: 3,471 + 107 − 85 = 3,493
    expect(y2.liability).toEqual({ opening: 4_566, issued: 0, returned: 0, redeemed: -3_471, breakage: -107, expired: 0, estimateChange: 85, closing: 1_073 });
    // the catch-up: the opening 4,500 redeemed points are now 4,500/9,700 of the allocation, 85 less than before
    expect(y2.liability.estimateChange).toBe(85);
    expect(y2.expectedRedemptionRate).toEqual({ opening: '0.95', closing: '0.97' });

    // the journal export is balanced per period and names the default GL accounts
    const journal = await call(app, { method: 'GET', url: `${t.url}/journal/2027/csv`, key: t.keys.read });
    expect(journal.statusCode).toBe(200);
    expect(journal.headers['content-type']).toMatch(/^text\/csv/);
    const rows = journal.body.trim().split('\r\n').slice(1).map((l) => l.split(','));
    const debit = rows.reduce((s, r) => s + Number(r[4]), 0);
    const credit = rows.reduce((s, r) => s + Number(r[5]), 0);
    expect(debit).toBe(credit);
    expect(rows).toContainEqual(['2027', '2027-12-31', '2400', 'redeemed', '3471', '0', 'EUR']);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('allocation and returns', () => {
  it('writes one allocation per earning purchase in its own transaction, and a return takes back the allocation of its points', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant('0.8');
    const m = await member(t);
    // 1,000 CU earn 100 points; SSP 100 × 0.8 = 80 → 1,000 × 80 / 1,080 = 74.07 → 74
    const sale = await purchase(t, m, 1_000, 'order-ret');
    const again = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'order-ret', type: 'purchase', memberId: m, lines: [{ sku: 'A', quantity: 1, unitPrice: 1_000 }] } });
    expect(again.statusCode).toBe(201);
    const rows = await laurel.db.selectFrom('accounting_entries').selectAll().where('tenant_id', '=', t.tenantId).execute();
    expect(rows.map((r) => [r.kind, r.points, r.amount, r.ledger_entry_id])).toEqual([['allocation', 100n, 74n, sale.event.ledgerEntryId]]);
    ok(await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'return-1', type: 'return', purchaseExternalId: 'order-ret', lines: [{ sku: 'A', quantity: 1 }] } }), 201);
    const r = await report(t, '2026-01');
    ties(r);
    expect(r.liability).toMatchObject({ issued: 74, returned: -74, closing: 0 });
    expect(r.points).toMatchObject({ issued: 100, returned: -100, closing: 0 });
    await expectVerified(laurel, t.tenantId);
  });
});

describe('laurel verify', () => {
  it('reports an allocation its returns no longer match, and refuses to change the accounting journal', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant('0.8');
    const m = await member(t);
    await purchase(t, m, 1_000, 'order-verify');
    ok(await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'return-verify', type: 'return', purchaseExternalId: 'order-verify', lines: [{ sku: 'A', quantity: 1 }] } }), 201);
    await expectVerified(laurel, t.tenantId);
    await expect(sql`update accounting_entries set amount = amount + 1 where tenant_id = ${t.tenantId} and kind = 'allocation'`.execute(laurel.db))
      .rejects.toThrow(/accounting_entries is append-only/);
    await laurel.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`update accounting_entries set amount = amount + 1 where tenant_id = ${t.tenantId} and kind = 'allocation'`.execute(trx);
    });
    const report = await verifyLedger(laurel.db, laurel.clock.now(), t.tenantId);
    const failing = report.checks.filter((c) => c.failures.length > 0);
    expect(failing.map((c) => c.name)).toEqual(['allocations_follow_journal']);
    expect(failing[0]!.failures[0]).toMatchObject({ points: 100, amount: 75, points_back: 100, reversed: 74 });
  });
});

describe('closed periods', () => {
  it('a closed period answers the same bytes after later corrections, which land in the open period', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant('0.9');
    const m = await member(t);
    await purchase(t, m, 5_000, 'order-close');
    await redeem(t, m, 100);
    laurel.clock.set('2026-02-03T10:00:00Z');
    ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-01' } }), 201);
    const before = await Promise.all(['reports/2026-01', 'reports/2026-01/csv', 'journal/2026-01/csv', 'reports/2026-Q1'].map((p) => call(app, { method: 'GET', url: `${t.url}/${p}`, key: t.keys.read })));
    // corrections after the close: a return of January's purchase, a redemption, a new estimate from February
    ok(await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'return-close', type: 'return', purchaseExternalId: 'order-close', lines: [{ sku: 'A', quantity: 1 }] } }), 201);
    ok(await call(app, { method: 'PUT', url: `${t.url}/rates/2026-02`, key: t.keys.admin, body: { expectedRedemptionRate: '0.7' } }));
    expectProblem(await call(app, { method: 'PUT', url: `${t.url}/rates/2026-01`, key: t.keys.admin, body: { expectedRedemptionRate: '0.5' } }), 409, 'period');
    expectProblem(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-01' } }), 409, 'period');
    const jan = ['reports/2026-01', 'reports/2026-01/csv', 'journal/2026-01/csv'];
    for (const [i, p] of jan.entries()) {
      const after = await call(app, { method: 'GET', url: `${t.url}/${p}`, key: t.keys.read });
      expect(after.body, p).toBe(before[i]!.body);
    }
    expect(JSON.parse(before[0]!.body).status).toBe('closed');
    const feb = await report(t, '2026-02');
    ties(feb);
    expect(feb.liability.opening).toBe(JSON.parse(before[0]!.body).liability.closing);
    expect(feb.liability.returned).toBeLessThan(0);
    expect(feb.points.returned).toBe(-500);
    // the open quarter moved; February can close now (January is), March cannot (not over)
    expect((await call(app, { method: 'GET', url: `${t.url}/reports/2026-Q1`, key: t.keys.read })).body).not.toBe(before[3]!.body);
    laurel.clock.set('2026-03-10T10:00:00Z');
    expectProblem(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-03' } }), 409, 'period');
    expectProblem(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-Q1' } }), 409, 'period');
    ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-02' } }), 201);
  });

  it('months close in order from the program\'s first', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant();
    laurel.clock.set('2026-04-15T10:00:00Z');
    expectProblem(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-02' } }), 409, 'period');
    const closed = ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-Q1' } }), 201);
    expect(closed.closed).toEqual(['2026-01', '2026-02', '2026-03']);
    expect(ok(await call(app, { method: 'GET', url: t.url, key: t.keys.read })).closedThrough).toBe('2026-03');
  });
});

describe('membership fees', () => {
  it('a fee is deferred once and recognised straight-line over its service period', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant();
    const body = { feeRef: 'pay-1', amount: 36_500, serviceStart: '2026-01-01T00:00:00+01:00', serviceEnd: '2027-01-01T00:00:00+01:00' };
    expect(ok(await call(app, { method: 'POST', url: `${t.url}/membership-fees`, key: t.keys.admin, body }), 201).deferred).toBe(true);
    expect(ok(await call(app, { method: 'POST', url: `${t.url}/membership-fees`, key: t.keys.admin, body }), 201).deferred).toBe(false);
    const jan = await report(t, '2026-01');
    expect(jan.deferredFees).toEqual({ opening: 0, received: 36_500, refunded: 0, recognised: -3_100, closing: 33_400 });
    expect(jan.revenue.fees).toBe(3_100);
    const year = await report(t, '2026');
    expect(year.deferredFees.closing).toBe(0);
    const lifetime = ok(await call(app, { method: 'POST', url: `${t.url}/membership-fees`, key: t.keys.admin, body: { feeRef: 'pay-2', amount: 2_000, serviceStart: '2026-01-15T10:00:00Z', serviceEnd: null } }), 201);
    expect(lifetime.serviceEnd).toBe('2029-01-15T10:00:00.000Z');
  });

  it('a refunded fee is reversed: its deferred part released, the revenue comes to what was kept, posted in the open period', async () => {
    laurel.clock.set('2026-01-01T10:00:00Z');
    const t = await booksTenant();
    const m = await member(t);
    const plan = ok(await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, code: 'club', name: 'Club', fee: 36_500, currency: 'EUR', period: 'annual', benefits: {} } }), 201);
    const pay = (body: Record<string, unknown>) => call(app, { method: 'POST', url: '/v1/membership-payments', key: t.keys.admin, body: {
      programId: t.program.programId, provider: 'till', memberId: m, planId: plan.planId, externalId: 'club-1', currency: 'EUR', ...body,
    } });
    // a year of the club paid on 1 January (Paris): 365 days, 100 a day
    ok(await pay({ eventId: 'paid-1', type: 'paid', amount: 36_500, occurredAt: '2025-12-31T23:00:00Z', periodStart: '2025-12-31T23:00:00Z', periodEnd: '2026-12-31T23:00:00Z' }));
    laurel.clock.set('2026-02-15T10:00:00Z');
    ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-01' } }), 201);
    const january = (await call(app, { method: 'GET', url: `${t.url}/reports/2026-01`, key: t.keys.read })).body;
    expect(JSON.parse(january).deferredFees).toEqual({ opening: 0, received: 36_500, refunded: 0, recognised: -3_100, closing: 33_400 });

    // refunded 300.00 at midnight on 12 March, after 70 days (7000 earned, 29 500 still deferred): the
    // 29 500 is released and 500 of the revenue reversed, so the fee earns 36 500 − 30 000 = 6 500
    laurel.clock.set('2026-03-12T10:00:00Z');
    const refund = { eventId: 'refund-1', type: 'refunded', amount: 30_000, occurredAt: '2026-03-11T23:00:00Z' };
    ok(await pay(refund));
    expect(ok(await pay(refund)).duplicate).toBe(true);
    const march = await report(t, '2026-03');
    // opening: 36 500 − 59 days; March recognises 11 days (1100), −500 reversed, and nothing after the refund
    expect(march.deferredFees).toEqual({ opening: 30_600, received: 0, refunded: -30_000, recognised: -600, closing: 0 });
    expect(march.revenue.fees).toBe(600);
    const year = await report(t, '2026');
    expect(year.deferredFees).toEqual({ opening: 0, received: 36_500, refunded: -30_000, recognised: -6_500, closing: 0 });
    expect(year.revenue.fees).toBe(6_500);
    // and it stays so to the end of the service period the refund cut short
    laurel.clock.set('2027-02-01T10:00:00Z');
    expect((await report(t, '2026-12')).deferredFees).toEqual({ opening: 0, received: 0, refunded: 0, recognised: 0, closing: 0 });
    // the closed month answers byte for byte what it answered before the refund
    expect((await call(app, { method: 'GET', url: `${t.url}/reports/2026-01`, key: t.keys.read })).body).toBe(january);
    // the journal of March: the refund gives the cash back from the deferred fees, and balances
    const journal = await call(app, { method: 'GET', url: `${t.url}/journal/2026-03/csv`, key: t.keys.read });
    const rows = journal.body.trim().split('\r\n').slice(1).map((l) => l.split(','));
    expect(rows).toContainEqual(['2026-03', '2026-03-31', '2410', 'fees_refunded', '30000', '0', 'EUR']);
    expect(rows).toContainEqual(['2026-03', '2026-03-31', '4100', 'fees_refunded', '0', '30000', 'EUR']);
    expect(rows.reduce((s, r) => s + Number(r[4]), 0)).toBe(rows.reduce((s, r) => s + Number(r[5]), 0));
  });

  it('a refund recorded in an open period for service in a closed one corrects the open period; a second refund of the same fee releases nothing more', async () => {
    laurel.clock.set('2026-01-01T10:00:00Z');
    const t = await booksTenant();
    const m = await member(t);
    const plan = ok(await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: { programId: t.program.programId, code: 'club', name: 'Club', fee: 3_100, currency: 'EUR', period: 'monthly', benefits: {} } }), 201);
    const pay = (body: Record<string, unknown>) => call(app, { method: 'POST', url: '/v1/membership-payments', key: t.keys.admin, body: {
      programId: t.program.programId, provider: 'till', memberId: m, planId: plan.planId, externalId: 'club-2', currency: 'EUR', ...body,
    } });
    // January (31 days, 100 a day), paid on the 1st
    ok(await pay({ eventId: 'paid', type: 'paid', amount: 3_100, occurredAt: '2025-12-31T23:00:00Z', periodStart: '2025-12-31T23:00:00Z', periodEnd: '2026-01-31T23:00:00Z' }));
    laurel.clock.set('2026-02-10T10:00:00Z');
    ok(await call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-01' } }), 201);
    const january = (await call(app, { method: 'GET', url: `${t.url}/reports/2026-01`, key: t.keys.read })).body;
    // refunded in part on 11 January, recorded in February: 1000 back, the 2100 deferred then is
    // released; the 1000 of revenue January recognised after the 11th is reversed in February
    ok(await pay({ eventId: 'refund-a', type: 'refunded', amount: 1_000, occurredAt: '2026-01-10T23:00:00Z' }));
    // a second refund of the same fee: its service already ended, so it reverses revenue only
    ok(await pay({ eventId: 'refund-b', type: 'refunded', amount: 500, occurredAt: '2026-01-10T23:00:00Z' }));
    expect((await call(app, { method: 'GET', url: `${t.url}/reports/2026-01`, key: t.keys.read })).body).toBe(january);
    const february = await report(t, '2026-02');
    // kept: 3100 − 1500 = 1600; January recognised 3100, so February reverses 1500
    expect(february.deferredFees).toEqual({ opening: 0, received: 0, refunded: -1_500, recognised: 1_500, closing: 0 });
    expect(february.revenue.fees).toBe(-1_500);
  });
});

describe('rates', () => {
  it('estimates the rate from closed cohorts, shows its inputs, and applies it only with enough history', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant();
    ok(await call(app, { method: 'PUT', url: t.url, key: t.keys.admin, body: { minHistoryMonths: 1 } }));
    const m = await member(t);
    await purchase(t, m, 1_000);
    await redeem(t, m, 100);
    laurel.clock.set('2026-02-15T10:00:00Z');
    await purchase(t, m, 1_000);
    await redeem(t, m, 50);
    laurel.clock.set('2026-03-15T10:00:00Z');
    const estimate = ok(await call(app, { method: 'GET', url: `${t.url}/rate-estimate`, key: t.keys.read }));
    // January's 100 points are all redeemed (closed); February's 100 still have 50 left (open)
    expect(estimate).toMatchObject({ expectedRedemptionRate: '1', sufficient: true, closedCohorts: 1, issued: 100, redeemed: 100 });
    expect(estimate.cohorts).toEqual([
      { month: '2026-01', issued: 100, redeemed: 100, expired: 0, returned: 0, closed: true },
      { month: '2026-02', issued: 100, redeemed: null, expired: 0, returned: 0, closed: false },
    ]);
    const applied = ok(await call(app, { method: 'PUT', url: `${t.url}/rates/2026-03`, key: t.keys.admin, body: { method: 'estimated' } }));
    expect(applied).toMatchObject({ expectedRedemptionRate: '1', method: 'estimated', period: '2026-03' });
    expect(applied.inputs.closedCohorts).toBe(1);
    ok(await call(app, { method: 'PUT', url: t.url, key: t.keys.admin, body: { minHistoryMonths: 6 } }));
    expectProblem(await call(app, { method: 'PUT', url: `${t.url}/rates/2026-04`, key: t.keys.admin, body: { method: 'estimated' } }), 409, 'method');
  });
});

describe('access', () => {
  async function session(t: TestTenant, role: Role) {
    const email = `${role}-${++serial}@example.com`;
    await createUser(laurel, t.tenantId, { email, name: role, role, password: 'correct horse battery' });
    const r = await app.inject({ method: 'POST', url: '/v1/session', payload: { email, password: 'correct horse battery' } });
    return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: r.json().csrfToken as string };
  }

  it('finance reads reports and exports and closes periods; marketers and support do not see the books; a POS key neither', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant();
    laurel.clock.set('2026-02-15T10:00:00Z');
    const finance = await session(t, 'finance');
    const as = (s: { cookie: string; csrf: string }, method: 'GET' | 'POST' | 'PUT', url: string, body?: object) =>
      app.inject({ method, url, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'idempotency-key': idemKey() }, ...(body ? { payload: body } : {}) });
    for (const p of ['', '/reports/2026-01', '/reports/2026-01/csv', '/journal/2026-01/csv', '/rate-estimate']) {
      expect((await as(finance, 'GET', `${t.url}${p}`)).statusCode, p).toBe(200);
    }
    expect((await as(finance, 'POST', `${t.url}/closes`, { period: '2026-01' })).statusCode).toBe(201);
    expect((await as(finance, 'PUT', `${t.url}/rates/2026-03`, { expectedRedemptionRate: '0.9' })).statusCode).toBe(200);
    for (const role of ['marketer', 'support'] as const) {
      const s = await session(t, role);
      expectProblem(await as(s, 'GET', `${t.url}/reports/2026-01`), 403);
      expectProblem(await as(s, 'PUT', `${t.url}/rates/2026-03`, { expectedRedemptionRate: '0.9' }), 403);
    }
    const viewer = await session(t, 'viewer');
    expect((await as(viewer, 'GET', `${t.url}/reports/2026-01`)).statusCode).toBe(200);
    expectProblem(await as(viewer, 'POST', `${t.url}/closes`, { period: '2026-02' }), 403);
    expectProblem(await call(app, { method: 'GET', url: `${t.url}/reports/2026-01`, key: t.keys.pos }), 403);
    expectProblem(await call(app, { method: 'PUT', url: `${t.url}/rates/2026-03`, key: t.keys.read, body: { expectedRedemptionRate: '0.9' } }), 403);
    expectProblem(await call(app, { method: 'GET', url: `${t.url}/reports/2026-01` }), 401);
    // the change is in the audit log
    const audit = await laurel.db.selectFrom('audit_log').select(['route', 'actor_name']).where('tenant_id', '=', t.tenantId).where('route', 'like', '%accounting%').execute();
    expect(audit.map((a) => a.route)).toEqual(expect.arrayContaining(['/v1/programs/:programId/accounting/closes', '/v1/programs/:programId/accounting/rates/:period']));
  });

  it('tenants never see each other\'s books', async () => {
    const a = await booksTenant();
    const b = await booksTenant();
    for (const p of ['', '/reports/2026-01', '/reports/2026-01/csv', '/journal/2026-01/csv', '/rate-estimate']) {
      expectProblem(await call(app, { method: 'GET', url: `${a.url}${p}`, key: b.keys.admin }), 404, 'programId');
    }
    expectProblem(await call(app, { method: 'PUT', url: `${a.url}/rates/2026-03`, key: b.keys.admin, body: { expectedRedemptionRate: '0.9' } }), 404, 'programId');
    expectProblem(await call(app, { method: 'POST', url: `${a.url}/closes`, key: b.keys.admin, body: { period: '2025-12' } }), 404, 'programId');
    expectProblem(await call(app, { method: 'POST', url: `${a.url}/membership-fees`, key: b.keys.admin, body: { feeRef: 'x', amount: 1, serviceStart: '2026-01-01T00:00:00Z' } }), 404, 'programId');
    const theirs = await member(b);
    expectProblem(await call(app, { method: 'POST', url: `${a.url}/membership-fees`, key: a.keys.admin, body: { feeRef: 'x', memberId: theirs, amount: 1, serviceStart: '2026-01-01T00:00:00Z' } }), 404, 'memberId');
  });
});

describe('bad input is answered, never obeyed', () => {
  it('names the field of every bad request and writes nothing', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await newTenant(laurel);
    const url = `/v1/programs/${t.program.programId}/accounting`;
    expectProblem(await call(app, { method: 'GET', url, key: t.keys.admin }), 409, 'programId');
    expectProblem(await call(app, { method: 'GET', url: `${url}/reports/2026-01`, key: t.keys.admin }), 409, 'programId');
    const bad: [object, string][] = [
      [{ pointValue: { points: 1, minor: 1 } }, 'expectedRedemptionRate'],
      [{ expectedRedemptionRate: '0.9' }, 'pointValue'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '1.5' }, 'expectedRedemptionRate'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0' }, 'expectedRedemptionRate'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: 0.9 }, 'expectedRedemptionRate'],
      [{ pointValue: { points: 0, minor: 1 }, expectedRedemptionRate: '0.9' }, 'pointValue.points'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9', currency: 'USD' }, 'currency'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9', glAccounts: { cash: '1000' } }, 'glAccounts.cash'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9', glAccounts: { contractLiability: '' } }, 'glAccounts.contractLiability'],
      [{ pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9', colour: 'blue' }, 'colour'],
    ];
    for (const [body, field] of bad) expectProblem(await call(app, { method: 'PUT', url, key: t.keys.admin, body }), 400, field);
    expect(await laurel.db.selectFrom('accounting_settings').select('program_id').where('tenant_id', '=', t.tenantId).execute()).toEqual([]);
    ok(await call(app, { method: 'PUT', url, key: t.keys.admin, body: { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9' } }));
    expectProblem(await call(app, { method: 'PUT', url, key: t.keys.admin, body: { expectedRedemptionRate: '0.8' } }), 400, 'expectedRedemptionRate');
    for (const period of ['2026-13', '2026-Q5', '26', '2026-1', '1969']) {
      expectProblem(await call(app, { method: 'GET', url: `${url}/reports/${period}`, key: t.keys.admin }), 400, 'period');
    }
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/not-a-uuid/accounting`, key: t.keys.admin }), 400, 'programId');
    expectProblem(await call(app, { method: 'PUT', url: `${url}/rates/2026-03`, key: t.keys.admin, body: {} }), 400, 'expectedRedemptionRate');
    expectProblem(await call(app, { method: 'PUT', url: `${url}/rates/2026-03`, key: t.keys.admin, body: { expectedRedemptionRate: '0.5', method: 'estimated' } }), 400, 'expectedRedemptionRate');
    expectProblem(await call(app, { method: 'POST', url: `${url}/closes`, key: t.keys.admin, body: { period: 'last month' } }), 400, 'period');
    expectProblem(await call(app, { method: 'POST', url: `${url}/closes`, key: t.keys.admin, body: { period: '2026-01' } }), 409, 'period');
    expectProblem(await call(app, { method: 'POST', url: `${url}/membership-fees`, key: t.keys.admin, body: { feeRef: 'x', amount: 0, serviceStart: '2026-01-01T00:00:00Z' } }), 400, 'amount');
    expectProblem(await call(app, { method: 'POST', url: `${url}/membership-fees`, key: t.keys.admin, body: { feeRef: 'x', amount: 10, serviceStart: '2026-02-01T00:00:00Z', serviceEnd: '2026-01-01T00:00:00Z' } }), 400, 'serviceEnd');
    expectProblem(await call(app, { method: 'POST', url: `${url}/membership-fees`, key: t.keys.admin, body: { feeRef: 'x', amount: 10, serviceStart: 'soon' } }), 400, 'serviceStart');
    expectProblem(await call(app, { method: 'POST', url: `${url}/membership-fees`, key: t.keys.admin, body: { feeRef: 'x', amount: 10, serviceStart: '9999-12-31T23:59:59.999Z', serviceEnd: null } }), 400, 'serviceStart');
    expect(await laurel.db.selectFrom('accounting_entries').select('entry_id').where('tenant_id', '=', t.tenantId).execute()).toEqual([]);
  });
});

describe.skipIf(!onPostgres)('concurrency (PostgreSQL)', () => {
  it('concurrent purchases of the same members carry their rounding in order, and concurrent closes close once', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const t = await booksTenant('0.7');
    const members = [await member(t), await member(t), await member(t)];
    // 7 points of SSP 4.9 on 73: 73 × 4.9 / 77.9 = 4.5918…; the carry decides whether each is 4 or 5
    await Promise.all(Array.from({ length: 30 }, (_, i) => purchase(t, members[i % 3]!, 73, `conc-${i}`)));
    const rows = await laurel.db.selectFrom('accounting_entries').select(['member_id', 'amount', 'carry_micro', 'ssp_micro', 'price'])
      .where('tenant_id', '=', t.tenantId).where('kind', '=', 'allocation').orderBy('entry_id').execute();
    expect(rows).toHaveLength(30);
    for (const m of members) {
      const mine = rows.filter((r) => r.member_id === m);
      const total = mine.reduce((s, r) => s + r.amount, 0n);
      // 10 purchases × 4.591784… = 45.918 → 46 allocated, the last carry −0.082 (in millionths)
      expect(total * 1_000_000n + mine.at(-1)!.carry_micro!).toBe(10n * 4_591_784n);
    }
    laurel.clock.set('2026-02-02T10:00:00Z');
    const closes = await Promise.all(Array.from({ length: 4 }, () => call(app, { method: 'POST', url: `${t.url}/closes`, key: t.keys.admin, body: { period: '2026-01' } })));
    expect(closes.map((c) => c.statusCode).sort()).toEqual([201, 409, 409, 409]);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('a program without a points wallet', () => {
  it('has no points liability to account for: its settings are refused with 409 naming programId, and nothing is written', async () => {
    const t = await newTenant(laurel);
    const stamps = ok(await call(app, { method: 'POST', url: '/v1/programs', key: t.keys.admin, body: {
      name: 'Stamps only', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt', wallets: [{ code: 'stamps', kind: 'redeemable' }],
    } }), 201);
    const url = `/v1/programs/${stamps.programId}/accounting`;
    expectProblem(await call(app, { method: 'PUT', url, key: t.keys.admin, body: { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9' } }), 409, 'programId');
    expectProblem(await call(app, { method: 'GET', url, key: t.keys.read }), 409, 'programId');
    expect(await laurel.db.selectFrom('accounting_settings').selectAll().where('tenant_id', '=', t.tenantId).execute()).toEqual([]);
  });
});
