// Events: purchases, returns and custom actions, as a shop, a POS or a CRM sends them. The event's
// externalId is its idempotency key: no Idempotency-Key header is needed, and sending an event
// again answers exactly what the first sending did.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_LINES, MAX_MONEY, MAX_QUANTITY } from '../../core/events/event.js';
import { EVENT_TYPE } from '../../core/events/rate.js';
import type { Laurel } from '../../services/context.js';
import { getEvent, ingestEvent, listMemberEvents, type EventRecord, type IngestInput } from '../../services/events.js';
import { quote, type QuoteInput } from '../../services/rules.js';
import { actorOf, POS, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { presentExplained, presentLedgerResult } from '../present.js';
import { welcomeFailed } from './members.js';
import { presentTierChange, TierChangeSchema } from './tiers.js';
import { described, errors, ExplainedSchema, Id, LedgerResultSchema, listOf, ListQuery, Nullable, Points, Timestamp } from '../schemas.js';

const Money = (description: string, example: number) =>
  Type.Integer({ minimum: 0, maximum: Number(MAX_MONEY), description, examples: [example] });
const Text = (max: number, description: string, example: string) =>
  Type.String({ minLength: 1, maxLength: max, description, examples: [example] });
const EventType = Type.String({
  pattern: EVENT_TYPE.source, examples: ['purchase'],
  description: "`purchase`, `return`, or a custom action of the brand's (`review`, `survey_completed`, …), which earns what the program's rules for that type give. `signup` is sent by Laurel itself when a member enrols.",
});

const LineInput = Type.Object({
  sku: Text(200, 'the product; one line per sku', 'LATTE-L'),
  category: Type.Optional(Text(200, 'purchase: the product category', 'coffee')),
  quantity: Type.Integer({ minimum: 1, maximum: Number(MAX_QUANTITY), description: 'units bought (purchase) or brought back (return)', examples: [2] }),
  unitPrice: Type.Optional(Money('purchase (required): price of one unit, in minor units (cents)', 1250)),
  discount: Type.Optional(Money('purchase: minor units off the whole line, at most quantity × unitPrice (default 0)', 100)),
}, { additionalProperties: false });

const MemberIdentifiers = Type.Object({
  externalId: Type.Optional(Text(200, "the brand's own customer id", 'cust_4711')),
  email: Type.Optional(Text(200, 'e-mail address', 'ada@example.com')),
  phone: Type.Optional(Text(30, 'phone number in international form', '+33612345678')),
  cardCode: Type.Optional(Text(200, 'loyalty card number or QR payload', 'CARD-0001')),
}, {
  additionalProperties: false, minProperties: 1,
  description: "the member by their identifiers, instead of memberId. A universal program enrols a member it does not know yet when an externalId or email is given (an email alone only if the program's enrollByEmail is true); an opt_in program answers 404.",
});

const EventFields = {
  programId: Id('the program'),
  externalId: Text(200, 'your id of the event, unique in the program. It is the idempotency key: sending the event again changes nothing and answers the first result; other content under the same id is refused (409).', 'order-1001'),
  type: EventType,
  memberId: Type.Optional(Id('the member (or give `member`); a return may name no member: its purchase does')),
  member: Type.Optional(MemberIdentifiers),
  occurredAt: Type.Optional(Timestamp('when it happened (default: when Laurel receives it)')),
  channel: Type.Optional(Text(64, 'where it happened: online, store, app, curbside…', 'store')),
  location: Type.Optional(Text(200, 'the store or site', 'paris-01')),
  currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: "ISO 4217; only the tenant's currency (the default) is accepted", examples: ['EUR'] })),
  orderId: Type.Optional(Text(200, 'your order or refund reference', '1001')),
  lines: Type.Optional(Type.Array(LineInput, {
    minItems: 1, maxItems: MAX_LINES, description: 'purchase (required): what was bought; return: what comes back (or give refundAmount)',
  })),
  paidWithPoints: Type.Optional(Money("purchase: minor units paid with points, store credit or a reward — that part earns nothing, unless the program's earnOnPaidWithPoints says it does", 1000)),
  pointsHoldId: Type.Optional(Id('purchase: the hold of points placed at checkout; the purchase captures it and pays what its points are worth (paidWithPoints, if sent, must say the same)')),
  purchaseExternalId: Type.Optional(Text(200, 'return (required): the externalId of the purchase it refunds', 'order-1001')),
  refundAmount: Type.Optional(Type.Integer({
    minimum: 1, maximum: Number(MAX_MONEY), examples: [500], description: 'return: money refunded in minor units, instead of lines',
  })),
  attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown(), {
    description: 'anything else to keep with the event (a review rating, a survey id); at most 16 KB of JSON', examples: [{ rating: 5 }],
  })),
};

