// Shared TypeBox schemas: the shapes every resource uses, so the OpenAPI document says the
// same thing everywhere. Points are JSON integers (bigint inside), ids are UUIDv7.
import { Type, type TSchema } from 'typebox';
import { MAX_POINTS } from '../core/points.js';

export const Id = (description: string) => Type.String({ format: 'uuid', description, examples: ['01a20c82-4d1f-7939-b601-6e85e79978fe'] });
export const Points = (description: string) => Type.Integer({ description, examples: [120] });
export const PositivePoints = (description: string) =>
  Type.Integer({ minimum: 1, maximum: Number(MAX_POINTS), description, examples: [100] });
export const Timestamp = (description: string) => Type.String({ format: 'date-time', description, examples: ['2026-11-24T09:30:00.000Z'] });
/**
 * A success response's schema with the description the document gives that response (without
 * one, a reference page shows "Default Response"); the schema itself is unchanged.
 */
export const described = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const FieldErrorSchema = Type.Object({
  field: Type.String({ description: 'the input at fault, as a path such as `lines[0].quantity`' }),
  message: Type.String(),
});

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'a stable URI reference naming the kind of problem, e.g. `/problems/validation`' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
  requestId: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(FieldErrorSchema)),
}, { $id: 'Problem', description: 'An RFC 9457 problem (application/problem+json).' });

export const ProblemRef = Type.Ref('Problem');

/** The error responses a route can give, each documented as problem+json. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  const about: Record<number, string> = {
    400: 'Invalid request: the `errors` list names each bad field.',
    401: 'Missing or invalid API key / member token.',
    403: 'The key lacks the scope for this operation, or a member token reads another member.',
    404: 'Not found in this tenant.',
    409: 'Conflict with the current state, or an Idempotency-Key reused with another request.',
    422: 'Not enough available points.',
    429: 'Rate limit exceeded.',
    503: 'The database cannot be reached for now, or the server is shutting down: retry after Retry-After, with the same Idempotency-Key.',
  };
  for (const s of [400, 401, 429, 503, ...statuses]) out[s] = Type.Ref('Problem', { description: about[s] ?? 'Error' });
  return out;
}

/**
 * The error responses of an operation the deployment's operator key opens (LAUREL_OPERATOR_KEY):
 * no 401, since a missing or wrong key is refused as 403.
 */
export function operatorErrors(...statuses: number[]): Record<number, TSchema> {
  const { 401: _unauthorized, ...out } = errors(...statuses);
  return out;
}

export const IdempotencyHeader = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1, maxLength: 255,
    description: 'Makes the request safe to retry: the same key and body return the first response; the same key with another body is refused with 409.',
  }),
}, { additionalProperties: true });

export const OptionalIdempotencyHeader = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 255,
    description: 'Optional here: with it, a retry returns the first response instead of a conflict.',
  })),
}, { additionalProperties: true });

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size (1 to 100)' })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: '`nextCursor` of the previous page' })),
};

export const listOf = <T extends TSchema>(item: T, description: string) => Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(item),
  hasMore: Type.Boolean({ description: 'whether another page follows' }),
  nextCursor: Nullable(Type.String({ description: 'pass as `cursor` to get the next page' })),
}, { description });

export const BalanceSchema = Type.Object({
  object: Type.Literal('balance'),
  memberId: Id('the member'),
  wallet: Type.String({ description: 'wallet code', examples: ['points'] }),
  available: Points('points that can be spent now (negative while a claw-back debt is being repaid)'),
  pending: Points('points earned but still inside the return window'),
  held: Points('points reserved by open holds'),
  lifetimeEarned: Points('points earned, net of reversals'),
  lifetimeRedeemed: Points('points redeemed, net of reversals'),
  expired: Points('points that expired'),
  lastActivityAt: Nullable(Timestamp('last earn, redeem, hold, transfer or positive adjustment: where an inactivity expiry policy counts from')),
}, { $id: 'Balance' });

