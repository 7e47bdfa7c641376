// Paid memberships: plans, the members' memberships with their history and fees, cancellation,
// the generic payment-event API and the Stripe webhook (signed by Stripe, not by a key).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PERIODS, STATUSES } from '../../core/memberships/lifecycle.js';
import type { Laurel } from '../../services/context.js';
import {
  cancelMembership, createPlan, getMembership, getPlan, listMemberships, listPlans, memberMemberships, receiveStripeEvent, recordPayment, setStripeSettings,
  type MembershipView, type Plan,
} from '../../services/memberships.js';
import type { Access } from '../auth.js';
import { clientKey, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { jsonBodyParser } from '../json-body.js';
import { httpProblem } from '../problems.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const PLANS: Access = { scopes: ['admin'], roles: ['owner', 'marketer'] };
const OWNER: Access = { scopes: ['admin'], roles: ['owner'] };
const SUPPORT: Access = { scopes: ['admin'], roles: ['owner', 'support'] };

const Money = (description: string) => Type.Integer({ minimum: 0, maximum: 100_000_000_000, description });
const Decimal = (description: string) => Type.Union([Type.String({ pattern: '^\\d{1,9}(\\.\\d{1,4})?$' }), Type.Number({ minimum: 0 })], { description });
const Code = Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$' });

const BenefitsSchema = Type.Object({
  earnMultiplier: Type.Optional(Nullable(Decimal('multiplies base points while the membership is in force (a `membership_multiplier` rule applies it); at least 1'))),
  percentBack: Type.Optional(Nullable(Decimal('percent of the money paid given back as store credit (a `membership_percent_back` rule applies it)'))),
  tier: Type.Optional(Nullable(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description: "a tier of the program's ladder the member holds while the membership entitles them (see tierMode)" }))),
  tierMode: Type.Optional(Type.String({ enum: ['floor', 'override'], description: "how `tier` acts while the membership entitles: floor (default), the member holds at least this tier; override, exactly this tier. When it stops entitling, the member is back on the tier they qualify for" })),
  flags: Type.Optional(Type.Array(Code, { maxItems: 20, description: 'free_shipping and other flags, in member.membership.flags while in force' })),
  includedRewards: Type.Optional(Type.Array(Type.Object({
    rewardId: Id('a reward of the catalog: a discount, free product, free shipping, gift card or experience'),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'instances each paid period (1 by default)' })),
  }, { additionalProperties: false }), { maxItems: 10, description: 'catalog rewards issued free with each paid period (the first payment and every renewal), once per period whatever the provider resends' })),
}, { additionalProperties: false });

const PlanSchema = Type.Object({
  object: Type.Literal('membership_plan'),
  planId: Id('the plan'),
  programId: Id('its program'),
  code: Type.String({ examples: ['delivery-pass'] }),
  name: Type.String({ examples: ['Delivery pass'] }),
  fee: Type.Integer({ description: 'minor units per period (once, for lifetime)', examples: [499] }),
  currency: Type.String({ examples: ['EUR'] }),
  period: Type.String({ enum: [...PERIODS] }),
  trialDays: Type.Integer(),
  graceDays: Type.Integer({ description: 'days a past_due membership (or an unrenewed one, or an unpaid trial) keeps its benefits' }),
  benefits: Type.Object({
    earnMultiplier: Nullable(Type.String()), percentBack: Nullable(Type.String()), tier: Nullable(Type.String()),
    tierMode: Type.String({ enum: ['floor', 'override'] }), flags: Type.Array(Type.String()),
    includedRewards: Type.Array(Type.Object({ rewardId: Id('the reward'), quantity: Type.Integer({ description: 'instances each paid period' }) })),
  }),
  stripePriceId: Nullable(Type.String({ description: 'the Stripe price of its subscriptions' })),
  createdAt: Timestamp('when it was created'),
});