const EventBody = Type.Object(EventFields, {
  additionalProperties: false,
  examples: [{
    programId: '01a20c82-4d1f-7939-b601-6e85e79978fe', externalId: 'order-1001', type: 'purchase', member: { email: 'ada@example.com' },
    channel: 'store', currency: 'EUR', orderId: '1001',
    lines: [{ sku: 'LATTE-L', category: 'coffee', quantity: 2, unitPrice: 1250 }, { sku: 'BEANS-1KG', quantity: 1, unitPrice: 999, discount: 100 }],
  }],
});

const { purchaseExternalId: _p, refundAmount: _r, ...quoteFields } = EventFields;
const QuoteBody = Type.Object({
  ...quoteFields,
  externalId: Type.Optional(Text(200, 'the id the event will be sent with: a surprise bonus is drawn from it (default "quote")', 'order-1001')),
  type: Type.Optional(Type.String({ pattern: EVENT_TYPE.source, description: 'purchase (default) or a custom action', examples: ['purchase'] })),
  memberId: Type.Optional(Id('the member (or give `member`, or neither: what a newcomer would earn)')),
}, {
  additionalProperties: false,
  examples: [{
    programId: '01a20c82-4d1f-7939-b601-6e85e79978fe', member: { cardCode: 'CARD-0001' }, channel: 'store',
    lines: [{ sku: 'SERUM-30', category: 'skincare', quantity: 1, unitPrice: 4200 }],
  }],
});

const QuoteSchema = Type.Object({
  object: Type.Literal('quote'),
  points: Points('points the event would earn in the points wallet'),
  wallets: Type.Array(Type.Object({ wallet: Type.String(), amount: Type.Integer() }), { description: 'what it would put in each wallet, store credit included' }),
  awards: Type.Array(ExplainedSchema, { description: 'the rules that would fire, with their amounts: "42 points, 12 of them from the double-points weekend"' }),
});

const LineSchema = Type.Object({
  sku: Type.String(),
  category: Type.Optional(Nullable(Type.String())),
  quantity: Type.Integer({ examples: [2] }),
  unitPrice: Type.Optional(Type.Integer({ description: 'purchase: minor units per unit' })),
  discount: Type.Optional(Type.Integer({ description: 'purchase: minor units off the line' })),
});

const EventSchema = Type.Object({
  object: Type.Literal('event'),
  eventId: Id('the event'),
  programId: Id('the program'),
  memberId: Id('the member'),
  externalId: Type.String({ examples: ['order-1001'] }),
  type: Type.String({ examples: ['purchase'] }),
  occurredAt: Timestamp('when it happened'),
  channel: Nullable(Type.String()),
  location: Nullable(Type.String()),
  currency: Nullable(Type.String({ examples: ['EUR'] })),
  orderId: Nullable(Type.String()),
  lines: Nullable(Type.Array(LineSchema, { description: 'purchase: the lines bought; return: the lines brought back' })),
  total: Nullable(Type.Integer({ description: "purchase: money paid in minor units (lines less discounts less paidWithPoints): what earns (with the program's earnOnPaidWithPoints, paidWithPoints earns too)", examples: [3399] })),
  paidWithPoints: Nullable(Type.Integer({ description: 'purchase: minor units paid with points or store credit' })),
  pointsPaid: Nullable(Type.Integer({ description: 'purchase: points its pointsHoldId paid with; return: points it gave back of them (negative)' })),
  pointsEntryId: Nullable(Id('the journal entry that took (or gave back) those points')),
  purchaseEventId: Nullable(Id('return: the purchase it refunds')),
  purchaseExternalId: Nullable(Type.String({ description: 'return: the purchase it refunds' })),
  refundAmount: Nullable(Type.Integer({ description: 'return: money refunded, in minor units' })),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  points: Points('points earned (positive) or taken back by a return (negative) in the points wallet'),
  ledgerEntryId: Nullable(Id('the journal entry that moved the points wallet; null when the event moves no points')),
  entries: Type.Array(Type.Object({
    wallet: Type.String({ examples: ['points'] }), entryId: Id('the journal entry'),
    amount: Type.Integer({ description: 'earned (positive) or taken back (negative)', examples: [42] }),
  }), { description: 'the journal entries the event wrote, one per wallet (points, store credit)' }),
  explanation: Type.Array(ExplainedSchema, { description: 'the rules that fired, in priority order, with their inputs and amounts; for a return, what it took back from each rule' }),
  createdAt: Timestamp('when Laurel received it'),
});

