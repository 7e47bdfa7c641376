// The analytics API over HTTP: every endpoint answers, who may read and change what (keys and
// console roles), tenants never see each other's figures, and bad input is refused naming the field.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type Role } from '../src/services/users.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

const REPORTS = ['overview', 'points', 'tiers', 'cohorts', 'rewards', 'roi', 'settings'] as const;
const url = (t: TestTenant, report: string, query = '') => `/v1/programs/${t.program.programId}/analytics/${report}${query}`;

let n = 0;
async function session(t: TestTenant, role: Role): Promise<{ cookie: string; csrf: string }> {
  const email = `${role}-${++n}@example.com`;
  await createUser(laurel, t.tenantId, { email, name: role, role, password: 'correct horse battery' });
  const r = await app.inject({ method: 'POST', url: '/v1/session', payload: { email, password: 'correct horse battery' } });
  return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: r.json().csrfToken };
}

/** A tenant whose program has one member who bought for €42 (1 point per euro). */
async function tenantWithSales(): Promise<TestTenant> {
  const t = await newTenant(laurel, { enrollmentMode: 'universal' });
  const rule = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: {
    name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 },
  } });
  expect(rule.statusCode, rule.body).toBe(201);
  const e = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, body: {
    programId: t.program.programId, member: { externalId: `buyer-${++n}` }, type: 'purchase', externalId: `order-${n}`,
    lines: [{ sku: 'GOODS', quantity: 1, unitPrice: 4200 }],
  } });
  expect(e.statusCode, e.body).toBe(201);
  return t;
}