const MembershipSchema = Type.Object({
  object: Type.Literal('membership'),
  membershipId: Id('the membership'),
  programId: Id('its program'),
  memberId: Id('the member'),
  planId: Id('the plan'),
  status: Type.String({ enum: [...STATUSES] }),
  entitled: Type.Boolean({ description: 'whether its benefits apply now' }),
  since: Timestamp('when it started'),
  periodStart: Nullable(Timestamp('the paid period')),
  periodEnd: Nullable(Timestamp('the end of the paid period; null: for life')),
  trialEndsAt: Nullable(Timestamp('the end of the trial')),
  pastDueSince: Nullable(Timestamp('when a payment first failed')),
  cancelAtPeriodEnd: Type.Boolean(),
  expiresAt: Nullable(Timestamp('when the benefits stop (the expiry job then marks it expired); null: never')),
  provider: Type.String({ examples: ['stripe'] }),
  externalId: Type.String({ description: "the provider's subscription (or one-off payment)", examples: ['sub_1QxYz'] }),
  customerId: Nullable(Type.String({ description: "the provider's customer" })),
  createdAt: Timestamp('when Laurel first heard of it'),
  updatedAt: Timestamp('when it last changed'),
});

const TransitionSchema = Type.Object({
  transitionId: Id('the transition'),
  from: Nullable(Type.String({ description: 'null: it started' })),
  to: Type.String(),
  cause: Type.String({ description: 'what moved it: stripe:invoice.paid, acme-billing:failed, cancel at period end, expiry: benefits ended…' }),
  eventId: Nullable(Type.String({ description: "the provider's event" })),
  at: Timestamp('when it happened'),
  recordedAt: Timestamp('when Laurel recorded it'),
});

const FeeSchema = Type.Object({
  feeId: Id('the fee'),
  amount: Type.Integer({ description: 'minor units; negative for a refund' }),
  currency: Type.String(),
  periodStart: Nullable(Timestamp('the period it pays for')),
  periodEnd: Nullable(Timestamp('its end; null: for life')),
  provider: Type.String(),
  externalId: Type.String({ description: 'the invoice or payment' }),
  eventId: Type.String(),
  occurredAt: Timestamp('when it was paid'),
});

const PaymentResultSchema = Type.Object({
  object: Type.Literal('membership_payment_event'),
  provider: Type.String(),
  eventId: Type.String(),
  outcome: Type.String({ description: 'applied; unchanged (nothing a reader sees moved); stale (older than what was applied); ignored or refused, with why' }),
  duplicate: Type.Boolean({ description: 'this event was taken before: this is what it did then' }),
  membership: Nullable(MembershipSchema),
});

const iso = (d: Date | null) => d?.toISOString() ?? null;
const presentPlan = (p: Plan) => ({
  object: 'membership_plan' as const, planId: p.planId, programId: p.programId, code: p.code, name: p.name, fee: Number(p.fee), currency: p.currency,
  period: p.period, trialDays: p.trialDays, graceDays: p.graceDays, benefits: p.benefits, stripePriceId: p.stripePriceId, createdAt: p.createdAt.toISOString(),
});
const presentMembership = (m: MembershipView) => ({
  object: 'membership' as const, membershipId: m.membershipId, programId: m.programId, memberId: m.memberId, planId: m.planId, status: m.status,
  entitled: m.entitled, since: m.since.toISOString(), periodStart: iso(m.periodStart), periodEnd: iso(m.periodEnd), trialEndsAt: iso(m.trialEndsAt),
  pastDueSince: iso(m.pastDueSince), cancelAtPeriodEnd: m.cancelAtPeriodEnd, expiresAt: iso(m.expiresAt), provider: m.provider,
  externalId: m.externalId, customerId: m.customerId, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString(),
});

const rawBodies = new WeakMap<object, string>();

