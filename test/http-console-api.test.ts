// The API the console reads: the dashboard's figures, member search by any identifier, and the
// check of a rule condition with the position of its fault.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { call, newTenant, openTestApp, type TestLaurel } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

describe('the dashboard', () => {
  it('counts members, active members, points issued, redeemed and expired per day, the liability and members per tier', async () => {
    const t = await newTenant(laurel, { returnWindowDays: 0 });
    const p = t.program.programId;
    const enrol = async (cardCode: string) => (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: p, cardCode } })).json().memberId as string;
    const ann = await enrol('D-1');
    const bob = await enrol('D-2');
    await enrol('D-3');
    const adjust = (m: string, amount: number) => call(app, { method: 'POST', url: `/v1/members/${m}/adjustments`, key: t.keys.admin, body: { amount, reason: 'test' } });
    const day1 = laurel.clock.now().toISOString().slice(0, 10);
    expect((await adjust(ann, 300)).statusCode).toBe(201);
    laurel.clock.advance(DAY_MS);
    const day2 = laurel.clock.now().toISOString().slice(0, 10);
    expect((await adjust(bob, 200)).statusCode).toBe(201);
    expect((await call(app, { method: 'POST', url: `/v1/members/${ann}/redemptions`, key: t.keys.pos, body: { amount: 120 } })).statusCode).toBe(201);

    const r = await call(app, { method: 'GET', url: `/v1/programs/${p}/dashboard?days=7`, key: t.keys.read });
    expect(r.statusCode, r.body).toBe(200);
    const d = r.json();
    // adjustments are not earnings: issued counts what rules paid; the journal's adjust entries show in the liability
    expect(d).toMatchObject({ object: 'dashboard', members: 3, activeMembers: 1, issued: 0, redeemed: 120, expired: 0, redemptionRate: 0, liability: 380 });
    // a day with any movement of the journal is a day of the series
    expect(d.days).toEqual([{ date: day1, issued: 0, redeemed: 0, expired: 0 }, { date: day2, issued: 0, redeemed: 120, expired: 0 }]);
    expect(d.tiers).toEqual([{ tier: null, members: 3 }]);
  });

  it('is refused to a member token and is 404 for another tenant\'s program', async () => {
    const a = await newTenant(laurel);
    const b = await newTenant(laurel);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${a.program.programId}/dashboard`, key: b.keys.read })).statusCode).toBe(404);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${a.program.programId}/dashboard?days=0`, key: a.keys.read })).statusCode).toBe(400);
  });
});

describe('a member\'s lots', () => {
  it('lists the lots still holding points, soonest to expire first, to the member\'s own token too', async () => {
    const t = await newTenant(laurel, { returnWindowDays: 0, expiry: { kind: 'rolling', months: 12 } });
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, cardCode: 'L-1' } })).json().memberId as string;
    const adjust = (amount: number) => call(app, { method: 'POST', url: `/v1/members/${m}/adjustments`, key: t.keys.admin, body: { amount, reason: 'test' } });
    await adjust(100);
    laurel.clock.advance(40 * DAY_MS);
    await adjust(50);
    await call(app, { method: 'POST', url: `/v1/members/${m}/redemptions`, key: t.keys.pos, body: { amount: 120 } });
    const token = (await call(app, { method: 'POST', url: `/v1/members/${m}/tokens`, key: t.keys.pos, body: {} })).json().token as string;
    const r = await call(app, { method: 'GET', url: `/v1/members/${m}/lots`, key: token });
    expect(r.statusCode, r.body).toBe(200);
    // the older lot is spent first (120 of 100 + 20 of 50): 30 left in the newer one
    expect(r.json().data.map((l: { amount: number; remaining: number; pending: boolean }) => [l.amount, l.remaining, l.pending])).toEqual([[50, 30, false]]);
    expect(r.json().data[0].expiresAt).not.toBeNull();
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/lots`, key: (await newTenant(laurel)).keys.read })).statusCode).toBe(404);
  });
});

describe('member search', () => {
  it('finds a member by card, e-mail in any case, phone with spaces, external id or member id; nothing in another tenant', async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    const body = { programId: t.program.programId, externalId: 'cust-9', email: 'zoe@example.com', phone: '+33612345678', cardCode: 'CARD-9' };
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body })).json();
    for (const q of ['CARD-9', 'ZOE@example.com', '+33 6 12 34 56 78', 'cust-9', m.memberId]) {
      const r = await call(app, { method: 'GET', url: `/v1/members/search?q=${encodeURIComponent(q)}`, key: t.keys.read });
      expect(r.json().data.map((x: { memberId: string }) => x.memberId), q).toEqual([m.memberId]);
    }
    expect((await call(app, { method: 'GET', url: '/v1/members/search?q=CARD-9', key: other.keys.read })).json().data).toEqual([]);
    expect((await call(app, { method: 'GET', url: '/v1/members/search?q=CARD-', key: t.keys.read })).json().data).toEqual([]);
  });

  it('narrows to a program, and refuses a programId the database could not read as an id with 400 naming it (found by the fuzz test)', async () => {
    const t = await newTenant(laurel);
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, cardCode: 'CARD-7' } })).json();
    const found = await call(app, { method: 'GET', url: `/v1/members/search?q=CARD-7&programId=${t.program.programId}`, key: t.keys.read });
    expect(found.json().data.map((x: { memberId: string }) => x.memberId)).toEqual([m.memberId]);
    const r = await call(app, { method: 'GET', url: `/v1/members/search?q=CARD-7&programId=${encodeURIComponent(`urn:uuid:${t.program.programId}`)}`, key: t.keys.read });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().errors).toEqual([expect.objectContaining({ field: 'programId' })]);
  });
});

describe('checking a rule condition', () => {
  it.each([
    ['member.tierr == "gold"', { message: 'No such key: tierr', line: 1, column: 8 }],
    ['member.tier == "gold" &&', { message: 'Unexpected token: EOF', line: 1, column: 25 }],
    ['time.weekend &&\n  event.amount > 1', { message: 'No such key: amount', line: 2, column: 9 }],
  ])('points at the fault of %j', async (condition, error) => {
    const t = await newTenant(laurel);
    const r = await call(app, { method: 'POST', url: '/v1/rules/check-condition', key: t.keys.admin, body: { condition } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ object: 'condition_check', valid: false, error });
  });

  it('accepts a valid condition and writes nothing', async () => {
    const t = await newTenant(laurel);
    const r = await call(app, { method: 'POST', url: '/v1/rules/check-condition', key: t.keys.admin, body: { condition: 'member.tier == "gold" && time.weekend' } });
    expect(r.json()).toEqual({ object: 'condition_check', valid: true, error: null });
    expect((await call(app, { method: 'GET', url: '/v1/audit-log', key: t.keys.admin })).json().data).toEqual([]);
  });
});
