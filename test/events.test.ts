// Events end to end, as a shop or a POS sends them: a purchase earns by the program's rules (here
// mostly one, "1 point per euro") on what was paid in money, a return takes back exactly what the
// refund no longer earns, a custom action earns what its rules give, the external id makes every
// event idempotent — through crashes too, since an event is one transaction — and no tenant
// reaches another's. Every scenario ends with `verify` on its tenant.
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { orderTotal } from '../src/core/events/purchase.js';
import type { Laurel } from '../src/services/context.js';
import { ingestEvent, type IngestInput } from '../src/services/events.js';
import { getBalance, redeem } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { createRule, getRule } from '../src/services/rules.js';
import { createProgram, createTenant, type Program } from '../src/services/tenants.js';
import { basketArbitrary, CREDIT_WALLET, returnPlan, ruleSetArbitrary, TIERS } from './support/event-arbitraries.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { basicProgram, expectVerified, key } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;

beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

// 2 × €12.50 and 1 × €9.99 with €1.00 off: 3399 minor units, 33 points at 1 point per euro.
const PER_EURO = { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } };

/** A tenant whose program earns 1 point per euro paid: its one rule. */
async function tenant(overrides: Parameters<typeof newTenant>[1] = {}): Promise<TestTenant & { ruleId: string }> {
  const t = await newTenant(laurel, overrides);
  const rule = await createRule(laurel, t.tenantId, t.program.programId, PER_EURO, { actor: 'test' });
  return { ...t, ruleId: rule.ruleId };
}

const LINES = [
  { sku: 'LATTE-L', category: 'coffee', quantity: 2, unitPrice: 1250 },
  { sku: 'BEANS-1KG', category: 'beans', quantity: 1, unitPrice: 999, discount: 100 },
];

let serial = 0;
const ext = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors.map((e: { field: string }) => e.field), r.body).toContain(field);
}

const send = (t: TestTenant, body: Record<string, unknown>, key = t.keys.pos) =>
  call(app, { method: 'POST', url: '/v1/events', key, body: { programId: t.program.programId, ...body }, idempotencyKey: false });

async function sent(t: TestTenant, body: Record<string, unknown>) {
  const r = await send(t, body);
  expect(r.statusCode, r.body).toBe(201);
  return r.json();
}

async function member(t: TestTenant, externalId = ext('cust')): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId } });
  return r.json().memberId;
}

async function points(t: TestTenant, memberId: string) {
  const b = (await call(app, { method: 'GET', url: `/v1/members/${memberId}/balances?wallet=points`, key: t.keys.read })).json().data[0];
  return { available: b.available, pending: b.pending, lifetimeEarned: b.lifetimeEarned };
}

async function journal(t: TestTenant, memberId: string) {
  const r = (await call(app, { method: 'GET', url: `/v1/members/${memberId}/journal?limit=100`, key: t.keys.read })).json();
  return r.data.map((e: { kind: string; amount: number }) => `${e.kind} ${e.amount}`).reverse();
}

