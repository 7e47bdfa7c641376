// The referral API as a shop, a back office and a member portal call it: settings, a member's code
// and link (readable with the member's own token), enrolment with a referralCode, the list with its
// filters, one referral, the funnel. Bad input is a 4xx naming the field; tenants never see each other's.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await app.close(); await laurel.close(); });

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors.map((e: { field: string }) => e.field), r.body).toContain(field);
}

const SETTINGS = {
  enabled: true, linkBaseUrl: 'https://shop.example/r/{code}', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 30,
  referrer: { points: 500 }, referee: { points: 250 }, caps: { perPeriod: { count: 10, period: 'month' }, lifetime: 100 },
};

let serial = 0;
async function setUp(): Promise<TestTenant & { ada: string; code: string }> {
  const t = await newTenant(laurel, { returnWindowDays: 14 });
  const put = await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/referral-settings`, key: t.keys.admin, body: SETTINGS });
  expect(put.statusCode, put.body).toBe(200);
  const ada = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: `ada${++serial}@example.com` } })).json().memberId;
  const code = (await call(app, { method: 'GET', url: `/v1/members/${ada}/referral`, key: t.keys.read })).json().code;
  return { ...t, ada, code };
}

describe('referral settings', () => {
  it('are set by an admin, read by a read key, and answered as saved', async () => {
    const t = await newTenant(laurel);
    const url = `/v1/programs/${t.program.programId}/referral-settings`;
    expect((await call(app, { method: 'GET', url, key: t.keys.read })).json()).toMatchObject({ enabled: false, linkBaseUrl: null, updatedAt: null, referrer: { points: 0 } });
    expectProblem(await call(app, { method: 'PUT', url, key: t.keys.pos, body: SETTINGS }), 403);
    const put = await call(app, { method: 'PUT', url, key: t.keys.admin, body: SETTINGS });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ object: 'referral_settings', ...SETTINGS });
    expect((await call(app, { method: 'GET', url, key: t.keys.read })).json()).toEqual(put.json());
    const defaults = await call(app, { method: 'PUT', url, key: t.keys.admin, body: { enabled: false, linkBaseUrl: 'https://shop.example/join' } });
    expect(defaults.json()).toMatchObject({ condition: 'event.type == "purchase"', withinDays: null, referrer: { points: 0, rewardId: null }, caps: { perPeriod: null, lifetime: null } });
  });

  it('refuse bad input naming the field', async () => {
    const t = await newTenant(laurel);
    const url = `/v1/programs/${t.program.programId}/referral-settings`;
    const bad = (patch: Record<string, unknown>) => call(app, { method: 'PUT', url, key: t.keys.admin, body: { ...SETTINGS, ...patch } });
    expectProblem(await bad({ condition: 'order.total >=' }), 400, 'condition');
    expectProblem(await bad({ condition: 'order.totl > 1' }), 400, 'condition');
    expectProblem(await bad({ withinDays: -1 }), 400, 'withinDays');
    expectProblem(await bad({ linkBaseUrl: 'not a url' }), 400, 'linkBaseUrl');
    expectProblem(await bad({ referrer: { points: -5 } }), 400, 'referrer.points');
    expectProblem(await bad({ referee: { rewardId: '01a20c82-4d1f-7939-b601-6e85e79978fe' } }), 404, 'referee.rewardId');
    expectProblem(await bad({ caps: { perPeriod: { count: 0, period: 'month' } } }), 400, 'caps.perPeriod.count');
    expectProblem(await bad({ caps: { perPeriod: { count: 3, period: 'decade' } } }), 400, 'caps.perPeriod.period');
    expectProblem(await bad({ enabled: 'yes' }), 400, 'enabled');
    expectProblem(await bad({ colour: 'blue' }), 400, 'colour');
    expectProblem(await call(app, { method: 'PUT', url: '/v1/programs/not-an-id/referral-settings', key: t.keys.admin, body: SETTINGS }), 400, 'programId');
  });
});

describe("a member's referral", () => {
  it('is a stable code and link, readable with the member token, refused for another member', async () => {
    const t = await setUp();
    const url = `/v1/members/${t.ada}/referral`;
    const first = (await call(app, { method: 'GET', url, key: t.keys.read })).json();
    expect(first).toMatchObject({ object: 'member_referral', memberId: t.ada, code: t.code, link: `https://shop.example/r/${t.code}`, referredBy: null, pointsEarned: 0 });
    expect(t.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    const { token } = (await call(app, { method: 'POST', url: `/v1/members/${t.ada}/tokens`, key: t.keys.pos, body: {} })).json();
    expect((await call(app, { method: 'GET', url, key: token })).json()).toEqual(first);
    const bob = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'bob' } })).json().memberId;
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${bob}/referral`, key: token }), 403);
  });

  it('has no code while the program has referrals off, is refused (409) for a suspended member, and 404 for an unknown one', async () => {
    const t = await newTenant(laurel);
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'x' } })).json().memberId;
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/referral`, key: t.keys.read })).json()).toMatchObject({ enabled: false, code: null, link: null });
    await call(app, { method: 'POST', url: `/v1/members/${m}/suspend`, key: t.keys.admin, body: {} });
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${m}/referral`, key: t.keys.read }), 409, 'memberId');
    expectProblem(await call(app, { method: 'GET', url: '/v1/members/01a20c82-4d1f-7939-b601-6e85e79978fe/referral', key: t.keys.read }), 404);
  });
});

describe('from code to both rewards, over HTTP', () => {
  it('enrols with referralCode, qualifies on a purchase, lists with filters, shows one, and counts the funnel', async () => {
    const t = await setUp();
    const created = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'bob@example.com', referralCode: t.code } });
    expect(created.statusCode, created.body).toBe(201);
    const bob = created.json().memberId;
    const self = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: `ada${serial}+2@example.com`, referralCode: t.code } });
    expect(self.statusCode).toBe(201);
    const ev = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
      programId: t.program.programId, memberId: bob, type: 'purchase', externalId: 'order-1', lines: [{ sku: 'X', quantity: 1, unitPrice: 5000 }],
    } });
    expect(ev.statusCode, ev.body).toBe(201);
    const list = (await call(app, { method: 'GET', url: `/v1/referrals?programId=${t.program.programId}`, key: t.keys.read })).json();
    expect(list.data.map((r: { state: string }) => r.state).sort()).toEqual(['qualified', 'rejected']);
    const qualified = (await call(app, { method: 'GET', url: '/v1/referrals?state=qualified', key: t.keys.read })).json().data;
    expect(qualified).toHaveLength(1);
    expect(qualified[0]).toMatchObject({ referrerId: t.ada, refereeId: bob, referrerPoints: 500, refereePoints: 250, qualifyingExternalId: 'order-1' });
    const rejected = (await call(app, { method: 'GET', url: '/v1/referrals?reason=self_referral', key: t.keys.read })).json().data;
    expect(rejected).toMatchObject([{ state: 'rejected', reason: 'self_referral' }]);
    expect((await call(app, { method: 'GET', url: `/v1/referrals?referrerId=${t.ada}&limit=1`, key: t.keys.read })).json()).toMatchObject({ hasMore: true });
    expect((await call(app, { method: 'GET', url: `/v1/referrals?refereeId=${bob}`, key: t.keys.read })).json().data).toHaveLength(1);
    const one = await call(app, { method: 'GET', url: `/v1/referrals/${qualified[0].referralId}`, key: t.keys.read });
    expect(one.json()).toEqual(qualified[0]);
    const funnel = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/referral-funnel`, key: t.keys.read })).json();
    expect(funnel).toMatchObject({ object: 'referral_funnel', codesShared: 1, joined: 2, qualified: 1, rejected: { self_referral: 1 }, pointsPaid: 750 });
    const mine = (await call(app, { method: 'GET', url: `/v1/members/${t.ada}/referral`, key: t.keys.read })).json();
    expect(mine).toMatchObject({ referrals: { qualified: 1, rejected: 1, pending: 0 }, pointsEarned: 500 });
    const balance = (await call(app, { method: 'GET', url: `/v1/members/${t.ada}/balances`, key: t.keys.read })).json();
    expect(balance.data[0]).toMatchObject({ available: 0, pending: 500 });
    await expectVerified(laurel, t.tenantId);
  });

  it('refuses a bad or unknown referralCode naming it, and enrols nobody', async () => {
    const t = await setUp();
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'x@example.com', referralCode: 'nope' } }), 400, 'referralCode');
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'x@example.com', referralCode: 'ZZZZZZZZZZZZZZZZ' } }), 404, 'referralCode');
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'x@example.com', referralCode: 7 } }), 400, 'referralCode');
    expectProblem(await call(app, { method: 'GET', url: '/v1/members/lookup?programId=' + t.program.programId + '&email=x@example.com', key: t.keys.read }), 404);
  });

  it('refuses bad filters naming them', async () => {
    const t = await setUp();
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals?state=done', key: t.keys.read }), 400, 'state');
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals?reason=bored', key: t.keys.read }), 400, 'reason');
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals?referrerId=x', key: t.keys.read }), 400, 'referrerId');
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals?cursor=zzz', key: t.keys.read }), 400, 'cursor');
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals?refereeId=urn%3Auuid%3A94f1f921-dd2a-7eac-883f-57150000000a', key: t.keys.read }), 400, 'refereeId');
    expectProblem(await call(app, { method: 'GET', url: '/v1/referrals/nope', key: t.keys.read }), 400, 'referralId');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/referral-funnel?from=yesterday`, key: t.keys.read }), 400, 'from');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/referral-funnel?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, key: t.keys.read }), 400, 'to');
  });
});

describe('tenant isolation', () => {
  it("no tenant reads or uses another's settings, codes, referrals or funnel", async () => {
    const a = await setUp();
    const b = await setUp();
    await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body: { programId: a.program.programId, externalId: 'friend', referralCode: a.code } });
    const ref = (await call(app, { method: 'GET', url: '/v1/referrals', key: a.keys.read })).json().data[0];
    expect((await call(app, { method: 'GET', url: '/v1/referrals', key: b.keys.read })).json().data).toEqual([]);
    expectProblem(await call(app, { method: 'GET', url: `/v1/referrals/${ref.referralId}`, key: b.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${a.ada}/referral`, key: b.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${a.program.programId}/referral-settings`, key: b.keys.read }), 404);
    expectProblem(await call(app, { method: 'PUT', url: `/v1/programs/${a.program.programId}/referral-settings`, key: b.keys.admin, body: SETTINGS }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${a.program.programId}/referral-funnel`, key: b.keys.read }), 404);
    // A's code means nothing in B's program.
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: b.keys.pos, body: { programId: b.program.programId, externalId: 'spy', referralCode: a.code } }), 404, 'referralCode');
  });
});
