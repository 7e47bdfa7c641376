// The Stripe adapter end to end, on PGlite and PostgreSQL: Stripe's signature scheme reproduced
// with node:crypto (valid, tampered, wrong secret, stale, two signatures while a secret is rolled),
// nothing stored when it fails; the test-mode lifecycle of test/fixtures/stripe replayed in
// order, twice, and shuffled with duplicates, ending in the state its newest event implies, with
// its transitions, fees and outbox messages.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStripeSignature } from '../src/core/memberships/stripe.js';
import { listOutbox } from '../src/db/jobs.js';
import { createMember } from '../src/services/members.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { onPostgres } from './support/laurel.js';

const FIXTURES = new URL('./fixtures/stripe/', import.meta.url);
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort().map((f) => readFileSync(new URL(f, FIXTURES), 'utf8'));
const SECRET = 'whsec_test_laurel_0123456789abcdef';
const OLD_SECRET = 'whsec_test_laurel_previous_secret';

/** Stripe's scheme: t=<unix seconds>,v1=hex(HMAC-SHA256(secret, `${t}.${payload}`)). */
const v1 = (secret: string, t: number, payload: string) => createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');
const header = (secret: string, t: number, payload: string) => `t=${t},v1=${v1(secret, t, payload)}`;

let laurel: TestLaurel;
let app: FastifyInstance;

beforeAll(async () => {
  ({ laurel, app } = await openTestApp());
  laurel.clock.set('2026-12-01T09:00:00Z');
});
afterAll(async () => {
  await app.close();
  await laurel.close();
});

const nowSeconds = () => Math.floor(laurel.clock.now().getTime() / 1000);

async function stripeTenant(member = 'erin'): Promise<TestTenant & { memberId: string }> {
  const t = await newTenant(laurel);
  const plan = await call(app, { method: 'POST', url: '/v1/membership-plans', key: t.keys.admin, body: {
    programId: t.program.programId, code: 'delivery-pass', name: 'Delivery pass', fee: 499, currency: 'EUR', period: 'monthly',
    benefits: { earnMultiplier: '2', flags: ['free_shipping'] }, stripePriceId: 'price_1QLaurelDeliveryPass',
  } });
  expect(plan.statusCode, plan.body).toBe(201);
  const set = await call(app, { method: 'PUT', url: `/v1/programs/${t.program.programId}/stripe`, key: t.keys.admin, body: { webhookSecret: SECRET } });
  expect(set.statusCode, set.body).toBe(200);
  const m = await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: member });
  return { ...t, memberId: m.memberId };
}

function post(t: TestTenant, payload: string, signature: string | null) {
  return app.inject({
    method: 'POST', url: `/v1/integrations/stripe/webhook?programId=${t.program.programId}`, payload,
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
  });
}
const send = (t: TestTenant, payload: string) => post(t, payload, header(SECRET, nowSeconds(), payload));

async function stored(t: TestTenant) {
  const count = async (table: 'memberships' | 'membership_payment_events' | 'membership_fees' | 'membership_transitions') =>
    Number((await laurel.db.selectFrom(table).select((e) => e.fn.countAll().as('n')).where('tenant_id', '=', t.tenantId).executeTakeFirstOrThrow()).n);
  return { memberships: await count('memberships'), events: await count('membership_payment_events'), fees: await count('membership_fees'), transitions: await count('membership_transitions') };
}

async function membershipOf(t: TestTenant) {
  const list = await call(app, { method: 'GET', url: `/v1/memberships?programId=${t.program.programId}`, key: t.keys.read });
  const id = (list.json() as { data: { membershipId: string }[] }).data[0]?.membershipId;
  if (!id) return null;
  return (await call(app, { method: 'GET', url: `/v1/memberships/${id}`, key: t.keys.read })).json() as Record<string, unknown> & {
    status: string; history: { from: string | null; to: string; cause: string; eventId: string | null }[]; fees: { amount: number; periodStart: string; periodEnd: string }[];
  };
}