describe('a purchase', () => {
  it('earns by its rule, floor(total × rate): 2 × 1250 + 999 − 100 = 3399 minor units at 1 point per 100 → 33 points', async () => {
    const t = await tenant();
    const m = await member(t);
    const externalId = ext('order');
    const r = await sent(t, { externalId, type: 'purchase', memberId: m, lines: LINES, channel: 'store', location: 'paris-01', orderId: '1001' });
    expect(r).toMatchObject({
      object: 'event_result', points: 33,
      event: { object: 'event', type: 'purchase', externalId, memberId: m, total: 3399, paidWithPoints: 0, currency: 'EUR', points: 33, channel: 'store', orderId: '1001' },
      ledger: { entries: [{ kind: 'earn', amount: 33, ref: externalId }], balances: [{ available: 33 }] },
    });
    expect(r.event).not.toHaveProperty('rate');
    expect(r.event.ledgerEntryId).toBe(r.ledger.entries[0].entryId);
    expect(r.event.entries).toEqual([{ wallet: 'points', entryId: r.ledger.entries[0].entryId, amount: 33 }]);
    expect(r.event.explanation).toEqual([{
      ruleId: t.ruleId, version: 1, name: '1 point per euro', campaignId: null, effect: 'points_per_amount', wallet: 'points',
      points: 33, uncapped: 33, limitedBy: [], detail: { amount: 3399, rate: '1 per 100', rounding: 'order, down' },
    }]);
    expect(r.event.lines).toEqual([
      { sku: 'LATTE-L', category: 'coffee', quantity: 2, unitPrice: 1250, discount: 0 },
      { sku: 'BEANS-1KG', category: 'beans', quantity: 1, unitPrice: 999, discount: 100 },
    ]);
    const got = await call(app, { method: 'GET', url: `/v1/events/${r.event.eventId}`, key: t.keys.read });
    expect(got.json()).toEqual(r.event);
    expect(await points(t, m)).toEqual({ available: 33, pending: 0, lifetimeEarned: 33 });
    await expectVerified(laurel, t.tenantId);
  });

  it('earns nothing on the part paid with points: €10 of €33.99 leaves 2399 → 23 points', async () => {
    const t = await tenant();
    const m = await member(t);
    const r = await sent(t, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES, paidWithPoints: 1000 });
    expect(r).toMatchObject({ points: 23, event: { total: 2399, paidWithPoints: 1000 } });
    expect(await points(t, m)).toMatchObject({ available: 23 });
    await expectVerified(laurel, t.tenantId);
  });

  it('earns at the rate its rule sets, and stays pending through the return window', async () => {
    const t = await tenant({ returnWindowDays: 14 });
    const programBody = { name: 'Triple', enrollmentMode: 'opt_in', returnWindowDays: 14, expiry: { kind: 'none' }, negativeBalance: 'debt' };
    // the program no longer carries a rate: its rules do
    expectProblem(await call(app, { method: 'POST', url: '/v1/programs', key: t.keys.admin, body: { ...programBody, basePoints: 3, basePerMinor: 250 } }), 400, 'basePoints');
    const p = (await call(app, { method: 'POST', url: '/v1/programs', key: t.keys.admin, body: programBody })).json();
    expect(p).not.toHaveProperty('basePoints');
    const rule = await call(app, { method: 'POST', url: `/v1/programs/${p.programId}/rules`, key: t.keys.admin, body: {
      name: 'Triple', trigger: 'purchase', effect: { type: 'points_per_amount', points: 3, per: 250 },
    } });
    expect(rule.statusCode, rule.body).toBe(201);
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: p.programId, email: 'rate@example.com' } })).json().memberId;
    // 3 points per 2.50: floor(3399 × 3 / 250) = floor(40.788) = 40
    const r = await sent(t, { programId: p.programId, externalId: ext('order'), type: 'purchase', member: { email: 'RATE@example.com' }, lines: LINES });
    expect(r).toMatchObject({ points: 40, event: { memberId: m, explanation: [{ ruleId: rule.json().ruleId, points: 40, detail: { rate: '3 per 250' } }] } });
    expect(await points(t, m)).toMatchObject({ available: 0, pending: 40 });
    await expectVerified(laurel, t.tenantId);
  });

  it('in a program without rules earns nothing: recorded, no journal entry, no explanation', async () => {
    const t = await newTenant(laurel);
    const m = await member(t);
    const r = await sent(t, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES });
    expect(r).toMatchObject({ points: 0, ledger: null, event: { total: 3399, points: 0, ledgerEntryId: null, entries: [], explanation: [] } });
    expect(await journal(t, m)).toEqual([]);
    await expectVerified(laurel, t.tenantId);
  });

  it('of a small amount earns 0 points: recorded, no journal entry', async () => {
    const t = await tenant();
    const m = await member(t);
    const r = await sent(t, { externalId: ext('order'), type: 'purchase', memberId: m, lines: [{ sku: 'CANDY', quantity: 1, unitPrice: 99 }] });
    expect(r).toMatchObject({ points: 0, ledger: null, event: { total: 99, points: 0, ledgerEntryId: null } });
    expect(await journal(t, m)).toEqual([]);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('the external id', () => {
  it('makes a resent event change nothing and answer the first response', async () => {
    const t = await tenant();
    const m = await member(t);
    const body = { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES };
    const first = await send(t, body);
    laurel.clock.advance(60_000);
    const again = await send(t, body);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await journal(t, m)).toEqual(['earn 33']);
    expect(await points(t, m)).toMatchObject({ available: 33 });
    await expectVerified(laurel, t.tenantId);
  });

  it('refuses the same id with another body (409 idempotency_conflict), changing nothing', async () => {
    const t = await tenant();
    const m = await member(t);
    const externalId = ext('order');
    await sent(t, { externalId, type: 'purchase', memberId: m, lines: LINES });
    const r = await send(t, { externalId, type: 'purchase', memberId: m, lines: [{ ...LINES[0], quantity: 3 }] });
    expectProblem(r, 409, 'externalId');
    expect(r.json().type).toBe('/problems/idempotency-conflict');
    expectProblem(await send(t, { externalId, type: 'review', memberId: m }), 409, 'externalId');
    expect(await journal(t, m)).toEqual(['earn 33']);
    await expectVerified(laurel, t.tenantId);
  });

  it("cannot be chosen to block another event's points: order-1:earn is just another id", async () => {
    const t = await tenant();
    const m = await member(t);
    const order = ext('order');
    await sent(t, { externalId: `${order}:earn`, type: 'review', memberId: m });
    await sent(t, { externalId: `event-earn:${t.program.programId}:${order}`, type: 'review', memberId: m });
    expect((await sent(t, { externalId: order, type: 'purchase', memberId: m, lines: LINES })).points).toBe(33);
    expect(await journal(t, m)).toEqual(['earn 33']);
    await expectVerified(laurel, t.tenantId);
  });

  it('is per program: two programs may each have an order-1', async () => {
    const t = await tenant();
    const other = await createProgram(laurel, t.tenantId, basicProgram);
    const m1 = await member(t);
    const m2 = (await createMember(laurel, t.tenantId, { programId: other.programId, externalId: 'x' })).memberId;
    const a = await sent(t, { externalId: 'order-1', type: 'purchase', memberId: m1, lines: LINES });
    const b = await sent(t, { programId: other.programId, externalId: 'order-1', type: 'purchase', memberId: m2, lines: LINES });
    expect(a.event.eventId).not.toBe(b.event.eventId);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('a return', () => {
  async function bought(t: TestTenant, extra: Record<string, unknown> = {}) {
    const m = await member(t);
    const order = ext('order');
    const r = await sent(t, { externalId: order, type: 'purchase', memberId: m, lines: LINES, ...extra });
    return { m, order, earnEntryId: r.ledger?.entries[0].entryId as string };
  }
  const giveBack = (t: TestTenant, order: string, lines: { sku: string; quantity: number }[], externalId = ext('return')) =>
    send(t, { externalId, type: 'return', purchaseExternalId: order, lines });

  it('of one line takes back exactly 33 − floor(2500/100) = 8; the rest then nets the member to exactly zero', async () => {
    const t = await tenant();
    const { m, order, earnEntryId } = await bought(t);
    const partial = (await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }])).json();
    expect(partial).toMatchObject({
      points: -8, event: { type: 'return', memberId: m, purchaseExternalId: order, refundAmount: 899, points: -8, lines: [{ sku: 'BEANS-1KG', quantity: 1 }] },
      ledger: { entries: [{ kind: 'reverse', amount: 8, reversesEntryId: earnEntryId }], balances: [{ available: 25 }] },
    });
    const rest = (await giveBack(t, order, [{ sku: 'LATTE-L', quantity: 2 }])).json();
    expect(rest).toMatchObject({ points: -25, event: { refundAmount: 2500 } });
    const purchase = (await call(app, { method: 'GET', url: `/v1/events/${rest.event.purchaseEventId}`, key: t.keys.read })).json();
    expect(purchase).toMatchObject({ externalId: order, type: 'purchase', points: 33, ledgerEntryId: earnEntryId });
    expect(await points(t, m)).toEqual({ available: 0, pending: 0, lifetimeEarned: 0 });
    expect(await journal(t, m)).toEqual(['earn 33', 'reverse 8', 'reverse 25']);
    await expectVerified(laurel, t.tenantId);
  });

  it('nets to zero when part was paid with points: 23 earned, beans back → refund 634, −6; the rest → −17', async () => {
    const t = await tenant();
    const { m, order } = await bought(t, { paidWithPoints: 1000 });
    expect((await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }])).json()).toMatchObject({ points: -6, event: { refundAmount: 634 } });
    expect((await giveBack(t, order, [{ sku: 'LATTE-L', quantity: 2 }])).json()).toMatchObject({ points: -17, event: { refundAmount: 1765 } });
    expect(await points(t, m)).toMatchObject({ available: 0, lifetimeEarned: 0 });
    await expectVerified(laurel, t.tenantId);
  });

  it('by amount refunds that much: €10 back → keeps floor(2399/100) = 23, takes back 10', async () => {
    const t = await tenant();
    const { m, order } = await bought(t);
    const r = (await send(t, { externalId: ext('refund'), type: 'return', purchaseExternalId: order, refundAmount: 1000 })).json();
    expect(r).toMatchObject({ points: -10, event: { refundAmount: 1000, lines: null } });
    expectProblem(await send(t, { externalId: ext('refund'), type: 'return', purchaseExternalId: order, refundAmount: 2400 }), 409, 'refundAmount');
    expect(await points(t, m)).toMatchObject({ available: 23 });
    await expectVerified(laurel, t.tenantId);
  });

  it('cannot bring back more than was bought, naming the line; a second full return takes back nothing more', async () => {
    const t = await tenant();
    const { m, order } = await bought(t);
    await giveBack(t, order, [{ sku: 'LATTE-L', quantity: 1 }]);
    expectProblem(await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }, { sku: 'LATTE-L', quantity: 2 }]), 409, 'lines[1].quantity');
    expectProblem(await giveBack(t, order, [{ sku: 'TEA', quantity: 1 }]), 400, 'lines[0].sku');
    expect((await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }, { sku: 'LATTE-L', quantity: 1 }])).statusCode).toBe(201);
    expectProblem(await giveBack(t, order, [{ sku: 'LATTE-L', quantity: 1 }]), 409, 'lines[0].quantity');
    expectProblem(await send(t, { externalId: ext('refund'), type: 'return', purchaseExternalId: order, refundAmount: 1 }), 409, 'refundAmount');
    expect(await points(t, m)).toMatchObject({ available: 0, lifetimeEarned: 0 });
    await expectVerified(laurel, t.tenantId);
  });

  it('names a purchase of the program and of the member', async () => {
    const t = await tenant();
    const { order } = await bought(t);
    const review = ext('review');
    const someoneElse = await member(t);
    await sent(t, { externalId: review, type: 'review', memberId: someoneElse });
    expectProblem(await giveBack(t, 'no-such-order', [{ sku: 'LATTE-L', quantity: 1 }]), 404, 'purchaseExternalId');
    expectProblem(await giveBack(t, review, [{ sku: 'LATTE-L', quantity: 1 }]), 409, 'purchaseExternalId');
    expectProblem(await send(t, { externalId: ext('return'), type: 'return', memberId: someoneElse, purchaseExternalId: order, refundAmount: 5 }), 409, 'memberId');
    await expectVerified(laurel, t.tenantId);
  });

  it('of points already spent leaves a debt the next points repay (program policy)', async () => {
    const t = await tenant();
    const { m, order } = await bought(t);
    await redeem(laurel, { tenantId: t.tenantId, memberId: m, amount: 30, idempotencyKey: key() });
    await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }, { sku: 'LATTE-L', quantity: 2 }]);
    expect(await points(t, m)).toMatchObject({ available: -30 });
    await sent(t, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES });
    expect(await points(t, m)).toMatchObject({ available: 3 });
    await expectVerified(laurel, t.tenantId);
  });

  it('goes through for a suspended member, whose new purchases are refused', async () => {
    const t = await tenant();
    const { m, order } = await bought(t);
    await call(app, { method: 'POST', url: `/v1/members/${m}/suspend`, key: t.keys.admin });
    expectProblem(await send(t, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES }), 409, 'memberId');
    expect((await giveBack(t, order, [{ sku: 'BEANS-1KG', quantity: 1 }])).json()).toMatchObject({ points: -8 });
    await expectVerified(laurel, t.tenantId);
  });
});

