// The API the console's rules, campaigns, tiers, grades, webhooks and jobs pages read and write:
// tier and grade movements across a program, the replay of a webhook delivery, the tenant's view
// of jobs, and who may change rules and campaigns. Each with role enforcement, tenant isolation
// and bad input answered with a 400 naming the field.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSchedules, runJobNow } from '../src/jobs/runner.js';
import { createRule } from '../src/services/rules.js';
import { createUser, type Role } from '../src/services/users.js';
import { deliverWebhooks } from '../src/services/webhooks.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

const PASSWORD = 'console pages password';
let n = 0;
const ROLES: Role[] = ['owner', 'marketer', 'support', 'finance', 'viewer'];

interface Signed { cookie: string; csrf: string }

async function signedIn(t: TestTenant, role: Role): Promise<Signed> {
  const email = `${role}-${++n}@pages.example.com`;
  await createUser(laurel, t.tenantId, { email, name: role, role, password: PASSWORD });
  const r = await app.inject({ method: 'POST', url: '/v1/session', payload: { email, password: PASSWORD } });
  expect(r.statusCode, r.body).toBe(201);
  return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: r.json().csrfToken };
}

function as(s: Signed, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) {
  const headers: Record<string, string> = { cookie: s.cookie };
  if (method !== 'GET') headers['x-csrf-token'] = s.csrf;
  if (method === 'POST') headers['idempotency-key'] = idemKey();
  return app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
}

const fields = (body: string): string[] => (JSON.parse(body).errors ?? []).map((e: { field: string }) => e.field);

const LADDER = {
  metric: 'points', window: { kind: 'calendar_year' },
  tiers: [{ code: 'member', name: 'Member', threshold: 0 }, { code: 'silver', name: 'Silver', threshold: 100 }, { code: 'gold', name: 'Gold', threshold: 500 }],
};

async function enrol(t: TestTenant, cardCode: string): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, cardCode, externalId: cardCode.toLowerCase() } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().memberId;
}

async function purchase(t: TestTenant, memberId: string, externalId: string, unitPrice: number) {
  const r = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
    programId: t.program.programId, memberId, type: 'purchase', externalId, lines: [{ sku: 'X', quantity: 1, unitPrice }],
  } });
  expect(r.statusCode, r.body).toBe(201);
}