// A union with a $ref would make the serializer pick its branch by validating, and validation
// knows no bigint: a type list lets it pick by `typeof` instead.
const { $id: _id, ...ledgerResult } = LedgerResultSchema as typeof LedgerResultSchema & { $id: string };
const NullableLedgerResult = Type.Unsafe<ReturnType<typeof presentLedgerResult> | null>({
  ...ledgerResult, type: ['object', 'null'],
  description: 'the earn or reversal (a ledger_result: entries and the balances after it); null when no points moved',
});

const EnrolledMemberSchema = Type.Object({
  memberId: Id('the member'),
  externalId: Nullable(Type.String()),
  email: Nullable(Type.String({ examples: ['ada@example.com'] })),
  phone: Nullable(Type.String()),
  cardCode: Nullable(Type.String()),
}, { description: 'the member this event enrolled, by the identifiers it gave (check them: a mistyped e-mail made a new member)' });

const EventResultSchema = Type.Object({
  object: Type.Literal('event_result'),
  event: EventSchema,
  points: Points('points earned (positive), taken back (negative) or none (0)'),
  ledger: NullableLedgerResult,
  tier: Nullable(TierChangeSchema),
  enrolled: Type.Boolean({ description: "true when this event enrolled its member: a universal program's first event naming someone it did not know" }),
  member: Nullable(EnrolledMemberSchema),
}, { description: 'The event recorded, with the points it moved (or, resent, the first answer).' });

/** Every amount here is bounded (≤ 10^12), so it is exact as a JSON number. */
const n = (v: bigint): number => Number(v);
const nn = (v: bigint | null): number | null => (v === null ? null : Number(v));

const presentEvent = (e: EventRecord) => ({
  object: 'event' as const, eventId: e.eventId, programId: e.programId, memberId: e.memberId, externalId: e.externalId,
  type: e.type, occurredAt: new Date(e.occurredAt).toISOString(), channel: e.channel, location: e.location, currency: e.currency,
  orderId: e.orderId,
  lines: e.lines?.map((l) => ('unitPrice' in l
    ? { sku: l.sku, category: l.category, quantity: n(l.quantity), unitPrice: n(l.unitPrice), discount: n(l.discount) }
    : { sku: l.sku, quantity: n(l.quantity) })) ?? null,
  total: nn(e.total), paidWithPoints: nn(e.paidWithPoints), pointsPaid: nn(e.pointsPaid ?? null), pointsEntryId: e.pointsEntryId ?? null,
  purchaseEventId: e.purchaseEventId, purchaseExternalId: e.purchaseExternalId, refundAmount: nn(e.refundAmount),
  attributes: e.attributes, points: n(e.points), ledgerEntryId: e.ledgerEntryId,
  entries: e.entries.map((x) => ({ wallet: x.wallet, entryId: x.entryId, amount: n(x.amount) })),
  explanation: e.explanation.map(presentExplained), createdAt: new Date(e.createdAt).toISOString(),
});