describe('members', () => {
  it('a universal program enrols an unknown member on their first event, and finds them on the next', async () => {
    const t = await tenant({ enrollmentMode: 'universal' });
    const first = await sent(t, { externalId: ext('order'), type: 'purchase', member: { email: 'New.Customer@Example.com', externalId: 'c-77' }, lines: LINES });
    const found = (await call(app, { method: 'GET', url: `/v1/members/lookup?programId=${t.program.programId}&email=new.customer@example.com`, key: t.keys.read })).json();
    expect(found).toMatchObject({ memberId: first.event.memberId, externalId: 'c-77', status: 'active' });
    const second = await sent(t, { externalId: ext('order'), type: 'purchase', member: { externalId: 'c-77' }, lines: LINES });
    expect(second.event.memberId).toBe(first.event.memberId);
    expect(await points(t, found.memberId)).toMatchObject({ available: 66 });
    // a phone alone is not enough to enrol someone
    expectProblem(await send(t, { externalId: ext('order'), type: 'purchase', member: { phone: '+33612345678' }, lines: LINES }), 404, 'member');
    await expectVerified(laurel, t.tenantId);
  });

  it('an opt_in program answers 404 for a member it does not know, and enrols nobody', async () => {
    const t = await tenant();
    expectProblem(await send(t, { externalId: ext('order'), type: 'purchase', member: { email: 'stranger@example.com' }, lines: LINES }), 404, 'member');
    expectProblem(await send(t, { externalId: ext('order'), type: 'purchase', memberId: '01a20c82-4d1f-7939-b601-6e85e79978fe', lines: LINES }), 404, 'memberId');
    expect((await call(app, { method: 'GET', url: `/v1/members?programId=${t.program.programId}`, key: t.keys.read })).json().data).toEqual([]);
    await expectVerified(laurel, t.tenantId);
  });

  it('identifiers of two different members are a conflict', async () => {
    const t = await tenant();
    await member(t, 'alpha');
    await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'beta@example.com' } });
    expectProblem(await send(t, { externalId: ext('order'), type: 'review', member: { externalId: 'alpha', email: 'beta@example.com' } }), 409, 'member');
  });
});