async function tieredTenant() {
  const t = await newTenant(laurel);
  await createRule(laurel, t.tenantId, t.program.programId, { name: 'per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
  const r = await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/tier-ladder`, key: t.keys.admin, body: LADDER });
  expect(r.statusCode, r.body).toBe(200);
  return t;
}

describe('tier movements', () => {
  it("list the program's tier changes newest first, with who moved and why, filtered by change, tier or member, a page at a time", async () => {
    const t = await tieredTenant();
    const ann = await enrol(t, 'ANN-1');
    const bob = await enrol(t, 'BOB-1');
    await purchase(t, ann, 'o-1', 12_000); // 120: silver
    await purchase(t, bob, 'o-2', 60_000); // 600: gold
    const url = `/v1/programs/${t.program.programId}/tier-movements`;
    const all = await call(app, { method: 'GET', url, key: t.keys.read });
    expect(all.statusCode, all.body).toBe(200);
    const ups = all.json().data.filter((m: { change: string }) => m.change === 'up');
    expect(ups.map((m: { memberId: string; from: string; to: string; cardCode: string }) => [m.memberId, m.cardCode, m.from, m.to])).toEqual([[bob, 'BOB-1', 'member', 'gold'], [ann, 'ANN-1', 'member', 'silver']]);
    expect(ups[0]).toMatchObject({ object: 'tier_movement', externalId: 'bob-1', reason: expect.stringContaining('gold') });
    expect(ups[0].eventId).toMatch(/^[0-9a-f-]{36}$/);

    const gold = (await call(app, { method: 'GET', url: `${url}?tier=gold`, key: t.keys.read })).json().data;
    expect(gold.map((m: { memberId: string }) => m.memberId)).toEqual([bob]);
    const onlyUps = (await call(app, { method: 'GET', url: `${url}?change=up`, key: t.keys.read })).json().data;
    expect(onlyUps).toHaveLength(2);
    const anns = (await call(app, { method: 'GET', url: `${url}?memberId=${ann}&change=up`, key: t.keys.read })).json().data;
    expect(anns.map((m: { to: string }) => m.to)).toEqual(['silver']);

    const first = (await call(app, { method: 'GET', url: `${url}?change=up&limit=1`, key: t.keys.read })).json();
    expect(first).toMatchObject({ hasMore: true, data: [{ memberId: bob }] });
    const second = (await call(app, { method: 'GET', url: `${url}?change=up&limit=1&cursor=${first.nextCursor}`, key: t.keys.read })).json();
    expect(second).toMatchObject({ hasMore: false, nextCursor: null, data: [{ memberId: ann }] });
  });

  it("every console role may read them; another tenant's program is 404 and shows nothing", async () => {
    const t = await tieredTenant();
    const other = await newTenant(laurel);
    await purchase(t, await enrol(t, 'CAT-1'), 'o-1', 20_000);
    const url = `/v1/programs/${t.program.programId}/tier-movements`;
    for (const role of ROLES) expect((await as(await signedIn(t, role), 'GET', url)).statusCode, role).toBe(200);
    expect((await call(app, { method: 'GET', url, key: other.keys.admin })).statusCode).toBe(404);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${other.program.programId}/tier-movements`, key: other.keys.read })).json().data).toEqual([]);
  });

  it.each([
    ['an unknown change', '?change=sideways', 'change'],
    ['a tier code that cannot be one', '?tier=Gold!', 'tier'],
    ['a member id that is no id', '?memberId=bob', 'memberId'],
    ['a cursor it did not give out', '?cursor=nope', 'cursor'],
    ['a limit above 100', '?limit=1000', 'limit'],
  ])('refuses %s with a 400 naming the field', async (_name, query, field) => {
    const t = await tieredTenant();
    const r = await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/tier-movements${query}`, key: t.keys.read });
    expect(r.statusCode, r.body).toBe(400);
    expect(fields(r.body)).toContain(field);
  });
});

describe('grade movements', () => {
  it("list the program's grade changes newest first, filtered by grade or member; isolated by tenant; bad input named", async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    const scheme = { kind: 'expression', grades: [{ code: 'buyer', condition: 'stats.purchases > 0' }, { code: 'none', condition: 'true' }] };
    expect((await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/grading`, key: t.keys.admin, body: scheme })).statusCode).toBe(200);
    const ann = await enrol(t, 'G-ANN');
    const bob = await enrol(t, 'G-BOB');
    await purchase(t, bob, 'g-1', 1000);
    laurel.clock.advance(60_000);
    expect((await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/grading/recompute`, key: t.keys.admin })).statusCode).toBe(200);
    const url = `/v1/programs/${t.program.programId}/grade-movements`;
    const all = (await call(app, { method: 'GET', url, key: t.keys.read })).json();
    expect(all.data.map((m: { memberId: string; toGrade: string }) => [m.memberId, m.toGrade]).sort()).toEqual([[ann, 'none'], [bob, 'buyer']].sort());
    expect(all.data[0]).toMatchObject({ object: 'grade_movement', fromGrade: null, reason: expect.any(String) });
    expect((await call(app, { method: 'GET', url: `${url}?grade=buyer`, key: t.keys.read })).json().data.map((m: { memberId: string }) => m.memberId)).toEqual([bob]);
    expect((await call(app, { method: 'GET', url: `${url}?memberId=${ann}`, key: t.keys.read })).json().data.map((m: { toGrade: string }) => m.toGrade)).toEqual(['none']);
    for (const role of ROLES) expect((await as(await signedIn(t, role), 'GET', url)).statusCode, role).toBe(200);
    expect((await call(app, { method: 'GET', url, key: other.keys.read })).statusCode).toBe(404);
    const bad = await call(app, { method: 'GET', url: `${url}?grade=A-B`, key: t.keys.read });
    expect(bad.statusCode).toBe(400);
    expect(fields(bad.body)).toContain('grade');
  });
});

describe('replaying a webhook delivery', () => {
  const allowing = <L extends TestLaurel>(l: L): L => ({ ...l, settings: { ...l.settings, allowPrivateWebhooks: true } });
  const answering = (status: number): typeof fetch => async () => new Response('', { status });

  async function deliveredOnce(t: TestTenant) {
    const e = await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: 'https://crm.example.org/laurel' } });
    expect(e.statusCode, e.body).toBe(201);
    const endpointId = e.json().endpointId as string;
    const sent = await call(app, { method: 'POST', url: `/v1/webhook-endpoints/${endpointId}/test`, key: t.keys.admin });
    expect(sent.statusCode, sent.body).toBe(202);
    await deliverWebhooks(allowing(laurel), laurel.clock.now(), () => {}, { fetch: answering(200) });
    return { endpointId, deliveryId: sent.json().deliveryId as string };
  }

  const deliveries = async (t: TestTenant, endpointId: string) =>
    (await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries`, key: t.keys.admin })).json().data;

  it('queues a delivered delivery again with a fresh round of attempts; the next run sends the same message once more; replaying it while pending changes nothing', async () => {
    const t = await newTenant(laurel);
    const { endpointId, deliveryId } = await deliveredOnce(t);
    expect((await deliveries(t, endpointId))[0]).toMatchObject({ deliveryId, status: 'delivered', attempts: 1 });
    const owner = await signedIn(t, 'owner');
    const url = `/v1/webhook-endpoints/${endpointId}/deliveries/${deliveryId}/replay`;
    const r = await as(owner, 'POST', url);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ object: 'webhook_delivery', deliveryId, status: 'pending', attempts: 0, deliveredAt: null, requeued: true });
    const again = await call(app, { method: 'POST', url, key: t.keys.admin });
    expect(again.json()).toMatchObject({ status: 'pending', requeued: false });

    let sends = 0;
    const counting: typeof fetch = async () => { sends++; return new Response('', { status: 200 }); };
    await deliverWebhooks(allowing(laurel), laurel.clock.now(), () => {}, { fetch: counting });
    expect(sends).toBe(1);
    const log = await deliveries(t, endpointId);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ deliveryId, status: 'delivered', attempts: 1 });

    // the audit log names who replayed what
    const audit = (await call(app, { method: 'GET', url: '/v1/audit-log', key: t.keys.admin })).json().data;
    expect(audit.filter((a: { path: string }) => a.path === url).map((a: { actorName: string }) => a.actorName)).toEqual(expect.arrayContaining([expect.stringContaining('owner-')]));
  });

  it('the same Idempotency-Key answers the first replay again', async () => {
    const t = await newTenant(laurel);
    const { endpointId, deliveryId } = await deliveredOnce(t);
    const url = `/v1/webhook-endpoints/${endpointId}/deliveries/${deliveryId}/replay`;
    const key = idemKey();
    const first = await call(app, { method: 'POST', url, key: t.keys.admin, idempotencyKey: key });
    const second = await call(app, { method: 'POST', url, key: t.keys.admin, idempotencyKey: key });
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.json()).toEqual(first.json());
    expect(second.json().requeued).toBe(true);
  });

  it('is for owners and admin keys only; another tenant gets 404; bad ids are named', async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    const { endpointId, deliveryId } = await deliveredOnce(t);
    const url = `/v1/webhook-endpoints/${endpointId}/deliveries/${deliveryId}/replay`;
    for (const role of ['marketer', 'support', 'finance', 'viewer'] as const) {
      expect((await as(await signedIn(t, role), 'POST', url)).statusCode, role).toBe(403);
    }
    for (const key of [t.keys.read, t.keys.pos]) expect((await call(app, { method: 'POST', url, key })).statusCode).toBe(403);
    expect((await deliveries(t, endpointId))[0].status).toBe('delivered');
    expect((await call(app, { method: 'POST', url, key: other.keys.admin })).statusCode).toBe(404);
    const unknown = await call(app, { method: 'POST', url: `/v1/webhook-endpoints/${endpointId}/deliveries/${endpointId}/replay`, key: t.keys.admin });
    expect(unknown.statusCode).toBe(404);
    const bad = await call(app, { method: 'POST', url: `/v1/webhook-endpoints/${endpointId}/deliveries/not-an-id/replay`, key: t.keys.admin });
    expect(bad.statusCode).toBe(400);
    expect(fields(bad.body)).toContain('deliveryId');
    expect((await deliveries(t, endpointId))[0].status).toBe('delivered');
  });
});

