// Tiers over HTTP: who may set a ladder and read a tier, what a bad ladder is told, and the
// upgrade an event's answer carries.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRule } from '../src/services/rules.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

const LADDER = {
  metric: 'points', window: { kind: 'calendar_year' }, graceDays: 30,
  tiers: [
    { code: 'member', name: 'Member', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 100, benefits: { earnMultiplier: '1.5', upgradeBonus: 10, flags: ['free_shipping'] } },
    { code: 'gold', name: 'Gold', threshold: 500, benefits: { earnMultiplier: 2, upgradeBonus: 50 } },
  ],
};

const put = (t: TestTenant, body: unknown, key = t.keys.admin) =>
  app.inject({ method: 'PUT', url: `/v1/programs/${t.program.programId}/tier-ladder`, headers: { authorization: `Bearer ${key}` }, payload: body as object });

async function setup() {
  const t = await newTenant(laurel);
  await createRule(laurel, t.tenantId, t.program.programId, { name: 'per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
  const r = await put(t, LADDER);
  expect(r.statusCode, r.body).toBe(200);
  const m = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'ann' } })).json();
  return { t, memberId: m.memberId as string };
}

describe('the ladder', () => {
  it('is set by an admin and read back normalised; a read or pos key may not set it', async () => {
    const { t } = await setup();
    const r = await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/tier-ladder`, key: t.keys.read });
    expect(r.json()).toMatchObject({
      object: 'tier_ladder', metric: 'points', review: { kind: 'period_end' }, graceDays: 30, upgradeRate: 'next_event',
      tiers: [{ code: 'member' }, { code: 'silver', benefits: { earnMultiplier: '1.5', upgradeBonus: 10 } }, { code: 'gold', benefits: { earnMultiplier: '2' } }],
    });
    expect((await put(t, LADDER, t.keys.read)).statusCode).toBe(403);
    expect((await put(t, LADDER, t.keys.pos)).statusCode).toBe(403);
  });

  it.each([
    ['thresholds that do not increase', { ...LADDER, tiers: [LADDER.tiers[0], { ...LADDER.tiers[1], threshold: 600 }, LADDER.tiers[2]] }, 'tiers[2].threshold'],
    ['a first tier above 0', { ...LADDER, tiers: [{ ...LADDER.tiers[0], threshold: 5 }] }, 'tiers[0].threshold'],
    ['an unknown metric', { ...LADDER, metric: 'likes' }, 'metric'],
    ['an anniversary review of a calendar year', { ...LADDER, review: { kind: 'anniversary' } }, 'review.kind'],
    ['a multiplier below 1', { ...LADDER, tiers: [LADDER.tiers[0], { ...LADDER.tiers[1], benefits: { earnMultiplier: '0.5' } }] }, 'tiers[1].benefits.earnMultiplier'],
    ['a bonus on the first tier', { ...LADDER, tiers: [{ ...LADDER.tiers[0], benefits: { upgradeBonus: 5 } }] }, 'tiers[0].benefits.upgradeBonus'],
  ])('refuses %s with a 400 naming the field, and changes nothing', async (_name, body, field) => {
    const { t } = await setup();
    const r = await put(t, body);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/tier-ladder`, key: t.keys.read })).json().tiers[1].threshold).toBe(100);
  });

  it('is 404 for a program without one, and after it is removed', async () => {
    const t = await newTenant(laurel);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/tier-ladder`, key: t.keys.read })).statusCode).toBe(404);
    const { t: u, memberId } = await setup();
    expect((await call(app, { method: 'DELETE', url: `/v1/programs/${u.program.programId}/tier-ladder`, key: u.keys.admin })).json()).toMatchObject({ object: 'tier_ladder' });
    expect((await call(app, { method: 'GET', url: `/v1/programs/${u.program.programId}/tier-ladder`, key: u.keys.read })).statusCode).toBe(404);
    expect((await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier`, key: u.keys.read })).statusCode).toBe(404);
  });
});

describe('a member', () => {
  it('is upgraded by the event that crosses a threshold: the answer says so, and tier, progress and history follow', async () => {
    const { t, memberId } = await setup();
    const r = await call(app, {
      method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false,
      body: { programId: t.program.programId, memberId, type: 'purchase', externalId: 'o-1', lines: [{ sku: 'X', quantity: 1, unitPrice: 12_000 }] },
    });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json()).toMatchObject({ points: 120, tier: { from: 'member', to: 'silver', bonus: 10, reason: 'upgrade: metric 120 ≥ 100 (silver)' } });
    const tier = (await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier`, key: t.keys.read })).json();
    expect(tier).toMatchObject({ object: 'member_tier', tier: { code: 'silver', benefits: { flags: ['free_shipping'] } }, metric: 120, nextTier: 'gold', missing: 380, missingToKeep: 0 });
    // Paris: the review on 1 January 2027 at 00:00 (23:00Z) can start a 30-day grace: secured until 31 January 00:00
    expect(tier.securedUntil).toBe('2027-01-30T23:00:00.000Z');
    const history = (await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier-history?limit=1`, key: t.keys.read })).json();
    expect(history).toMatchObject({ hasMore: true, data: [{ object: 'tier_change', change: 'up', from: 'member', to: 'silver' }] });
    const next = (await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier-history?limit=1&cursor=${history.nextCursor}`, key: t.keys.read })).json();
    expect(next).toMatchObject({ hasMore: false, data: [{ change: 'placed', to: 'member' }] });
    // the same event sent again answers the same, upgrade included, and pays nothing twice
    const again = await call(app, {
      method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false,
      body: { programId: t.program.programId, memberId, type: 'purchase', externalId: 'o-1', lines: [{ sku: 'X', quantity: 1, unitPrice: 12_000 }] },
    });
    expect(again.json().tier).toEqual(r.json().tier);
    expect((await call(app, { method: 'GET', url: `/v1/members/${memberId}/balances?wallet=points`, key: t.keys.read })).json().data[0].available).toBe(130);
  });

  it('reads its own tier and history with its token, and no one else\'s; only an admin sets a tier', async () => {
    const { t, memberId } = await setup();
    const other = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: 'ben' } })).json().memberId;
    const { token } = (await call(app, { method: 'POST', url: `/v1/members/${memberId}/tokens`, key: t.keys.pos, body: {} })).json();
    expect((await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier`, key: token })).statusCode).toBe(200);
    expect((await call(app, { method: 'GET', url: `/v1/members/${memberId}/tier-history`, key: token })).statusCode).toBe(200);
    expect((await call(app, { method: 'GET', url: `/v1/members/${other}/tier`, key: token })).statusCode).toBe(403);
    expect((await call(app, { method: 'PATCH', url: `/v1/members/${memberId}`, key: t.keys.pos, body: { tier: 'gold' } })).statusCode).toBe(403);
    const bad = await call(app, { method: 'PATCH', url: `/v1/members/${memberId}`, key: t.keys.admin, body: { tier: 'platinum' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('tier');
    expect((await call(app, { method: 'PATCH', url: `/v1/members/${memberId}`, key: t.keys.admin, body: { tier: 'gold' } })).json().tier).toBe('gold');
  });
});