describe('custom actions', () => {
  it("earn what the program's rules for their type give, or 0 — recorded either way", async () => {
    const t = await tenant();
    const p = (await call(app, { method: 'POST', url: '/v1/programs', key: t.keys.admin, body: {
      name: 'Community', enrollmentMode: 'universal', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt',
    } })).json();
    for (const [type, points] of [['review', 50], ['app_download', 200]] as const) {
      const r = await call(app, { method: 'POST', url: `/v1/programs/${p.programId}/rules`, key: t.keys.admin, body: {
        name: `${type} points`, trigger: type, effect: { type: 'fixed_points', points },
      } });
      expect(r.statusCode, r.body).toBe(201);
    }
    const who = { externalId: 'fan-1' };
    const review = await sent(t, { programId: p.programId, externalId: ext('review'), type: 'review', member: who, attributes: { rating: 5, sku: 'LATTE-L' } });
    expect(review).toMatchObject({
      points: 50, event: { type: 'review', attributes: { rating: 5, sku: 'LATTE-L' }, explanation: [{ name: 'review points', effect: 'fixed_points', points: 50 }] },
      ledger: { entries: [{ kind: 'earn', amount: 50 }] },
    });
    const survey = await sent(t, { programId: p.programId, externalId: ext('survey'), type: 'survey_completed', member: who });
    expect(survey).toMatchObject({ points: 0, ledger: null, event: { type: 'survey_completed', points: 0, ledgerEntryId: null } });
    const list = (await call(app, { method: 'GET', url: `/v1/members/${review.event.memberId}/events`, key: t.keys.read })).json();
    expect(list.data.map((e: { type: string }) => e.type).sort()).toEqual(['review', 'survey_completed']);
    expect(await points(t, review.event.memberId)).toMatchObject({ available: 50 });
    // a return triggers nothing: it undoes a purchase
    expectProblem(await call(app, { method: 'POST', url: `/v1/programs/${p.programId}/rules`, key: t.keys.admin, body: {
      name: 'Bad', trigger: 'return', effect: { type: 'fixed_points', points: 5 },
    } }), 400, 'trigger');
    await expectVerified(laurel, t.tenantId);
  });
});