export const eventRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/events', {
    schema: {
      summary: 'Send an event', tags: ['events'], operationId: 'sendEvent',
      description: [
        'Records a purchase, a return or a custom action and moves its points.',
        "**purchase**: earns through the program's enabled `purchase` rules, in one transaction. What earns is the money paid: Σ(quantity × unitPrice − discount) − paidWithPoints, in minor units, spread over the lines by value (a program with `earnOnPaidWithPoints` earns on paidWithPoints too). Points stay pending for the program's return window.",
        '**return** (lines or refundAmount): takes back what the returned lines earned. What is left of the order is evaluated again with the rule versions and facts of the purchase; each rule keeps the lesser of what it gave and what it would give now, so a minimum-spend bonus that no longer qualifies is taken back and returning everything takes back exactly what the purchase earned. Pending points go first; spent points follow the negative-balance policy. Returning more than is left is refused (409).',
        "**custom action** (any other type): earns what the program's rules for that type give, or nothing; it is recorded either way.",
        "`tier`: the upgrade the event's activity earned the member on the program's tier ladder (with its bonus points), or null.",
        '`explanation` lists every rule that fired, with its inputs, its amount and the limits that trimmed it.',
        "**Enrolment**: in a `universal` program, an event naming an unknown member by `member.externalId` or `member.email` enrols them first: the answer says `enrolled: true` and gives the new `member` with its identifiers, and the member records the event (`enrolledByEvent`). With the program's `enrollByEmail: false`, an unknown member named by e-mail alone is refused (404 naming `member.email`) and nothing is written. An `opt_in` program never enrols (404).",
        'The externalId is the idempotency key (no Idempotency-Key header): a resend answers 201 with the first response.',
      ].join('\n\n'),
      body: EventBody,
      response: { 201: described(EventResultSchema, 'The recorded event with the points it moved and why.'), ...errors(403, 404, 409) },
    },
    config: { access: POS, operation: 'event' },
  }, async (request, reply) => {
    const result = await ingestEvent(laurel, tenantOf(request), { ...(request.body as IngestInput), actor: actorOf(request) },
      { onWelcomeFailed: welcomeFailed(request) });
    return reply.status(201).send({
      object: 'event_result' as const, event: presentEvent(result.event), points: n(result.points),
      ledger: result.ledger ? presentLedgerResult(result.ledger) : null, tier: result.tier ? presentTierChange(result.tier) : null,
      // answers stored before enrolment was reported have neither field
      enrolled: result.enrolled ?? false, member: result.member ?? null,
    });
  });

  app.post('/quotes', {
    schema: {
      operationId: 'quoteEvent', summary: 'Quote an event', tags: ['events'],
      description: "Evaluates the program's rules for a basket (or an action) exactly as the event would be, and writes nothing: the POS preview. Caps and budgets are read as they stand now.",
      body: QuoteBody,
      response: { 200: described(QuoteSchema, 'What the event would earn, rule by rule.'), ...errors(403, 404) },
    },
    config: { access: POS },
  }, async (request) => {
    const q = await quote(laurel, tenantOf(request), request.body as QuoteInput);
    return {
      object: 'quote' as const, points: n(q.points), wallets: q.wallets.map((w) => ({ wallet: w.wallet, amount: n(w.amount) })),
      awards: q.awards.map(presentExplained),
    };
  });

  app.get('/events/:eventId', {
    schema: {
      operationId: 'getEvent', summary: 'Get an event', tags: ['events'], description: 'One event as it was recorded, with the points it moved.',
      params: Type.Object({ eventId: Id('the event') }),
      response: { 200: described(EventSchema, 'The event.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentEvent(await getEvent(laurel, tenantOf(request), request.params.eventId)));

  app.get('/members/:memberId/events', {
    schema: {
      operationId: 'listMemberEvents', summary: "A member's events", tags: ['events'], description: 'Newest first (in the order Laurel received them), a page at a time.',
      params: Type.Object({ memberId: Id('the member') }),
      querystring: Type.Object({
        type: Type.Optional(Type.Array(EventType, { description: 'only these types (repeat the parameter)' })),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(EventSchema, 'a page of events'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listMemberEvents(laurel, tenantOf(request), {
      memberId: request.params.memberId, types: q.type, before: decodeCursor(q.cursor), limit,
    });
    const p = page(rows, limit, (e) => e.eventId);
    return { ...p, data: p.data.map(presentEvent) };
  });
};
