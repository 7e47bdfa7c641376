// Achievements over HTTP: every endpoint, as a back office, a till and a member portal meet them;
// bad definitions refused with problem+json naming the field; keys, member tokens and tenants
// kept in their lanes; the ledger sound after rewards.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackfills } from '../src/services/achievements.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

let serial = 0;
const ext = (p: string) => `${p}-${process.pid}-${++serial}`;

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors.map((e: { field: string }) => e.field), r.body).toContain(field);
}

const COUNTER = { code: 'regular', name: 'Regular', kind: 'counter', target: 2, reward: { type: 'points', points: 100 } };
const create = (t: TestTenant, body: unknown, key = t.keys.admin) => call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/achievements`, key, body });

async function member(t: TestTenant): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: ext('m') } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().memberId;
}

const purchase = (t: TestTenant, memberId: string, externalId = ext('o'), occurredAt?: string) => call(app, {
  method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false,
  body: { programId: t.program.programId, memberId, externalId, type: 'purchase', ...(occurredAt ? { occurredAt } : {}), lines: [{ sku: 'LATTE', category: 'coffee', quantity: 1, unitPrice: 450 }] },
});

describe('definitions', () => {
  it('are created, read, versioned, listed, disabled and enabled', async () => {
    const t = await newTenant(laurel);
    const r = await create(t, COUNTER);
    expect(r.statusCode, r.body).toBe(201);
    const a = r.json();
    expect(a).toMatchObject({ object: 'achievement', version: 1, enabled: true, code: 'regular', kind: 'counter', metric: 'count', eventType: 'purchase', target: 2, reward: { type: 'points', points: 100 } });
    const put = await app.inject({ method: 'PUT', url: `/v1/achievements/${a.achievementId}`, headers: { authorization: `Bearer ${t.keys.admin}` }, payload: { ...COUNTER, target: 3 } });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ version: 2, target: 3 });
    expect((await call(app, { method: 'GET', url: `/v1/achievements/${a.achievementId}?version=1`, key: t.keys.read })).json()).toMatchObject({ version: 1, target: 2 });
    const versions = (await call(app, { method: 'GET', url: `/v1/achievements/${a.achievementId}/versions`, key: t.keys.read })).json();
    expect(versions.data.map((v: { version: number; target: number }) => [v.version, v.target])).toEqual([[1, 2], [2, 3]]);
    expect((await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/disable`, key: t.keys.admin })).json()).toMatchObject({ enabled: false });
    expect((await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/achievements`, key: t.keys.read })).json().data).toHaveLength(1);
    expect((await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/enable`, key: t.keys.admin })).json()).toMatchObject({ enabled: true });
    expectProblem(await create(t, COUNTER), 409, 'code');
  });

  it('bad input is refused with 400 naming the field, and nothing is written', async () => {
    const t = await newTenant(laurel);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...COUNTER, filter: 'order.totl > 5' }, 'filter'],
      [{ ...COUNTER, filter: 'order.total' }, 'filter'],
      [{ ...COUNTER, filter: 'member.stats.purchases > 3' }, 'filter'],
      [{ ...COUNTER, target: -3 }, 'target'],
      [{ ...COUNTER, target: 0 }, 'target'],
      [{ ...COUNTER, kind: 'challenge', window: { from: '2027-02-01T00:00:00Z', to: '2027-01-01T00:00:00Z' } }, 'window.to'],
      [{ ...COUNTER, kind: 'challenge', window: { from: '2027-02-01T00:00:00', to: '2027-03-01T00:00:00Z' } }, 'window.from'],
      [{ ...COUNTER, kind: 'challenge' }, 'window'],
      [{ ...COUNTER, kind: 'challenge', window: { from: '2027-02-01T00:00:00Z', to: '2027-03-01T00:00:00Z' }, segment: 'member.tier = "gold"' }, 'segment'],
      [{ ...COUNTER, kind: 'streak' }, 'streakUnit'],
      [{ ...COUNTER, kind: 'streak', streakUnit: 'fortnight' }, 'streakUnit'],
      [{ ...COUNTER, kind: 'milestone' }, 'target'],
      [{ code: 'm', name: 'M', kind: 'milestone', thresholds: { list: [100, 50] } }, 'thresholds.list[1]'],
      [{ code: 'm', name: 'M', kind: 'milestone', thresholds: { every: -50 } }, 'thresholds.every'],
      [{ ...COUNTER, reward: { type: 'points', points: -5 } }, 'reward.points'],
      [{ ...COUNTER, reward: { type: 'reward', rewardId: '01a0cd99-bdc0-700a-8634-8bd66e584e98' } }, 'reward.rewardId'],
      [{ ...COUNTER, resetEvery: 'month' }, 'resetEvery'],
      [{ ...COUNTER, stampCard: true, repeatable: true }, 'reward.type'],
      [{ ...COUNTER, metric: 'spend', eventType: 'review' }, 'metric'],
      [{ ...COUNTER, code: 'Not A Code' }, 'code'],
      [{ ...COUNTER, colour: 'blue' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const r = await create(t, body);
      expect(r.statusCode, `${field}: ${r.body}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, `${field}: ${r.body}`).toBeLessThan(500);
      expectProblem(r, r.statusCode, field);
    }
    expect((await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/achievements`, key: t.keys.read })).json().data).toEqual([]);
    expectProblem(await call(app, { method: 'GET', url: '/v1/achievements/not-an-id', key: t.keys.read }), 400, 'achievementId');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/achievements/report?from=yesterday`, key: t.keys.read }), 400);
  });
});

describe('members, report, backfill', () => {
  it('a member reads their own badges with their token, the report counts unlocks, a backfill recounts, and the ledger stays sound', async () => {
    const t = await newTenant(laurel);
    await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { name: 'pts', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } } });
    const m = await member(t);
    const other = await member(t);
    await purchase(t, m);
    const a = (await create(t, COUNTER)).json();
    const hidden = (await create(t, { ...COUNTER, code: 'secret', hidden: true, target: 1 })).json();
    await purchase(t, m);
    const { token } = (await call(app, { method: 'POST', url: `/v1/members/${m}/tokens`, key: t.keys.pos, body: { ttlSeconds: 600 } })).json();
    const mine = await call(app, { method: 'GET', url: `/v1/members/${m}/achievements`, key: token });
    expect(mine.statusCode, mine.body).toBe(200);
    const byCode = Object.fromEntries(mine.json().data.map((x: { code: string }) => [x.code, x]));
    expect(byCode.regular).toMatchObject({ unlocked: false, current: 1, target: 2, next: { remaining: 1, unit: 'events' } });
    expect(byCode.secret).toMatchObject({ unlocked: true, hidden: true });
    const theirs = await call(app, { method: 'GET', url: `/v1/members/${other}/achievements`, key: t.keys.read });
    expect(theirs.json().data.map((x: { code: string }) => x.code)).toEqual(['regular']);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${other}/achievements`, key: token }), 403);
    const report = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/achievements/report`, key: t.keys.read })).json();
    expect(report.data.find((r: { code: string }) => r.code === 'secret')).toMatchObject({ unlocks: 1, members: 1, points: 100 });
    expect(report.data.find((r: { code: string }) => r.code === 'regular')).toMatchObject({ unlocks: 0 });
    const bf = await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/backfills`, key: t.keys.admin });
    expect(bf.statusCode, bf.body).toBe(202);
    expect(bf.json()).toMatchObject({ status: 'pending', membersDone: 0 });
    await runBackfills(laurel);
    const after = (await call(app, { method: 'GET', url: `/v1/achievement-backfills/${bf.json().backfillId}`, key: t.keys.read })).json();
    expect(after).toMatchObject({ status: 'done', membersDone: 2, unlocksFound: 1 });
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/achievements`, key: token })).json().data.find((x: { code: string }) => x.code === 'regular'))
      .toMatchObject({ unlocked: true, current: 2 });
    expect(hidden.hidden).toBe(true);
    await expectVerified(laurel, t.tenantId);
  });

  it('a manual adjustment moves the balance milestones watch: a rise is told and paid, a replay tells nothing, a fall lets the threshold be told again', async () => {
    const t = await newTenant(laurel);
    const ms = await create(t, { code: 'hundred', name: 'Hundred', kind: 'milestone', thresholds: { every: 100 }, reward: { type: 'points', points: 10 } });
    expect(ms.statusCode, ms.body).toBe(201);
    expect(ms.json()).toMatchObject({ kind: 'milestone', reward: { type: 'points', points: 10 } });
    expectProblem(await create(t, { code: 'back', name: 'B', kind: 'milestone', thresholds: { every: 10 }, revokeOnReturn: true }), 400, 'revokeOnReturn');
    const m = await member(t);
    const adjust = (amount: number, key: string) => call(app, { method: 'POST', url: `/v1/members/${m}/adjustments`, key: t.keys.admin, idempotencyKey: key, body: { amount, reason: 'goodwill' } });
    expect((await adjust(150, 'adj-1')).statusCode).toBe(201);
    expect((await adjust(150, 'adj-1')).statusCode).toBe(201);
    const told = async () => (await laurel.db.selectFrom('outbox').select('payload').where('tenant_id', '=', t.tenantId).where('type', '=', 'milestone.reached').orderBy('message_id').execute())
      .map((r) => (r.payload as { threshold: number; points: number }));
    expect((await told()).map((x) => [x.threshold, x.points])).toEqual([[100, 10]]);
    const balance = async () => (await call(app, { method: 'GET', url: `/v1/members/${m}/balances?wallet=points`, key: t.keys.read })).json().data[0].available;
    expect(await balance()).toBe(160);
    await adjust(-100, 'adj-2');
    await adjust(50, 'adj-3');
    expect((await told()).map((x) => x.threshold)).toEqual([100, 100]);
    expect(await balance()).toBe(120);
    await expectVerified(laurel, t.tenantId);
  });

  it('keys stay in their lanes and tenants never see each other', async () => {
    const t = await newTenant(laurel);
    const u = await newTenant(laurel);
    const a = (await create(t, COUNTER)).json();
    const m = await member(t);
    expectProblem(await create(t, COUNTER, t.keys.read), 403);
    expectProblem(await create(t, COUNTER, t.keys.pos), 403);
    expectProblem(await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/disable`, key: t.keys.pos }), 403);
    expectProblem(await call(app, { method: 'GET', url: `/v1/achievements/${a.achievementId}` }), 401);
    for (const url of [`/v1/achievements/${a.achievementId}`, `/v1/achievements/${a.achievementId}/versions`, `/v1/members/${m}/achievements`,
      `/v1/programs/${t.program.programId}/achievements`, `/v1/programs/${t.program.programId}/achievements/report`]) {
      expectProblem(await call(app, { method: 'GET', url, key: u.keys.admin }), 404);
    }
    expectProblem(await create(u, COUNTER, u.keys.admin).then(() => call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/backfills`, key: u.keys.admin })), 404);
    expectProblem(await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/enable`, key: u.keys.admin }), 404);
    const bf = (await call(app, { method: 'POST', url: `/v1/achievements/${a.achievementId}/backfills`, key: t.keys.admin })).json();
    expectProblem(await call(app, { method: 'GET', url: `/v1/achievement-backfills/${bf.backfillId}`, key: u.keys.read }), 404);
    // u's program has its own achievement of the same code; t's member does not see it.
    expect((await call(app, { method: 'GET', url: `/v1/members/${m}/achievements`, key: t.keys.read })).json().data.map((x: { achievementId: string }) => x.achievementId)).toEqual([a.achievementId]);
    // A reward of another tenant cannot be an achievement's reward.
    const foreign = await call(app, { method: 'POST', url: `/v1/programs/${u.program.programId}/rewards`, key: u.keys.admin, body: { code: 'x', name: 'X', value: { type: 'free_product', sku: 'X' }, cost: 10 } });
    expect(foreign.statusCode, foreign.body).toBe(201);
    expectProblem(await create(t, { ...COUNTER, code: 'card', repeatable: true, stampCard: true, reward: { type: 'reward', rewardId: foreign.json().rewardId } }), 404, 'reward.rewardId');
  });
});