describe('listing and reading', () => {
  it("pages a member's events newest first with a cursor, filtered by type", async () => {
    const t = await tenant();
    const m = await member(t);
    const ids: string[] = [];
    for (const type of ['purchase', 'review', 'purchase', 'survey', 'purchase']) {
      laurel.clock.advance(1000);
      const body = type === 'purchase' ? { lines: LINES } : {};
      ids.push((await sent(t, { externalId: ext(type), type, memberId: m, ...body })).event.eventId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { data: { eventId: string }[]; hasMore: boolean; nextCursor: string | null } =
        (await call(app, { method: 'GET', url: `/v1/members/${m}/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`, key: t.keys.read })).json();
      seen.push(...r.data.map((e) => e.eventId));
      cursor = r.nextCursor;
      expect(r.hasMore).toBe(cursor !== null);
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const purchases = (await call(app, { method: 'GET', url: `/v1/members/${m}/events?type=purchase`, key: t.keys.read })).json();
    expect(purchases.data.map((e: { eventId: string }) => e.eventId)).toEqual([ids[4], ids[2], ids[0]]);
    const token = (await call(app, { method: 'POST', url: `/v1/members/${m}/tokens`, key: t.keys.pos, body: {} })).json().token;
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/events`, key: token })).statusCode).toBe(200);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${m}/events?cursor=nope`, key: t.keys.read }), 400, 'cursor');
    expectProblem(await call(app, { method: 'GET', url: '/v1/events/01a20c82-4d1f-7939-b601-6e85e79978fe', key: t.keys.read }), 404, 'eventId');
    await expectVerified(laurel, t.tenantId);
  });
});