describe("the tenant's view of jobs", () => {
  it('shows owners and admin keys each schedule and the status of its recent runs, without what a run did, its error or its worker', async () => {
    const t = await newTenant(laurel);
    await installSchedules(laurel);
    await runJobNow(laurel, 'settle');
    const r = await as(await signedIn(t, 'owner'), 'GET', '/v1/job-schedules?runs=2');
    expect(r.statusCode, r.body).toBe(200);
    const settle = r.json().data.find((j: { job: string }) => j.job === 'settle');
    expect(settle).toMatchObject({ object: 'job_schedule', enabled: true, running: false, cron: expect.any(String) });
    expect(settle.recentRuns[0]).toMatchObject({ trigger: 'manual', status: 'succeeded' });
    expect(settle.recentRuns.length).toBeLessThanOrEqual(2);
    for (const run of r.json().data.flatMap((j: { recentRuns: object[] }) => j.recentRuns)) {
      expect(Object.keys(run).sort()).toEqual(['finishedAt', 'runId', 'startedAt', 'status', 'trigger']);
    }
    expect((await call(app, { method: 'GET', url: '/v1/job-schedules', key: t.keys.admin })).statusCode).toBe(200);
  });

  it('is refused to the other roles and to read and pos keys; a bad runs is named', async () => {
    const t = await newTenant(laurel);
    for (const role of ['marketer', 'support', 'finance', 'viewer'] as const) {
      expect((await as(await signedIn(t, role), 'GET', '/v1/job-schedules')).statusCode, role).toBe(403);
    }
    for (const key of [t.keys.read, t.keys.pos]) expect((await call(app, { method: 'GET', url: '/v1/job-schedules', key })).statusCode).toBe(403);
    // the operator's full view stays the operator's
    expect((await as(await signedIn(t, 'owner'), 'GET', '/v1/jobs')).statusCode).toBe(403);
    const bad = await call(app, { method: 'GET', url: '/v1/job-schedules?runs=99', key: t.keys.admin });
    expect(bad.statusCode).toBe(400);
    expect(fields(bad.body)).toContain('runs');
  });
});