describe('analytics over HTTP', () => {
  it('answers every report to a read key, with the figures of the program', async () => {
    const t = await tenantWithSales();
    for (const report of REPORTS) {
      const r = await call(app, { method: 'GET', url: url(t, report), key: t.keys.read });
      expect(r.statusCode, `${report}: ${r.body}`).toBe(200);
      expect(r.json().programId).toBe(t.program.programId);
    }
    const o = (await call(app, { method: 'GET', url: url(t, 'overview'), key: t.keys.read })).json();
    expect(o).toMatchObject({
      object: 'analytics_overview', members: 1, newMembers: 1, timeZone: 'Europe/Paris',
      groups: { members: { orders: 1, revenue: 4200, averageOrderValue: 4200 } }, points: { issued: 42 },
      membershipFees: { paid: 0, refunded: 0, net: 0 }, cost: { membershipFees: 0 },
      referrals: { joined: 0, conversionRate: 0 }, nps: { responses: 0, score: null },
    });
    const p = (await call(app, { method: 'GET', url: url(t, 'points', '?bucket=month'), key: t.keys.read })).json();
    expect(p).toMatchObject({ object: 'analytics_points', bucket: 'month', buckets: [{ start: '2026-01-01', issued: 42, redeemed: 0, expired: 0 }] });
    const c = (await call(app, { method: 'GET', url: url(t, 'cohorts'), key: t.keys.read })).json();
    expect(c.cohorts).toEqual([{ month: '2026-01', members: 1, retention: [{ offset: 0, active: 1, rate: 1 }] }]);
    const roi = (await call(app, { method: 'GET', url: url(t, 'roi'), key: t.keys.read })).json();
    expect(roi).toMatchObject({ object: 'analytics_roi', method: 'welch-normal-95', members: { customers: 1, meanSpend: 4200 }, control: { customers: 0 }, roi: null });
  });

  it('settings: admin keys, owners and marketers change them; finance and viewers read everything and change nothing; POS keys read nothing', async () => {
    const t = await tenantWithSales();
    const put = (headers: Record<string, string>, body: unknown) =>
      app.inject({ method: 'PUT', url: url(t, 'settings'), headers, payload: body as object });
    const byKey = await put({ authorization: `Bearer ${t.keys.admin}` }, { controlShareBp: 1000, grossMarginBp: 4000 });
    expect(byKey.statusCode, byKey.body).toBe(200);
    expect(byKey.json()).toMatchObject({ object: 'analytics_settings', controlShareBp: 1000, grossMarginBp: 4000 });
    for (const role of ['finance', 'viewer'] as const) {
      const s = await session(t, role);
      for (const report of REPORTS) {
        expect((await app.inject({ method: 'GET', url: url(t, report), headers: { cookie: s.cookie } })).statusCode, `${role} ${report}`).toBe(200);
      }
      expect((await put({ cookie: s.cookie, 'x-csrf-token': s.csrf }, { controlShareBp: 0 })).statusCode, role).toBe(403);
    }
    const marketer = await session(t, 'marketer');
    const changed = await put({ cookie: marketer.cookie, 'x-csrf-token': marketer.csrf }, { grossMarginBp: 3500 });
    expect(changed.json()).toMatchObject({ controlShareBp: 1000, grossMarginBp: 3500 });
    for (const report of REPORTS) expect((await call(app, { method: 'GET', url: url(t, report), key: t.keys.pos })).statusCode, report).toBe(403);
    expect((await put({ authorization: `Bearer ${t.keys.read}` }, { controlShareBp: 0 })).statusCode).toBe(403);
    expect((await call(app, { method: 'GET', url: url(t, 'overview') })).statusCode).toBe(401);
    // the change is in the audit log, with what it was before
    const audit = (await call(app, { method: 'GET', url: '/v1/audit-log?path=analytics', key: t.keys.admin })).json();
    expect(audit.data[0]).toMatchObject({ method: 'PUT', before: { grossMarginBp: 4000 }, after: { grossMarginBp: 3500 } });
  });

  it("a tenant sees none of another's figures", async () => {
    const a = await tenantWithSales();
    const b = await newTenant(laurel);
    for (const report of REPORTS) {
      const r = await call(app, { method: 'GET', url: url(a, report), key: b.keys.admin });
      expect(r.statusCode, report).toBe(404);
      expect(r.json().errors[0].field).toBe('programId');
    }
    const r = await app.inject({ method: 'PUT', url: url(a, 'settings'), headers: { authorization: `Bearer ${b.keys.admin}` }, payload: { controlShareBp: 5000 } });
    expect(r.statusCode).toBe(404);
    expect((await call(app, { method: 'GET', url: url(a, 'settings'), key: a.keys.read })).json().controlShareBp).toBe(0);
  });

  it('refuses bad input with a problem naming the field, and writes nothing', async () => {
    const t = await tenantWithSales();
    const bad: [string, string][] = [
      [url(t, 'overview', '?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 'from'],
      [url(t, 'overview', '?from=yesterday'), 'from'],
      [url(t, 'overview', '?to=2026-13-01T00:00:00Z'), 'to'],
      [url(t, 'cohorts', '?from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 'from'],
      [url(t, 'points', '?bucket=year'), 'bucket'],
      [url(t, 'points', '?bucket=day&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 'bucket'],
      [url(t, 'roi', '?colour=blue'), 'colour'],
      ['/v1/programs/not-a-uuid/analytics/overview', 'programId'],
    ];
    for (const [u, field] of bad) {
      const r = await call(app, { method: 'GET', url: u, key: t.keys.read });
      expect(r.statusCode, u).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json().errors.map((e: { field: string }) => e.field), u).toContain(field);
    }
    for (const [body, field] of [
      [{ controlShareBp: 5001 }, 'controlShareBp'], [{ controlShareBp: 10.5 }, 'controlShareBp'], [{ grossMarginBp: -1 }, 'grossMarginBp'],
      [{ grossMarginBp: '40%' }, 'grossMarginBp'], [{ salt: 'x' }, 'salt'], [{ holdoutSalt: '' }, 'holdoutSalt'], [{ holdoutSalt: 'x'.repeat(101) }, 'holdoutSalt'],
    ] as const) {
      const r = await app.inject({ method: 'PUT', url: url(t, 'settings'), headers: { authorization: `Bearer ${t.keys.admin}` }, payload: body });
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await call(app, { method: 'GET', url: url(t, 'settings'), key: t.keys.read })).json()).toMatchObject({ controlShareBp: 0, grossMarginBp: 10_000, holdoutSalt: null, updatedAt: null });
  });
});