describe('access and input', () => {
  it("keeps tenants apart: a key of tenant B reaches nothing of A's (404)", async () => {
    const a = await tenant();
    const b = await tenant();
    const m = await member(a);
    const order = ext('order');
    const r = await sent(a, { externalId: order, type: 'purchase', memberId: m, lines: LINES });
    expectProblem(await send(a, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES }, b.keys.admin), 404, 'programId');
    expectProblem(await send(b, { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES }), 404, 'memberId');
    expectProblem(await send(b, { externalId: ext('return'), type: 'return', purchaseExternalId: order, refundAmount: 5 }), 404, 'purchaseExternalId');
    expectProblem(await send(a, { externalId: order, type: 'purchase', memberId: m, lines: LINES }, b.keys.admin), 404, 'programId');
    expectProblem(await call(app, { method: 'GET', url: `/v1/events/${r.event.eventId}`, key: b.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${m}/events`, key: b.keys.read }), 404);
    expect(await points(a, m)).toMatchObject({ available: 33 });
    await expectVerified(laurel, a.tenantId);
    await expectVerified(laurel, b.tenantId);
  });

  it('needs a pos or admin key to send, a read key to read', async () => {
    const t = await tenant();
    const m = await member(t);
    const body = { externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES };
    expectProblem(await send(t, body, t.keys.read), 403);
    expectProblem(await call(app, { method: 'POST', url: '/v1/events', body: { programId: t.program.programId, ...body }, idempotencyKey: false }), 401);
    expect((await send(t, body, t.keys.admin)).statusCode).toBe(201);
  });

  it.each([
    ['an unknown field', { shoeSize: 44 }, 'shoeSize'],
    ['an amount over 10^12', { paidWithPoints: 1e13 }, 'paidWithPoints'],
    ['a fractional price', { lines: [{ sku: 'A', quantity: 1, unitPrice: 1.5 }] }, 'lines[0].unitPrice'],
    ['a price as text', { lines: [{ sku: 'A', quantity: 1, unitPrice: '150' }] }, 'lines[0].unitPrice'],
    ['an unknown line field', { lines: [{ sku: 'A', quantity: 1, unitPrice: 1, colour: 'red' }] }, 'lines[0].colour'],
    ['a bad date', { occurredAt: 'yesterday' }, 'occurredAt'],
    ['another currency', { currency: 'USD' }, 'currency'],
    ['both memberId and member', { member: { externalId: 'x' } }, 'member'],
    ['a NUL in the order id', { orderId: 'a\u0000b' }, 'orderId'],
    ['a discount above the line', { lines: [{ sku: 'A', quantity: 1, unitPrice: 100, discount: 101 }] }, 'lines[0].discount'],
    ['a bad type', { type: 'Big Purchase' }, 'type'],
  ])('refuses %s with a 400 naming the field, storing nothing', async (_name, change, field) => {
    const t = await tenant();
    const m = await member(t);
    const externalId = ext('order');
    expectProblem(await send(t, { externalId, type: 'purchase', memberId: m, lines: LINES, ...change }), 400, field);
    // nothing stored under the id: the corrected event goes through
    expect((await send(t, { externalId, type: 'purchase', memberId: m, lines: LINES })).statusCode).toBe(201);
    await expectVerified(laurel, t.tenantId);
  });
});

/**
 * A Laurel whose n-th transaction does all its work and then dies before it commits, as if the
 * process died there: everything it wrote must roll back together.
 */
function crashingAt(n: number): Laurel {
  let calls = 0;
  const db = new Proxy(laurel.db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => {
          const tx = target.transaction();
          if (++calls !== n) return tx;
          return {
            execute: (work: Parameters<typeof tx.execute>[0]) => tx.execute(async (trx) => {
              await work(trx);
              throw new Error('crash');
            }),
          };
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { ...laurel, db } as Laurel;
}

describe('a crash inside an event (one transaction)', () => {
  /** A tenant earning 1 point per euro from a budget of 1,000: the budget shows what was spent. */
  async function setup() {
    const t = await newTenant(laurel);
    const rule = await createRule(laurel, t.tenantId, t.program.programId, { ...PER_EURO, limits: { budget: 1000 } }, { actor: 'test' });
    const budgetUsed = async () => (await getRule(laurel, t.tenantId, rule.ruleId)).budgetUsed;
    const awards = async () => (await laurel.db.selectFrom('rule_awards').select(sql<number>`count(*)::int`.as('n'))
      .where('tenant_id', '=', t.tenantId).executeTakeFirstOrThrow()).n;
    return { t, tenantId: t.tenantId, programId: t.program.programId, m: await member(t), budgetUsed, awards };
  }

  it('of a purchase leaves nothing — no event, no points, no award, no budget spent — and the retry records it once', async () => {
    const { t, tenantId, programId, m, budgetUsed, awards } = await setup();
    const input: IngestInput = { programId, externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES };
    await expect(ingestEvent(crashingAt(1), tenantId, input)).rejects.toThrow('crash');
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 0n });
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/events`, key: t.keys.read })).json().data).toEqual([]);
    expect(await journal(t, m)).toEqual([]);
    expect(await awards()).toBe(0);
    expect(await budgetUsed()).toBe(0n);
    const retried = await ingestEvent(laurel, tenantId, input);
    const again = await ingestEvent(laurel, tenantId, input);
    expect(retried).toEqual(again);
    expect(retried.points).toBe(33n);
    expect(await journal(t, m)).toEqual(['earn 33']);
    expect(await awards()).toBe(1);
    expect(await budgetUsed()).toBe(33n);
    const stored = (await call(app, { method: 'GET', url: `/v1/events/${retried.event.eventId}`, key: t.keys.read })).json();
    expect(stored.ledgerEntryId).toBe(retried.ledger!.entries[0]!.entryId);
    await expectVerified(laurel, tenantId);
  });

  it('of a purchase: a return arriving before the retry finds no purchase (404); after it, takes part back', async () => {
    const { t, tenantId, programId, m } = await setup();
    const order: IngestInput = { programId, externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES };
    await expect(ingestEvent(crashingAt(1), tenantId, order)).rejects.toThrow('crash');
    const beans: IngestInput = { programId, externalId: ext('return'), type: 'return', purchaseExternalId: order.externalId, lines: [{ sku: 'BEANS-1KG', quantity: 1 }] };
    await expect(ingestEvent(laurel, tenantId, beans)).rejects.toMatchObject({ code: 'not_found', field: 'purchaseExternalId' });
    expect((await ingestEvent(laurel, tenantId, order)).points).toBe(33n);
    expect((await ingestEvent(laurel, tenantId, beans)).points).toBe(-8n);
    expect(await journal(t, m)).toEqual(['earn 33', 'reverse 8']);
    await expectVerified(laurel, tenantId);
  });

  it('of a return leaves the purchase whole; the next return and the retry net it to zero, budget included', async () => {
    const { t, tenantId, programId, m, budgetUsed, awards } = await setup();
    const order = ext('order');
    await ingestEvent(laurel, tenantId, { programId, externalId: order, type: 'purchase', memberId: m, lines: LINES });
    const beans: IngestInput = { programId, externalId: ext('return'), type: 'return', purchaseExternalId: order, lines: [{ sku: 'BEANS-1KG', quantity: 1 }] };
    await expect(ingestEvent(crashingAt(1), tenantId, beans)).rejects.toThrow('crash');
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 33n });
    expect([await awards(), await budgetUsed()]).toEqual([1, 33n]);
    const lattes = await ingestEvent(laurel, tenantId, { programId, externalId: ext('return'), type: 'return', purchaseExternalId: order, lines: [{ sku: 'LATTE-L', quantity: 2 }] });
    // the lattes first: 899 left → 8 kept, 25 back
    expect(lattes.points).toBe(-25n);
    expect((await ingestEvent(laurel, tenantId, beans)).points).toBe(-8n);
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    expect(await journal(t, m)).toEqual(['earn 33', 'reverse 25', 'reverse 8']);
    expect([await awards(), await budgetUsed()]).toEqual([3, 0n]);
    await expectVerified(laurel, tenantId);
  });
});