describe('Stripe-Signature', () => {
  const payload = fixtures[2]!;
  const now = new Date('2026-12-01T09:00:00Z');
  const t = Math.floor(now.getTime() / 1000);

  it('accepts a valid signature, refuses a tampered payload, a wrong secret and a stale timestamp', () => {
    expect(verifyStripeSignature(header(SECRET, t, payload), payload, SECRET, now)).toEqual({ ok: true });
    expect(verifyStripeSignature(header(SECRET, t, payload), payload.replace('"amount_paid": 499', '"amount_paid": 49900'), SECRET, now).ok).toBe(false);
    expect(verifyStripeSignature(header('whsec_someone_else', t, payload), payload, SECRET, now).ok).toBe(false);
    expect(verifyStripeSignature(header(SECRET, t - 301, payload), payload, SECRET, now)).toEqual({ ok: false, reason: expect.stringMatching(/tolerance/) });
    expect(verifyStripeSignature(header(SECRET, t + 301, payload), payload, SECRET, now).ok).toBe(false);
    expect(verifyStripeSignature(header(SECRET, t - 299, payload), payload, SECRET, now).ok).toBe(true);
    expect(verifyStripeSignature(undefined, payload, SECRET, now).ok).toBe(false);
    expect(verifyStripeSignature(`t=${t}`, payload, SECRET, now).ok).toBe(false);
  });

  it('takes either of two v1 signatures while a secret is rolled', () => {
    const rolled = `t=${t},v1=${v1(OLD_SECRET, t, payload)},v1=${v1(SECRET, t, payload)}`;
    expect(verifyStripeSignature(rolled, payload, SECRET, now).ok).toBe(true);
    expect(verifyStripeSignature(rolled, payload, OLD_SECRET, now).ok).toBe(true);
    expect(verifyStripeSignature(rolled, payload, 'whsec_neither', now).ok).toBe(false);
    // a v0 (test-mode legacy) signature is not a v1
    expect(verifyStripeSignature(`t=${t},v0=${v1(SECRET, t, payload)}`, payload, SECRET, now).ok).toBe(false);
  });

  it('over HTTP: a bad or stale signature is 400 naming the header, and nothing is stored', async () => {
    const tenant = await stripeTenant();
    const body = fixtures[0]!;
    const bad = [
      null,
      header(SECRET, nowSeconds(), body.replace('erin', 'mallory')),
      header(OLD_SECRET, nowSeconds(), body),
      header(SECRET, nowSeconds() - 600, body),
      'v1=deadbeef',
    ];
    for (const signature of bad) {
      const r = await post(tenant, signature === null ? body : body, signature);
      expect(r.statusCode, String(signature)).toBe(400);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      expect((r.json() as { errors: { field: string }[] }).errors[0]!.field).toBe('Stripe-Signature');
    }
    // tampered: the signature was made over another body
    const tampered = await post(tenant, body.replace('erin', 'mallory'), header(SECRET, nowSeconds(), body));
    expect(tampered.statusCode).toBe(400);
    expect(await stored(tenant)).toEqual({ memberships: 0, events: 0, fees: 0, transitions: 0 });
    // a rolled secret: two v1 signatures, the program has the new one
    const rolled = await post(tenant, body, `t=${nowSeconds()},v1=${v1(OLD_SECRET, nowSeconds(), body)},v1=${v1(SECRET, nowSeconds(), body)}`);
    expect(rolled.statusCode, rolled.body).toBe(200);
    expect((await stored(tenant)).memberships).toBe(1);
    // the secret was set with an admin key: audited, without the secret
    const audit = (await call(app, { method: 'GET', url: '/v1/audit-log', key: tenant.keys.admin })).json().data as { path: string; request: unknown }[];
    const setting = audit.find((a) => a.path.endsWith('/stripe'))!;
    expect(setting.request).toEqual({ webhookSecret: '[redacted]' });
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });

  it('a program without a secret, another program, or not JSON: 400, nothing stored', async () => {
    const tenant = await stripeTenant();
    const other = await newTenant(laurel);
    const body = fixtures[0]!;
    const r = await app.inject({ method: 'POST', url: `/v1/integrations/stripe/webhook?programId=${other.program.programId}`, payload: body, headers: { 'content-type': 'application/json', 'stripe-signature': header(SECRET, nowSeconds(), body) } });
    expect(r.statusCode).toBe(400);
    const missing = await app.inject({ method: 'POST', url: '/v1/integrations/stripe/webhook', payload: body, headers: { 'content-type': 'application/json', 'stripe-signature': header(SECRET, nowSeconds(), body) } });
    expect(missing.statusCode).toBe(400);
    expect((missing.json() as { errors: { field: string }[] }).errors[0]!.field).toBe('programId');
    const notJson = await post(tenant, '{"id": "evt_', header(SECRET, nowSeconds(), '{"id": "evt_'));
    expect(notJson.statusCode).toBe(400);
    const notEvent = '{"id":"evt_1","type":"invoice.paid","created":1,"data":{}}';
    const noObject = await post(tenant, notEvent, header(SECRET, nowSeconds(), notEvent));
    expect(noObject.statusCode).toBe(400);
    expect(await stored(tenant)).toEqual({ memberships: 0, events: 0, fees: 0, transitions: 0 });
  });
});