export const membershipRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/membership-plans', {
    schema: {
      operationId: 'createMembershipPlan', summary: 'Create a membership plan', tags: ['memberships'],
      description: "A paid plan of a program: its fee and period (monthly, annual, lifetime), an optional trial, the grace a past_due membership keeps its benefits, and the benefits. Rules apply the earn multiplier and percent back (effects `membership_multiplier`, `membership_percent_back`) and read `member.membership` (plan, status, since, active, flags).",
      headers: OptionalIdempotencyHeader,
      body: Type.Object({
        programId: Id('the program'),
        code: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'its code, unique in the program' }),
        name: Type.String({ minLength: 1, maxLength: 200 }),
        fee: Money('minor units per period (once, for lifetime)'),
        currency: Type.String({ pattern: '^[A-Z]{3}$' }),
        period: Type.String({ enum: [...PERIODS] }),
        trialDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
        graceDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 90, description: 'default 3' })),
        benefits: Type.Optional(BenefitsSchema),
        stripePriceId: Type.Optional(Nullable(Type.String({ pattern: '^[A-Za-z0-9_]{1,255}$', description: 'the Stripe price (price_…) its subscriptions use' }))),
      }, {
        additionalProperties: false,
        examples: [{ programId: '01a20c82-4d1f-7939-b601-6e85e79978fe', code: 'delivery-pass', name: 'Delivery pass', fee: 499, currency: 'EUR', period: 'monthly', trialDays: 14, benefits: { earnMultiplier: '2', flags: ['free_shipping'] }, stripePriceId: 'price_1QdeliveryPass' }],
      }),
      response: { 201: described(PlanSchema, 'The plan.'), ...errors(403, 404, 409) },
    },
    config: { access: PLANS },
  }, async (request, reply) => reply.status(201).send(presentPlan(await createPlan(laurel, tenantOf(request), request.body, clientKey(request)))));

  app.get('/membership-plans', {
    schema: {
      operationId: 'listMembershipPlans', summary: 'List membership plans', tags: ['memberships'], description: "The tenant's plans, of one program if asked.",
      querystring: Type.Object({ programId: Type.Optional(Id('only this program')) }, { additionalProperties: false }),
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(PlanSchema) }), 'The plans.'), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listPlans(laurel, tenantOf(request), request.query.programId)).map(presentPlan) }));

  app.get('/membership-plans/:planId', {
    schema: {
      operationId: 'getMembershipPlan', summary: 'Get a membership plan', tags: ['memberships'], description: 'Its fee, period and benefits.',
      params: Type.Object({ planId: Id('the plan') }),
      response: { 200: described(PlanSchema, 'The plan.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentPlan(await getPlan(laurel, tenantOf(request), request.params.planId)));

  app.get('/memberships', {
    schema: {
      operationId: 'listMemberships', summary: 'List memberships', tags: ['memberships'], description: 'Newest first; by program, member or status.',
      querystring: Type.Object({
        programId: Type.Optional(Id('only this program')), memberId: Type.Optional(Id('only this member')),
        status: Type.Optional(Type.String({ enum: [...STATUSES] })), ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(MembershipSchema, 'a page of memberships'), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listMemberships(laurel, tenantOf(request), {
      ...(q.programId ? { programId: q.programId } : {}), ...(q.memberId ? { memberId: q.memberId } : {}), ...(q.status ? { status: q.status } : {}),
      limit: limit + 1, before: decodeCursor(q.cursor),
    });
    const p = page(rows, limit, (m) => m.membershipId);
    return { ...p, data: p.data.map(presentMembership) };
  });

  app.get('/members/:memberId/membership', {
    schema: {
      operationId: 'listMemberMemberships', summary: "A member's memberships", tags: ['memberships'],
      description: "The member's memberships, newest first, each with its plan's code, name and benefits and whether they apply now: what a member portal shows. A member token may read its own.",
      params: Type.Object({ memberId: Id('the member') }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('list'),
          data: Type.Array(Type.Intersect([MembershipSchema, Type.Object({ plan: Type.Object({ code: Type.String(), name: Type.String(), benefits: PlanSchema.properties.benefits }) })])),
        }), "The member's memberships (at most 20)."),
        ...errors(403, 404),
      },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const rows = await memberMemberships(laurel, tenantOf(request), request.params.memberId);
    return { object: 'list' as const, data: rows.map((m) => ({ ...presentMembership(m), plan: { code: m.plan.code, name: m.plan.name, benefits: m.plan.benefits } })) };
  });

  app.get('/memberships/:membershipId', {
    schema: {
      operationId: 'getMembership', summary: 'Get a membership', tags: ['memberships'],
      description: 'Its state, whether its benefits apply now, every transition with its cause and time, and the fees paid (membership revenue with its period).',
      params: Type.Object({ membershipId: Id('the membership') }),
      response: {
        200: described(Type.Intersect([MembershipSchema, Type.Object({ history: Type.Array(TransitionSchema), fees: Type.Array(FeeSchema) })]), 'The membership with its history and fees.'),
        ...errors(403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const m = await getMembership(laurel, tenantOf(request), request.params.membershipId);
    return {
      ...presentMembership(m),
      history: m.history.map((t) => ({ ...t, at: t.at.toISOString(), recordedAt: t.recordedAt.toISOString() })),
      fees: m.fees.map((f) => ({ ...f, amount: Number(f.amount), periodStart: iso(f.periodStart), periodEnd: iso(f.periodEnd), occurredAt: f.occurredAt.toISOString() })),
    };
  });

  app.post('/memberships/:membershipId/cancel', {
    schema: {
      operationId: 'cancelMembership', summary: 'Cancel a membership', tags: ['memberships'],
      description: 'At period end (the default: the benefits last until the paid period ends) or at once. A provider subscription should be cancelled at the provider too; its events then agree.',
      headers: OptionalIdempotencyHeader,
      params: Type.Object({ membershipId: Id('the membership') }),
      body: Type.Object({
        atPeriodEnd: Type.Optional(Type.Boolean({ description: 'default true' })),
        reason: Type.Optional(Type.String({ maxLength: 200 })),
      }, { additionalProperties: false }),
      response: { 200: described(MembershipSchema, 'The membership, cancelled.'), ...errors(403, 404, 409) },
    },
    config: { access: SUPPORT },
  }, async (request) => presentMembership(await cancelMembership(laurel, tenantOf(request), request.params.membershipId, request.body, clientKey(request))));

  app.post('/membership-payments', {
    schema: {
      operationId: 'recordMembershipPayment', summary: 'Record a membership payment event', tags: ['memberships'],
      description: "A payment provider's event about a membership: `paid` (starts or renews it for the period; default the plan's period from `periodStart`), `failed` (past_due: the benefits last the plan's grace days), `refunded` (the amount given back; the membership is cancelled at once). Idempotent on (provider, eventId): a second delivery answers what the first did. An event older than the last one applied is stale and changes nothing. Fees are recorded with their period, as membership revenue.",
      body: Type.Object({
        programId: Id('the program'),
        provider: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', description: 'the payment provider (not stripe: its events come through its webhook)', examples: ['acme-billing'] }),
        eventId: Type.String({ minLength: 1, maxLength: 255, description: "the provider's event id: the idempotency key" }),
        type: Type.String({ enum: ['paid', 'failed', 'refunded'] }),
        memberId: Id('the member'),
        planId: Id('the plan'),
        externalId: Type.String({ minLength: 1, maxLength: 255, description: "the provider's subscription or contract: the membership" }),
        paymentId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "the provider's invoice or payment (default: eventId)" })),
        amount: Type.Optional(Money('minor units paid or refunded')),
        currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
        periodStart: Type.Optional(Timestamp('paid: the period it pays for (default occurredAt)')),
        periodEnd: Type.Optional(Timestamp("paid: its end (default: the plan's period later)")),
        occurredAt: Timestamp('when it happened at the provider'),
      }, { additionalProperties: false }),
      response: { 200: described(PaymentResultSchema, 'What the event did (or, for a duplicate, did the first time).'), ...errors(403, 404, 409) },
    },
    config: { access: OWNER },
  }, async (request) => {
    const r = await recordPayment(laurel, tenantOf(request), request.body);
    return { object: 'membership_payment_event' as const, ...r, membership: r.membership ? presentMembership(r.membership) : null };
  });

  app.put('/programs/:programId/stripe', {
    schema: {
      operationId: 'setStripeSettings', summary: "Set a program's Stripe webhook secret", tags: ['memberships'],
      description: "The signing secret (whsec_…) of the Stripe webhook endpoint that sends this program's events, and the URL to give Stripe.",
      params: Type.Object({ programId: Id('the program') }),
      body: Type.Object({ webhookSecret: Type.String({ minLength: 1, maxLength: 300, description: "the endpoint's signing secret, from Stripe" }) }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({ object: Type.Literal('stripe_settings'), programId: Id('the program'), webhookUrl: Type.String({ description: 'the path Stripe posts to, under your deployment' }) }), 'Saved.'),
        ...errors(403, 404),
      },
    },
    config: { access: OWNER },
  }, async (request) => ({ object: 'stripe_settings' as const, ...(await setStripeSettings(laurel, tenantOf(request), request.params.programId, request.body)) }));

  await app.register(async (stripe) => {
    // The signature covers the bytes Stripe sent: keep them before the JSON is read (this
    // parser replaces the app's in this plugin only).
    stripe.removeContentTypeParser('application/json');
    stripe.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser((_request, body, done) => {
      try {
        const parsed = JSON.parse(body) as unknown;
        if (parsed !== null && typeof parsed === 'object') rawBodies.set(parsed, body);
        done(null, parsed);
      } catch (e) {
        done(httpProblem('malformed_json', `the body is not JSON: ${(e as Error).message}`, [{ field: 'body', message: 'is not JSON' }]), undefined);
      }
    }));
    stripe.post('/integrations/stripe/webhook', {
      schema: {
        operationId: 'receiveStripeEvent', summary: 'Stripe webhook', tags: ['memberships'], security: [],
        description: "Where Stripe sends a program's events (set its secret with setStripeSettings). The `Stripe-Signature` header must hold a `v1` HMAC-SHA256 of `timestamp.body` with the program's secret, within 5 minutes; otherwise 400 and nothing is stored. Maps checkout.session.completed, customer.subscription.created|updated|deleted, invoice.paid and invoice.payment_failed onto the membership lifecycle; the member is `metadata.laurel_member_id` / `metadata.laurel_member` (externalId) or the checkout's `client_reference_id`, the plan the price (stripePriceId) or `metadata.laurel_plan`. Events are taken once each, and one older than what was applied changes nothing.",
        querystring: Type.Object({ programId: Id('the program the endpoint is for') }, { additionalProperties: false }),
        headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String({ description: 't=<unix time>,v1=<hex HMAC>[,v1=…]' })) }, { additionalProperties: true }),
        body: Type.Object({
          id: Type.String({ description: 'evt_…' }), type: Type.String({ examples: ['invoice.paid'] }), created: Type.Integer(),
          data: Type.Object({ object: Type.Object({}, { additionalProperties: true }) }, { additionalProperties: true }),
        }, { additionalProperties: true, description: 'a Stripe event, as Stripe sends it' }),
        response: {
          200: described(Type.Intersect([PaymentResultSchema, Type.Object({ type: Type.String({ description: 'the Stripe event type' }) })]), 'Taken (or taken before): what it did.'),
          400: Type.Ref('Problem', { description: 'A missing, stale or wrong signature (nothing is stored), or not a Stripe event.' }),
          429: Type.Ref('Problem', { description: 'Rate limit exceeded.' }),
          503: Type.Ref('Problem', { description: 'The database cannot be reached for now: Stripe retries.' }),
        },
      },
      config: { access: { scopes: 'public' } },
    }, async (request) => {
      const raw = rawBodies.get(request.body as object);
      if (raw === undefined) throw httpProblem('validation', 'the body must be a Stripe event in JSON', [{ field: 'body', message: 'must be JSON' }]);
      const signature = request.headers['stripe-signature'];
      const r = await receiveStripeEvent(laurel, (request.query as { programId: string }).programId, raw, typeof signature === 'string' ? signature : undefined);
      return { object: 'membership_payment_event' as const, ...r, membership: r.membership ? presentMembership(r.membership) : null };
    });
  });
};