describe('events sent at the same moment', () => {
  it('the same event twice: one earn, one answer', async () => {
    const { tenantId, programId, m } = await (async () => {
      const t = await tenant();
      return { tenantId: t.tenantId, programId: t.program.programId, m: await member(t) };
    })();
    const input: IngestInput = { programId, externalId: ext('order'), type: 'purchase', memberId: m, lines: LINES };
    const results = await Promise.all(Array.from({ length: 6 }, () => ingestEvent(laurel, tenantId, input)));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 33n });
    await expectVerified(laurel, tenantId);
  });

  it('returns of one purchase, all at once: together they take back exactly what it earned', async () => {
    const t = await tenant();
    const [tenantId, programId, m] = [t.tenantId, t.program.programId, await member(t)];
    const order = ext('order');
    const lines = Array.from({ length: 6 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 3, unitPrice: 333 + i * 7, discount: i }));
    const bought = await ingestEvent(laurel, tenantId, { programId, externalId: order, type: 'purchase', memberId: m, lines });
    const returns = await Promise.all(lines.flatMap((l) => [1, 2].map((q) => ingestEvent(laurel, tenantId, {
      programId, externalId: ext('return'), type: 'return', purchaseExternalId: order, lines: [{ sku: l.sku, quantity: q }],
    }))));
    expect(returns.reduce((s, r) => s - r.points, 0n)).toBe(bought.points);
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    await expectVerified(laurel, tenantId);
  });

  it('returns of more units than were bought: exactly the units bought come back, the others are refused', async () => {
    const t = await tenant();
    const [tenantId, programId, m] = [t.tenantId, t.program.programId, await member(t)];
    const order = ext('order');
    await ingestEvent(laurel, tenantId, { programId, externalId: order, type: 'purchase', memberId: m, lines: LINES });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => ingestEvent(laurel, tenantId, {
      programId, externalId: ext('return'), type: 'return', purchaseExternalId: order, lines: [{ sku: 'LATTE-L', quantity: 1 }],
    })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'conflict', field: 'lines[0].quantity' });
    // the beans stay: 33 − 25 = 8 left, floor(899 / 100)
    expect(await getBalance(laurel, tenantId, m)).toMatchObject({ available: 8n });
    await expectVerified(laurel, tenantId);
  });

  it('first events of one new member in a universal program: one member', async () => {
    const t = await tenant({ enrollmentMode: 'universal' });
    const results = await Promise.all(Array.from({ length: 4 }, () => ingestEvent(laurel, t.tenantId, {
      programId: t.program.programId, externalId: ext('order'), type: 'purchase', member: { email: 'rush@example.com' }, lines: LINES,
    })));
    expect(new Set(results.map((r) => r.event.memberId)).size).toBe(1);
    expect(await getBalance(laurel, t.tenantId, results[0]!.event.memberId)).toMatchObject({ available: 132n });
    await expectVerified(laurel, t.tenantId);
  });
});

const RUNS = Number(process.env.LAUREL_EVENT_PROPERTY_RUNS ?? 20);

