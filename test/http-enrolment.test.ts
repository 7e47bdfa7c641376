// Enrolment by event, over HTTP: a universal program's first event naming someone it does not know
// enrols them, and says so (enrolled, the new member and its identifiers, so a mistyped e-mail shows);
// a program may refuse to enrol by e-mail alone. And a welcome (signup event) that failed after its
// member was created is sent again by the welcomes job, once.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EarningStrategy } from '../src/core/rules/strategies.js';
import { buildApp } from '../src/http/app.js';
import { runJobNow } from '../src/jobs/runner.js';
import { createApiKey } from '../src/services/api-keys.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { call, idemKey } from './support/http.js';
import { basicProgram, expectVerified, openTestLaurel } from './support/laurel.js';

/** A welcome bonus whose calculation fails while `down` is set: the failure after the member is committed. */
let down = false;
const flakyWelcome: EarningStrategy<{ points: bigint }> = {
  type: 'flaky_welcome',
  description: 'fixed points, unless the test has taken it down',
  phase: 'base',
  triggers: ['signup'],
  parse: (params) => ({ points: BigInt(params.points as number) }),
  wallet: () => null,
  award({ params }) {
    if (down) throw new Error('the welcome calculation is down');
    return { points: params.points, detail: {} };
  },
};

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
let app: FastifyInstance;
beforeAll(async () => {
  laurel = await openTestLaurel('2026-06-01T10:00:00Z', { strategies: [flakyWelcome] });
  app = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1_000_000 });
});
afterAll(async () => { await app.close(); await laurel.close(); });