export const PostingSchema = Type.Object({
  account: Type.String({ description: 'member bucket (available, pending, held) or program account (issuance, redemption, expiry, adjustment, write_off)' }),
  memberId: Nullable(Id('the member for a member bucket, null for a program account')),
  amount: Points('positive credits the account, negative debits it; the postings of an entry sum to zero'),
});

/** One rule's part in an event or a quote: what it gave, from what, and what limited it. */
export const ExplainedSchema = Type.Object({
  ruleId: Id('the rule'),
  version: Type.Integer({ description: 'the version of the rule that decided it', examples: [3] }),
  name: Type.String({ examples: ['Double points weekend'] }),
  campaignId: Nullable(Id('the campaign of the rule')),
  effect: Type.String({ examples: ['multiplier'] }),
  wallet: Type.String({ description: 'the wallet it pays into', examples: ['points'] }),
  points: Type.Integer({ description: 'what it gave after limits (negative: what a return took back)', examples: [12] }),
  uncapped: Type.Integer({ description: 'what the effect computed before caps and budgets', examples: [12] }),
  limitedBy: Type.Array(Type.String({ enum: ['rule_cap', 'campaign_cap', 'rule_budget', 'campaign_budget'] }), {
    description: 'the limits that trimmed it',
  }),
  detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
    description: "the effect's inputs: the amount it earned on, its rate or factor, the draw of a surprise…",
    examples: [{ factor: '2', base: 12 }],
  }),
});

export const JournalEntrySchema = Type.Object({
  object: Type.Literal('journal_entry'),
  entryId: Id('the entry'),
  kind: Type.String({ enum: ['earn', 'mature', 'redeem', 'hold', 'release', 'expire', 'reverse', 'adjust', 'transfer'] }),
  memberId: Id('the member'),
  walletId: Id('the wallet'),
  amount: Points('points moved (always positive; postings give the direction)'),
  counterpartyId: Nullable(Id('the receiving member of a transfer')),
  holdId: Nullable(Id('the hold it belongs to')),
  lotId: Nullable(Id('the lot an earn created or a mature entry matured')),
  reversesEntryId: Nullable(Id('the entry a reversal reverses')),
  ref: Nullable(Type.String({ description: "the caller's reference (order id, event id)" })),
  actor: Type.String({ description: 'who made the change: an API key, a member, a job' }),
  reason: Nullable(Type.String()),
  createdAt: Timestamp('when'),
  postings: Type.Array(PostingSchema),
  event: Type.Optional(Type.Object({
    eventId: Id('the event'), externalId: Type.String(), type: Type.String(),
    explanation: Type.Array(ExplainedSchema, { description: 'the rules that fired and what each gave' }),
  }, { description: 'getting one entry: the event that wrote it, with its explanation' })),
}, { $id: 'JournalEntry' });

export const HoldSchema = Type.Object({
  object: Type.Literal('hold'),
  holdId: Id('the hold'),
  memberId: Id('the member'),
  walletId: Id('the wallet'),
  amount: Points('points reserved'),
  status: Type.String({ enum: ['active', 'captured', 'voided', 'expired'] }),
  expiresAt: Timestamp('when an active hold releases itself'),
  createdAt: Timestamp('when it was placed'),
  resolvedAt: Nullable(Timestamp('when it was captured, voided or expired')),
}, { $id: 'Hold' });

export const LedgerResultSchema = Type.Object({
  object: Type.Literal('ledger_result'),
  entries: Type.Array(Type.Ref('JournalEntry'), { description: 'the journal entries written' }),
  balances: Type.Array(Type.Ref('Balance'), { description: 'balances of the wallets touched, after the operation' }),
  hold: Type.Optional(Type.Ref('Hold')),
}, { $id: 'LedgerResult' });

export const sharedSchemas = [BalanceSchema, JournalEntrySchema, HoldSchema, LedgerResultSchema];