describe('rules and campaigns from the console', () => {
  async function ruleAndCampaign(t: TestTenant) {
    const rule = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rules`, key: t.keys.admin, body: { name: 'Per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } } });
    const campaign = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/campaigns`, key: t.keys.admin, body: { name: 'Spring', budget: 1000 } });
    return { ruleId: rule.json().ruleId as string, campaignId: campaign.json().campaignId as string };
  }
  const ruleV = (name: string) => ({ name, trigger: 'purchase', condition: 'order.total >= 1000', effect: { type: 'points_per_amount', points: 2, per: 100 } });

  it('owners and marketers save a new version of a rule, toggle it and write campaigns; the others are refused and nothing changes', async () => {
    const t = await newTenant(laurel);
    const { ruleId, campaignId } = await ruleAndCampaign(t);
    for (const role of ROLES) {
      const s = await signedIn(t, role);
      const allowed = role === 'owner' || role === 'marketer';
      const expected = (ok: number) => (allowed ? ok : 403);
      expect((await as(s, 'PUT', `/v1/rules/${ruleId}`, ruleV(`by ${role}`))).statusCode, role).toBe(expected(200));
      expect((await as(s, 'POST', `/v1/rules/${ruleId}/disable`)).statusCode, role).toBe(expected(200));
      expect((await as(s, 'POST', `/v1/rules/${ruleId}/enable`)).statusCode, role).toBe(expected(200));
      expect((await as(s, 'POST', `/v1/programs/${t.program.programId}/campaigns`, { name: `by ${role}` })).statusCode, role).toBe(expected(201));
      expect((await as(s, 'PUT', `/v1/campaigns/${campaignId}`, { name: `by ${role}`, budget: 2000 })).statusCode, role).toBe(expected(200));
    }
    const versions = (await call(app, { method: 'GET', url: `/v1/rules/${ruleId}/versions`, key: t.keys.read })).json().data;
    expect(versions.map((v: { version: number; name: string }) => [v.version, v.name])).toEqual([[1, 'Per euro'], [2, 'by owner'], [3, 'by marketer']]);
    const campaigns = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/campaigns`, key: t.keys.read })).json().data;
    expect(campaigns.map((c: { name: string }) => c.name).sort()).toEqual(['by marketer', 'by marketer', 'by owner'].sort());
  });

  it("refuses a bad rule version or campaign with a 400 naming the field, and another tenant's with 404", async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    const { ruleId, campaignId } = await ruleAndCampaign(t);
    const s = await signedIn(t, 'marketer');
    const cel = await as(s, 'PUT', `/v1/rules/${ruleId}`, { ...ruleV('x'), condition: 'order.totl > 1' });
    expect(cel.statusCode).toBe(400);
    expect(fields(cel.body)).toContain('condition');
    const budget = await as(s, 'PUT', `/v1/campaigns/${campaignId}`, { name: 'Spring', budget: -5 });
    expect(budget.statusCode).toBe(400);
    expect(fields(budget.body).join()).toContain('budget');
    const noName = await as(s, 'POST', `/v1/programs/${t.program.programId}/campaigns`, { budget: 10 });
    expect(noName.statusCode).toBe(400);
    expect(fields(noName.body).join()).toContain('name');
    expect((await call(app, { method: 'GET', url: `/v1/rules/${ruleId}/versions`, key: t.keys.read })).json().data).toHaveLength(1);
    expect((await call(app, { method: 'PUT', url: `/v1/rules/${ruleId}`, key: other.keys.admin, body: ruleV('theirs') })).statusCode).toBe(404);
    expect((await call(app, { method: 'GET', url: `/v1/campaigns/${campaignId}`, key: other.keys.admin })).statusCode).toBe(404);
  });
});