async function universal(settings: { enrollByEmail?: boolean } = {}) {
  const tenant = await createTenant(laurel, { name: 'Enrolment', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, enrollmentMode: 'universal', ...settings });
  const admin = (await createApiKey(laurel, tenant.tenantId, { name: 'admin', scopes: ['admin'] })).secret;
  await call(app, { method: 'POST', url: `/v1/programs/${program.programId}/rules`, key: admin, body: { name: '1 per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } } });
  return { tenantId: tenant.tenantId, programId: program.programId, admin };
}

const purchase = (programId: string, externalId: string, member: Record<string, string>, unitPrice = 2000) =>
  ({ programId, externalId, type: 'purchase', member, lines: [{ sku: 'BEANS', quantity: 1, unitPrice }] });

const membersWithEmail = async (tenantId: string, email: string) =>
  (await laurel.db.selectFrom('members').select('member_id').where('tenant_id', '=', tenantId).where('email', '=', email).execute()).length;

describe('a universal program enrolling by event', () => {
  it("says so: enrolled, and the new member with the identifiers it gave; the member records the event; the next event enrols nobody", async () => {
    const t = await universal();
    const first = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-1', { email: 'Ada@Exampel.com' }) });
    expect(first.statusCode, first.body).toBe(201);
    const answer = first.json();
    expect(answer).toMatchObject({
      points: 20, enrolled: true,
      member: { memberId: answer.event.memberId, email: 'ada@exampel.com', externalId: null, phone: null, cardCode: null },
    });
    const member = await call(app, { method: 'GET', url: `/v1/members/${answer.event.memberId}`, key: t.admin });
    expect(member.json()).toMatchObject({ email: 'ada@exampel.com', enrolledByEvent: 'o-1' });
    // resent: the same answer, enrolment included
    const again = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-1', { email: 'Ada@Exampel.com' }) });
    expect(again.json()).toEqual(answer);
    const second = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-2', { email: 'ada@exampel.com' }) });
    expect(second.json()).toMatchObject({ enrolled: false, member: null, event: { memberId: answer.event.memberId } });
    // a member enrolled by a request records no event
    const asked = await call(app, { method: 'POST', url: '/v1/members', key: t.admin, body: { programId: t.programId, email: 'bob@example.com' } });
    expect(asked.json()).toMatchObject({ enrolledByEvent: null });
    await expectVerified(laurel, t.tenantId);
  });

  it('with enrollByEmail false, refuses an unknown member named by e-mail alone (404 naming member.email) and writes nothing', async () => {
    const t = await universal();
    const patched = await call(app, { method: 'PATCH', url: `/v1/programs/${t.programId}`, key: t.admin, body: { enrollByEmail: false } });
    expect(patched.json()).toMatchObject({ enrollmentMode: 'universal', enrollByEmail: false });
    const refused = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-1', { email: 'ada@exampel.com' }) });
    expect(refused.statusCode, refused.body).toBe(404);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json().errors).toEqual([{ field: 'member.email', message: expect.stringContaining('enrollByEmail') }]);
    expect(await membersWithEmail(t.tenantId, 'ada@exampel.com')).toBe(0);
    const events = await laurel.db.selectFrom('events').select('event_id').where('tenant_id', '=', t.tenantId).execute();
    expect(events).toHaveLength(0);
    // an externalId is a deliberate identifier: it still enrols
    const withId = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-2', { externalId: 'cust-9', email: 'ada@example.com' }) });
    expect(withId.json()).toMatchObject({ enrolled: true, member: { externalId: 'cust-9', email: 'ada@example.com' } });
    // and a member enrolled explicitly is found by e-mail
    await call(app, { method: 'POST', url: '/v1/members', key: t.admin, body: { programId: t.programId, email: 'bob@example.com' } });
    const known = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-3', { email: 'bob@example.com' }) });
    expect(known.json()).toMatchObject({ enrolled: false, points: 20 });
    await expectVerified(laurel, t.tenantId);
  });

  it('a program is created with enrollByEmail true unless told otherwise, and refuses a value that is not a boolean', async () => {
    const t = await universal();
    const body = { name: 'Strict', enrollmentMode: 'universal', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt' };
    expect((await call(app, { method: 'POST', url: '/v1/programs', key: t.admin, body })).json()).toMatchObject({ enrollByEmail: true });
    expect((await call(app, { method: 'POST', url: '/v1/programs', key: t.admin, body: { ...body, enrollByEmail: false } })).json()).toMatchObject({ enrollByEmail: false });
    const bad = await call(app, { method: 'POST', url: '/v1/programs', key: t.admin, body: { ...body, enrollByEmail: 'no' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('enrollByEmail');
  });
});

describe('a welcome that failed after its member was created', () => {
  const signups = async (tenantId: string) =>
    (await laurel.db.selectFrom('events').select('event_id').where('tenant_id', '=', tenantId).where('type', '=', 'signup').execute()).length;
  const balance = async (t: { admin: string }, memberId: string) =>
    (await call(app, { method: 'GET', url: `/v1/members/${memberId}/balances?wallet=points`, key: t.admin })).json().data[0].available;

  it('leaves the member enrolled (201), and the welcomes job sends it once, by POST /v1/members or by a first event', async () => {
    const t = await universal();
    const rule = await call(app, { method: 'POST', url: `/v1/programs/${t.programId}/rules`, key: t.admin, body: { name: 'Welcome', trigger: 'signup', effect: { type: 'flaky_welcome', points: 100 } } });
    expect(rule.statusCode, rule.body).toBe(201);
    down = true;
    const asked = await call(app, { method: 'POST', url: '/v1/members', key: t.admin, body: { programId: t.programId, externalId: 'cust-1' }, idempotencyKey: idemKey() });
    expect(asked.statusCode, asked.body).toBe(201);
    const bySale = await call(app, { method: 'POST', url: '/v1/events', key: t.admin, body: purchase(t.programId, 'o-1', { email: 'new@example.com' }) });
    expect(bySale.statusCode, bySale.body).toBe(201);
    expect(bySale.json()).toMatchObject({ enrolled: true, points: 20 });
    const ids = [asked.json().memberId, bySale.json().event.memberId];
    expect(await signups(t.tenantId)).toBe(0);
    // still down: the job tries, fails, and tries again an hour later
    laurel.clock.advance(61_000);
    expect((await runJobNow(laurel, 'welcomes')).stats).toMatchObject({ welcomed: 0, failed: 2 });
    down = false;
    expect((await runJobNow(laurel, 'welcomes')).stats).toMatchObject({ welcomed: 0, failed: 0 });
    laurel.clock.advance(3_600_000);
    expect((await runJobNow(laurel, 'welcomes')).stats).toMatchObject({ welcomed: 2, failed: 0 });
    expect((await runJobNow(laurel, 'welcomes')).stats).toMatchObject({ welcomed: 0 });
    expect(await signups(t.tenantId)).toBe(2);
    expect([await balance(t, ids[0]), await balance(t, ids[1])]).toEqual([100, 120]);
    await expectVerified(laurel, t.tenantId);
  });

  it('a welcome that worked is not due again', async () => {
    const t = await universal();
    await call(app, { method: 'POST', url: `/v1/programs/${t.programId}/rules`, key: t.admin, body: { name: 'Welcome', trigger: 'signup', effect: { type: 'flaky_welcome', points: 100 } } });
    const asked = await call(app, { method: 'POST', url: '/v1/members', key: t.admin, body: { programId: t.programId, externalId: 'cust-2' } });
    expect(await balance(t, asked.json().memberId)).toBe(100);
    laurel.clock.advance(61_000);
    const due = await laurel.db.selectFrom('members').select('welcome_due_at').where('tenant_id', '=', t.tenantId).executeTakeFirstOrThrow();
    expect(due.welcome_due_at).toBeNull();
    expect(await signups(t.tenantId)).toBe(1);
  });
});