/** A random purchase, by one member of a fresh program whose rules are `rules`; its returns by `plan`. */
async function purchaseAndReturns(input: {
  rules: Record<string, unknown>[]; lines: PurchaseLines; paidPct: number; returnWindowDays: number; plan: ReturnSteps; tier?: string;
  afterPurchase?: (bought: Awaited<ReturnType<typeof ingestEvent>>, ctx: PropertyContext) => Promise<void>;
  afterReturn?: (r: Awaited<ReturnType<typeof ingestEvent>>, ctx: PropertyContext & { refunded: bigint }) => Promise<void>;
}) {
  const tenant = await createTenant(laurel, { name: 'Property', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, {
    ...basicProgram, returnWindowDays: input.returnWindowDays,
    wallets: [...basicProgram.wallets, { code: CREDIT_WALLET, kind: 'redeemable' }],
  });
  for (const rule of input.rules) await createRule(laurel, tenant.tenantId, program.programId, rule, { actor: 'property' });
  const m = (await createMember(laurel, tenant.tenantId, { programId: program.programId, externalId: 'p', tier: input.tier ?? null })).memberId;
  const { lines } = input;
  const goods = lines.reduce((s, l) => s + l.quantity * l.unitPrice - l.discount, 0n);
  const paidWithPoints = (goods * BigInt(input.paidPct)) / 100n;
  const total = orderTotal(lines, paidWithPoints);
  const held = async (wallet = 'points') => {
    const b = await getBalance(laurel, tenant.tenantId, m, wallet);
    return b.available + b.pending;
  };
  const ctx: PropertyContext = { program, memberId: m, total, held };
  const bought = await ingestEvent(laurel, tenant.tenantId, {
    programId: program.programId, externalId: 'order', type: 'purchase', memberId: m, paidWithPoints,
    lines: lines.map((l) => ({ sku: l.sku, category: l.category, quantity: l.quantity, unitPrice: l.unitPrice, discount: l.discount })),
  });
  expect(bought.event.total).toBe(total);
  await input.afterPurchase?.(bought, ctx);
  let refunded = 0n;
  let n = 0;
  for (const step of input.plan) {
    const refundAmount = 'refundPct' in step ? ((total - refunded) * BigInt(step.refundPct)) / 100n : null;
    if (refundAmount === 0n) continue;
    const r = await ingestEvent(laurel, tenant.tenantId, {
      programId: program.programId, externalId: `return-${++n}`, type: 'return', purchaseExternalId: 'order',
      ...('lines' in step ? { lines: step.lines } : { refundAmount: refundAmount! }),
    });
    refunded += r.event.refundAmount!;
    expect(r.points).toBeLessThanOrEqual(0n);
    await input.afterReturn?.(r, { ...ctx, refunded });
  }
  expect(refunded).toBe(total);
  expect(await held()).toBe(0n);
  expect(await held(CREDIT_WALLET)).toBe(0n);
  await expectVerified(laurel, tenant.tenantId);
}

type PurchaseLines = Parameters<typeof returnPlan>[0];
type ReturnSteps = ReturnType<typeof returnPlan> extends fc.Arbitrary<infer T> ? T : never;
interface PropertyContext { program: Program; memberId: string; total: bigint; held: (wallet?: string) => Promise<bigint> }

describe('any basket, rules and sequence of returns, end to end', () => {
  it('with a base rate alone: keeps the member at floor((total − refunded) × rate) after every return, exactly 0 after the last', async () => {
    await fc.assert(fc.asyncProperty(
      basketArbitrary.chain((lines) => fc.record({
        lines: fc.constant(lines), paidPct: fc.integer({ min: 0, max: 100 }),
        rate: fc.record({ points: fc.integer({ min: 1, max: 7 }), per: fc.integer({ min: 1, max: 700 }) }),
        returnWindowDays: fc.constantFrom(0, 14), plan: returnPlan(lines),
      })),
      async ({ lines, paidPct, rate, returnWindowDays, plan }) => {
        const pointsFor = (paid: bigint) => (paid * BigInt(rate.points)) / BigInt(rate.per);
        await purchaseAndReturns({
          lines, paidPct, returnWindowDays, plan,
          rules: [{ name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', ...rate } }],
          afterPurchase: async (bought, { total }) => { expect(bought.points).toBe(pointsFor(total)); },
          afterReturn: async (_r, { total, refunded, held }) => {
            const now = await held();
            expect(now).toBeGreaterThanOrEqual(0n);
            expect(now).toBe(pointsFor(total - refunded));
          },
        });
      },
    ), { numRuns: RUNS });
  });

  it('with any rule set: what is held only goes down, rule by rule never below 0 (a rule an exclusive one kept out may earn on what is left), and is exactly 0 after the last return', async () => {
    await fc.assert(fc.asyncProperty(
      basketArbitrary.chain((lines) => fc.record({
        lines: fc.constant(lines), paidPct: fc.integer({ min: 0, max: 100 }), rules: ruleSetArbitrary,
        tier: fc.constantFrom<string | undefined>(undefined, ...TIERS), returnWindowDays: fc.constantFrom(0, 14), plan: returnPlan(lines),
      })),
      async ({ lines, paidPct, rules, tier, returnWindowDays, plan }) => {
        const left = new Map<string, bigint>();
        const wallets = ['points', CREDIT_WALLET];
        let last: bigint[] = [];
        const paid = new Set<string>();
        await purchaseAndReturns({
          lines, paidPct, returnWindowDays, plan, tier,
          rules: rules.map((r) => ({ name: r.name, trigger: r.trigger, condition: r.condition, effect: r.effect, stacking: r.stacking, priority: r.priority })),
          afterPurchase: async (bought, { held }) => {
            for (const a of bought.event.explanation) {
              expect(a.points).toBe(a.uncapped);
              if (a.points > 0n) left.set(a.ruleId, a.points);
              if (a.points > 0n) paid.add(a.ruleId);
            }
            const byWallet = wallets.map((w) => bought.event.entries.find((e) => e.wallet === w)?.amount ?? 0n);
            expect(await Promise.all(wallets.map((w) => held(w)))).toEqual(byWallet);
            last = byWallet;
          },
          afterReturn: async (r, { held }) => {
            for (const a of r.event.explanation) {
              expect(a.points).not.toBe(0n);
              // Only a rule that did not pay at purchase (an exclusive rule kept it out) earns on a return.
              if (a.points > 0n) expect(paid.has(a.ruleId), `${a.name} paid at purchase and gains on a return`).toBe(false);
              left.set(a.ruleId, (left.get(a.ruleId) ?? 0n) + a.points);
              expect(left.get(a.ruleId)).toBeGreaterThanOrEqual(0n);
            }
            const now = await Promise.all(wallets.map((w) => held(w)));
            now.forEach((v, i) => {
              expect(v).toBeGreaterThanOrEqual(0n);
              expect(v).toBeLessThanOrEqual(last[i]!);
              expect(v - last[i]!).toBe(r.event.entries.find((e) => e.wallet === wallets[i])?.amount ?? 0n);
            });
            last = now;
          },
        });
        expect([...left.values()].every((v) => v === 0n)).toBe(true);
      },
    ), { numRuns: RUNS });
  });
});
