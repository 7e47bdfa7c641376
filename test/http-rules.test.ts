// Earning rules and campaigns over HTTP, as a brand's back office and its tills meet them: rules
// are created, versioned, read at a version, turned off and on; bad rules are refused as
// problem+json naming the field; a quote at the till equals what the event then earns; keys and
// tenants stay in their lanes.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;

beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

let serial = 0;
const ext = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = r.json();
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//), title: expect.any(String), detail: expect.any(String) });
  if (field) expect(body.errors[0].field, r.body).toBe(field);
}

/** PUT is not among call()'s methods: the same, by hand. */
const put = (url: string, key: string, body: unknown) =>
  app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${key}` }, payload: body as object });

const BASE = { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } };

const createRule = (t: TestTenant, body: unknown, key = t.keys.admin) =>
  call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key, body });

async function created(t: TestTenant, body: unknown) {
  const r = await createRule(t, body);
  expect(r.statusCode, r.body).toBe(201);
  return r.json();
}

async function member(t: TestTenant, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.admin, body: { programId: t.program.programId, externalId: ext('cust'), ...extra } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().memberId;
}

describe('rules over HTTP', () => {
  it('creates a rule (201), refusing a bad condition or an unknown effect parameter with 400 naming the field', async () => {
    const t = await newTenant(laurel);
    const r = await created(t, { ...BASE, condition: 'order.total >= 100', limits: { minSpend: 100, perMember: [{ period: 'day', points: 1000 }] } });
    expect(r).toMatchObject({
      object: 'rule', programId: t.program.programId, version: 1, enabled: true, budgetUsed: 0, name: '1 point per euro', trigger: 'purchase',
      condition: 'order.total >= 100', effect: { type: 'points_per_amount', points: 1, per: 100 }, stacking: 'cumulative', priority: 0, campaignId: null,
      limits: { minSpend: 100, perMember: [{ period: 'day', points: 1000, times: null }], budget: null },
    });
    expect(r.ruleId).toMatch(/^[0-9a-f-]{36}$/);
    for (const condition of ['order.total >=', 'member.shoeSize > 3', 'order.total', 'nope(1)']) {
      expectProblem(await createRule(t, { ...BASE, condition }), 400, 'condition');
    }
    expectProblem(await createRule(t, { ...BASE, effect: { ...BASE.effect, bonus: 5 } }), 400, 'effect.bonus');
    expectProblem(await createRule(t, { ...BASE, effect: { type: 'fixed_points', points: 5, per: 100 } }), 400, 'effect.per');
    expectProblem(await createRule(t, { ...BASE, effect: { type: 'alchemy' } }), 400, 'effect.type');
    expectProblem(await createRule(t, { ...BASE, effect: { type: 'points_per_amount', points: 0, per: 100 } }), 400, 'effect.points');
    expectProblem(await createRule(t, { ...BASE, trigger: 'return' }), 400, 'trigger');
    expectProblem(await createRule(t, { ...BASE, effect: { type: 'percent_back', percent: 10, wallet: 'credit' } }), 400, 'effect.wallet');
    expectProblem(await createRule(t, { ...BASE, campaignId: '01a20c82-4d1f-7939-b601-6e85e79978fe' }), 404, 'campaignId');
    const list = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.read })).json();
    expect(list.data.map((x: { ruleId: string }) => x.ruleId)).toEqual([r.ruleId]);
  });

  it('PUT saves version 2; GET reads any version; versions lists both; enable and disable', async () => {
    const t = await newTenant(laurel);
    const r = await created(t, BASE);
    const v2 = await put(`/v1/rules/${r.ruleId}`, t.keys.admin, { ...BASE, name: 'Double', effect: { type: 'points_per_amount', points: 2, per: 100 } });
    expect(v2.statusCode, v2.body).toBe(200);
    expect(v2.json()).toMatchObject({ ruleId: r.ruleId, version: 2, name: 'Double', effect: { points: 2 } });
    expectProblem(await put(`/v1/rules/${r.ruleId}`, t.keys.admin, { ...BASE, condition: 'member.tier' }), 400, 'condition');
    expect((await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}`, key: t.keys.read })).json()).toMatchObject({ version: 2, name: 'Double' });
    expect((await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}?version=1`, key: t.keys.read })).json()).toMatchObject({ version: 1, name: '1 point per euro' });
    expectProblem(await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}?version=3`, key: t.keys.read }), 404, 'version');
    const versions = (await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}/versions`, key: t.keys.read })).json();
    expect(versions.data.map((v: { version: number; name: string }) => [v.version, v.name])).toEqual([[1, '1 point per euro'], [2, 'Double']]);
    expect(versions.data.every((v: { savedAt: string; savedBy: string }) => typeof v.savedAt === 'string' && typeof v.savedBy === 'string')).toBe(true);

    const m = await member(t);
    const buy = (externalId: string) => call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
      programId: t.program.programId, externalId, type: 'purchase', memberId: m, lines: [{ sku: 'A', quantity: 1, unitPrice: 1000 }],
    } });
    expect((await buy(ext('order'))).json().points).toBe(20);
    const off = await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/disable`, key: t.keys.admin });
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json()).toMatchObject({ enabled: false, version: 2 });
    expect((await buy(ext('order'))).json()).toMatchObject({ points: 0, ledger: null, event: { explanation: [] } });
    expect((await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/rules?enabled=false`, key: t.keys.read })).json().data).toHaveLength(1);
    expect((await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/enable`, key: t.keys.admin })).json()).toMatchObject({ enabled: true });
    expect((await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/enable`, key: t.keys.admin })).json()).toMatchObject({ enabled: true });
    expect((await buy(ext('order'))).json().points).toBe(20);
    await expectVerified(laurel, t.tenantId);
  });

  it('campaigns: create, get, update; rules join them', async () => {
    const t = await newTenant(laurel);
    const c = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/campaigns`, key: t.keys.admin, body: {
      name: 'Bonuses', perMember: [{ period: 'month', points: 2000 }], validFrom: '2026-01-01T00:00:00+01:00',
    } });
    expect(c.statusCode, c.body).toBe(201);
    const campaign = c.json();
    expect(campaign).toMatchObject({
      object: 'campaign', name: 'Bonuses', budget: null, budgetUsed: 0, validFrom: '2025-12-31T23:00:00.000Z', validTo: null,
      perMember: [{ period: 'month', points: 2000, times: null }],
    });
    expect((await call(app, { method: 'GET', url: `/v1/campaigns/${campaign.campaignId}`, key: t.keys.read })).json()).toEqual(campaign);
    const updated = await put(`/v1/campaigns/${campaign.campaignId}`, t.keys.admin, { name: 'Bonuses 2026', budget: 5000, perMember: [{ period: 'month', points: 1500 }] });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ campaignId: campaign.campaignId, name: 'Bonuses 2026', budget: 5000, validFrom: null, perMember: [{ period: 'month', points: 1500 }] });
    expectProblem(await put(`/v1/campaigns/${campaign.campaignId}`, t.keys.admin, { name: 'x', perMember: [{ period: 'fortnight', points: 1 }] }), 400);
    expectProblem(await put(`/v1/campaigns/${campaign.campaignId}`, t.keys.pos, { name: 'x' }), 403);
    const list = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/campaigns`, key: t.keys.read })).json();
    expect(list.data.map((x: { name: string }) => x.name)).toEqual(['Bonuses 2026']);
    const bonus = await created(t, { name: 'Bonus', trigger: 'review', effect: { type: 'fixed_points', points: 2000 }, campaignId: campaign.campaignId });
    expect(bonus.campaignId).toBe(campaign.campaignId);
    const m = await member(t);
    const review = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
      programId: t.program.programId, externalId: ext('review'), type: 'review', memberId: m,
    } });
    expect(review.json()).toMatchObject({ points: 1500, event: { explanation: [{ ruleId: bonus.ruleId, points: 1500, uncapped: 2000, limitedBy: ['campaign_cap'] }] } });
    expect((await call(app, { method: 'GET', url: `/v1/campaigns/${campaign.campaignId}`, key: t.keys.read })).json()).toMatchObject({ budgetUsed: 1500 });
    await expectVerified(laurel, t.tenantId);
  });

  it('a quote at the till (pos key) equals what the event then earns, and the event keeps its explanation', async () => {
    const t = await newTenant(laurel);
    const c = (await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/campaigns`, key: t.keys.admin, body: {
      name: 'Bonuses', perMember: [{ period: 'month', points: 50 }],
    } })).json();
    const base = await created(t, BASE);
    await created(t, { name: 'Gold', trigger: 'purchase', effect: { type: 'tier_multiplier', tiers: { gold: 2 } }, campaignId: c.campaignId });
    await created(t, { name: 'Skincare 3x', trigger: 'purchase', effect: { type: 'multiplier', factor: 3, categories: ['skincare'] }, campaignId: c.campaignId });
    await created(t, { name: 'Lucky', trigger: 'purchase', effect: { type: 'surprise', probability: '0.5', points: 10 } });
    const m = await member(t, { tier: 'gold' });
    const body = {
      programId: t.program.programId, memberId: m, externalId: ext('order'),
      lines: [{ sku: 'SERUM', category: 'skincare', quantity: 2, unitPrice: 2550 }, { sku: 'TOWEL', category: 'home', quantity: 1, unitPrice: 1999, discount: 200 }],
    };
    for (let i = 0; i < 3; i++) {
      const externalId = ext('order');
      const q = await call(app, { method: 'POST', url: '/v1/quotes', key: t.keys.pos, body: { ...body, externalId } });
      expect(q.statusCode, q.body).toBe(200);
      const quote = q.json();
      expect(quote.object).toBe('quote');
      const e = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: { ...body, externalId, type: 'purchase' } });
      expect(e.statusCode, e.body).toBe(201);
      const event = e.json();
      expect(event.points).toBe(quote.points);
      expect(event.event.explanation).toEqual(quote.awards);
      expect(quote.wallets).toEqual(quote.points ? [{ wallet: 'points', amount: quote.points }] : []);
      if (i === 0) {
        // 6899 → base 68 ([50, 18] over the lines); gold 68 → 50 by the campaign's month cap; skincare 100 → 0
        expect(quote.awards.slice(0, 3).map((a: { name: string; points: number; uncapped: number; limitedBy: string[] }) => [a.name, a.points, a.uncapped, a.limitedBy]))
          .toEqual([['1 point per euro', 68, 68, []], ['Gold', 50, 68, ['campaign_cap']], ['Skincare 3x', 0, 100, ['campaign_cap']]]);
        expect(quote.awards[0]).toEqual({
          ruleId: base.ruleId, version: 1, name: '1 point per euro', campaignId: null, effect: 'points_per_amount', wallet: 'points',
          points: 68, uncapped: 68, limitedBy: [], detail: { amount: 6899, rate: '1 per 100', rounding: 'order, down' },
        });
      }
      const got = (await call(app, { method: 'GET', url: `/v1/events/${event.event.eventId}`, key: t.keys.read })).json();
      expect(got.explanation).toEqual(quote.awards);
      expect(got).toEqual(event.event);
    }
    // a quote needs no member: what a newcomer would earn
    const anonymous = await call(app, { method: 'POST', url: '/v1/quotes', key: t.keys.pos, body: { programId: t.program.programId, lines: body.lines } });
    expect(anonymous.statusCode, anonymous.body).toBe(200);
    expect(anonymous.json().awards[0]).toMatchObject({ name: '1 point per euro', points: 68 });
    expectProblem(await call(app, { method: 'POST', url: '/v1/quotes', key: t.keys.read, body: { programId: t.program.programId, lines: body.lines } }), 403);
    expectProblem(await call(app, { method: 'POST', url: '/v1/quotes', key: t.keys.pos, body: { programId: t.program.programId, lines: [{ sku: 'A', quantity: 1, unitPrice: -1 }] } }), 400);
    await expectVerified(laurel, t.tenantId);
  });

  it('the welcome bonus is paid when POST /v1/members enrols someone, once per Idempotency-Key', async () => {
    const t = await newTenant(laurel);
    await created(t, { name: 'Welcome', trigger: 'signup', effect: { type: 'fixed_points', points: 100 } });
    const key = idemKey();
    const body = { programId: t.program.programId, email: 'hello@example.com' };
    const a = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body, idempotencyKey: key });
    const b = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body, idempotencyKey: key });
    expect(a.statusCode, a.body).toBe(201);
    expect(b.json().memberId).toBe(a.json().memberId);
    const balance = (await call(app, { method: 'GET', url: `/v1/members/${a.json().memberId}/balances?wallet=points`, key: t.keys.read })).json().data[0];
    expect(balance).toMatchObject({ available: 100, lifetimeEarned: 100 });
    expectProblem(await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
      programId: t.program.programId, externalId: ext('signup'), type: 'signup', memberId: a.json().memberId,
    } }), 400, 'type');
    // a till cannot make someone gold; an admin can, and rules then read it
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'gold@example.com', tier: 'gold' } }), 403);
    const gold = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.admin, body: { programId: t.program.programId, email: 'gold@example.com', tier: 'gold', grade: 'a', birthday: '1990-04-30' } });
    // a calendar date stays a date, whatever the server's time zone
    expect(gold.json()).toMatchObject({ tier: 'gold', grade: 'a', birthday: '1990-04-30' });
    const goldBalance = (await call(app, { method: 'GET', url: `/v1/members/${gold.json().memberId}/balances?wallet=points`, key: t.keys.read })).json().data[0];
    expect(goldBalance).toMatchObject({ available: 100 });
    await expectVerified(laurel, t.tenantId);
  });

  it('a read key cannot create or change rules (403); another tenant’s rules and campaigns are 404', async () => {
    const a = await newTenant(laurel);
    const b = await newTenant(laurel);
    const r = await created(a, BASE);
    const c = (await call(app, { method: 'POST', url: `/v1/programs/${a.program.programId}/campaigns`, key: a.keys.admin, body: { name: 'A' } })).json();
    expectProblem(await createRule(a, BASE, a.keys.read), 403);
    expectProblem(await createRule(a, BASE, a.keys.pos), 403);
    expectProblem(await put(`/v1/rules/${r.ruleId}`, a.keys.read, BASE), 403);
    expectProblem(await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/disable`, key: a.keys.read }), 403);
    expectProblem(await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/dry-run`, key: a.keys.read, body: {} }), 403);
    expect((await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}`, key: a.keys.read })).statusCode).toBe(200);
    for (const [method, url] of [
      ['GET', `/v1/rules/${r.ruleId}`], ['GET', `/v1/rules/${r.ruleId}/versions`], ['POST', `/v1/rules/${r.ruleId}/disable`],
      ['POST', `/v1/rules/${r.ruleId}/dry-run`], ['GET', `/v1/campaigns/${c.campaignId}`],
      ['GET', `/v1/programs/${a.program.programId}/rules`], ['POST', `/v1/programs/${a.program.programId}/rules`],
    ] as const) {
      expectProblem(await call(app, { method, url, key: b.keys.admin, ...(method === 'POST' ? { body: url.endsWith('/rules') ? BASE : {} } : {}) }), 404);
    }
    expectProblem(await put(`/v1/rules/${r.ruleId}`, b.keys.admin, BASE), 404);
    expectProblem(await put(`/v1/campaigns/${c.campaignId}`, b.keys.admin, { name: 'B' }), 404);
    // B cannot put A's campaign on its own rule
    expectProblem(await createRule(b, { ...BASE, campaignId: c.campaignId }), 404, 'campaignId');
    expect((await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}`, key: a.keys.read })).json()).toMatchObject({ enabled: true, version: 1 });
  });

  it('dry-runs a draft over HTTP and writes nothing', async () => {
    const t = await newTenant(laurel);
    const r = await created(t, BASE);
    const m = await member(t);
    for (const unitPrice of [1000, 2550]) {
      await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
        programId: t.program.programId, externalId: ext('order'), type: 'purchase', memberId: m, lines: [{ sku: 'A', quantity: 1, unitPrice }],
      } });
    }
    // 3 per 100, newest first: floor(76.5) = 76 (actual 25), 30 (actual 10)
    const run = await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/dry-run`, key: t.keys.admin, body: {
      definition: { ...BASE, effect: { type: 'points_per_amount', points: 3, per: 100 } },
    } });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({ object: 'dry_run', summary: { events: 2, fired: 2, points: 30 + 76, actual: 35 } });
    expect(run.json().events.map((e: { points: number; actual: number }) => [e.points, e.actual])).toEqual([[76, 25], [30, 10]]);
    // with a lifetime cap of 50 per member: 30 first (the older event), then 20 of 76
    const capped = await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/dry-run`, key: t.keys.admin, body: {
      definition: { ...BASE, effect: { type: 'points_per_amount', points: 3, per: 100 }, limits: { perMember: [{ period: 'lifetime', points: 50 }] } },
    } });
    expect(capped.statusCode, capped.body).toBe(200);
    expect(capped.json().summary).toEqual({ events: 2, fired: 2, points: 50, actual: 35, uncapped: 106, limited: 1 });
    expect(capped.json().events.map((e: { points: number; uncapped: number; limitedBy: string[] }) => [e.points, e.uncapped, e.limitedBy]))
      .toEqual([[20, 76, ['rule_cap']], [30, 30, []]]);
    expectProblem(await call(app, { method: 'POST', url: `/v1/rules/${r.ruleId}/dry-run`, key: t.keys.admin, body: { definition: { ...BASE, condition: '1 +' } } }), 400, 'condition');
    expect((await call(app, { method: 'GET', url: `/v1/rules/${r.ruleId}`, key: t.keys.read })).json()).toMatchObject({ version: 1, effect: { points: 1 } });
    const balance = (await call(app, { method: 'GET', url: `/v1/members/${m}/balances?wallet=points`, key: t.keys.read })).json().data[0];
    expect(balance.lifetimeEarned).toBe(35);
    await expectVerified(laurel, t.tenantId);
  });
});