describe('the test-mode lifecycle of test/fixtures/stripe', () => {
  it('replayed in order: every transition with its cause, three fees with their periods, one message per transition', async () => {
    const t = await stripeTenant();
    const outcomes: string[] = [];
    for (const payload of fixtures) {
      const r = await send(t, payload);
      expect(r.statusCode, r.body).toBe(200);
      outcomes.push(`${(r.json() as { type: string }).type} ${(r.json() as { outcome: string }).outcome} ${(r.json() as { membership: { status: string } }).membership.status}`);
    }
    expect(outcomes).toEqual([
      'checkout.session.completed applied active',
      'customer.subscription.created unchanged active',
      'invoice.paid unchanged active',
      'invoice.payment_failed applied past_due',
      // Stripe moved the period on while the payment was retried: recorded, no message
      'customer.subscription.updated applied past_due',
      'invoice.paid applied active',
      'customer.subscription.updated unchanged active',
      'invoice.paid applied active',
      'customer.subscription.updated unchanged active',
      'customer.subscription.updated applied cancelled',
      'customer.subscription.deleted applied expired',
    ]);
    const m = (await membershipOf(t))!;
    expect(m).toMatchObject({ status: 'expired', entitled: false, provider: 'stripe', externalId: 'sub_1QLaurelDeliveryPass01', customerId: 'cus_QLaurelErin01', memberId: t.memberId });
    expect(m.history.map((h) => `${h.from}→${h.to} ${h.cause}`)).toEqual([
      'null→active stripe:checkout.session.completed',
      'active→past_due stripe:invoice.payment_failed',
      'past_due→past_due stripe:customer.subscription.updated',
      'past_due→active stripe:invoice.paid',
      'active→active stripe:invoice.paid',
      'active→cancelled stripe:customer.subscription.updated',
      'cancelled→expired stripe:customer.subscription.deleted',
    ]);
    expect(m.fees.map((f) => [f.amount, f.periodStart, f.periodEnd])).toEqual([
      [499, '2026-09-01T10:00:00.000Z', '2026-10-01T10:00:00.000Z'],
      [499, '2026-10-01T10:00:00.000Z', '2026-11-01T10:00:00.000Z'],
      [499, '2026-11-01T10:00:00.000Z', '2026-12-01T10:00:00.000Z'],
    ]);
    const messages = (await listOutbox(laurel.db, t.tenantId)).filter((o) => o.type.startsWith('membership.')).map((o) => o.type);
    expect(messages).toEqual(['membership.started', 'membership.past_due', 'membership.renewed', 'membership.renewed', 'membership.cancelled', 'membership.expired']);

    // Stripe sends them all again: each answers what it did, nothing new is written
    const before = await stored(t);
    for (const payload of fixtures) {
      const r = await send(t, payload);
      expect((r.json() as { duplicate: boolean }).duplicate).toBe(true);
    }
    expect(await stored(t)).toEqual(before);
  });

  it('delivered shuffled, with duplicates, any prefix of it ends where its newest event says', async () => {
    // the status after the first k events, delivered in order
    const expected = ['active', 'active', 'active', 'past_due', 'past_due', 'active', 'active', 'active', 'active', 'cancelled', 'expired'];
    let serial = 0;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: fixtures.length }).chain((k) => fc.tuple(
        fc.constant(k),
        fc.shuffledSubarray([...fixtures.slice(0, k), ...fixtures.slice(0, k)], { minLength: k }).filter((s) => new Set(s).size === k),
      )),
      async ([k, sent]) => {
        const t = await stripeTenant(`erin-${++serial}`);
        for (const payload of sent) {
          const own = payload.replaceAll('"erin"', `"erin-${serial}"`);
          const r = await send(t, own);
          expect(r.statusCode, r.body).toBe(200);
        }
        expect((await membershipOf(t))!.status).toBe(expected[k - 1]);
      },
    ), { numRuns: 15 });
  });
});

describe.skipIf(!onPostgres)('Stripe delivering at once (PostgreSQL)', () => {
  it('every event of the lifecycle, twice, all concurrently: one membership, in the state of the newest event, each fee once', async () => {
    for (let round = 0; round < 3; round++) {
      const t = await stripeTenant(`erin-c${round}`);
      const own = fixtures.map((f) => f.replaceAll('"erin"', `"erin-c${round}"`));
      const answers = await Promise.all([...own, ...own].map((payload) => send(t, payload)));
      for (const a of answers) expect(a.statusCode, a.body).toBe(200);
      const m = (await membershipOf(t))!;
      expect(m.status).toBe('expired');
      expect(m.fees.map((f) => f.amount)).toEqual([499, 499, 499]);
      expect(await stored(t)).toMatchObject({ memberships: 1, events: fixtures.length, fees: 3 });
      expect(answers.filter((a) => (a.json() as { duplicate: boolean }).duplicate)).toHaveLength(fixtures.length);
    }
  });
});
