// Balances, the journal, and every operation that moves points: redemptions, holds, transfers,
// adjustments and reversals. Each write needs an Idempotency-Key and answers a ledger_result.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { MAX_POINTS } from '../../core/points.js';
import { DEFAULT_WALLET } from '../../core/program.js';
import type { Laurel } from '../../services/context.js';
import { milestonesAfterAdjustment } from '../../services/achievements.js';
import { eventOfEntry } from '../../services/events.js';
import {
  adjust, captureHold, createHold, getBalances, openLots, getEntry, getHold, listJournal, redeem, reverseEntry, transfer, voidHold,
} from '../../services/ledger.js';
import { actorOf, ADMIN, clientKey, POS, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { presentBalance, presentEntry, presentExplained, presentHold, presentLedgerResult } from '../present.js';
import { described, errors, Id, IdempotencyHeader, listOf, ListQuery, Nullable, Points, PositivePoints, Timestamp } from '../schemas.js';

const Wallet = Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'wallet code (default `points`)', examples: ['points'] }));
const Ref = Type.Optional(Type.String({ maxLength: 200, description: 'your reference: order id, checkout id', examples: ['order-1001'] }));
const MemberParams = Type.Object({ memberId: Id('the member') });
const HoldParams = Type.Object({ holdId: Id('the hold') });
const Result = { $ref: 'LedgerResult' } as const;

function write(request: FastifyRequest) {
  return {
    tenantId: tenantOf(request),
    idempotencyKey: clientKey(request)!,
    actor: actorOf(request),
  };
}

export const ledgerRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/members/:memberId/lots', {
    schema: {
      summary: "A member's open lots", tags: ['ledger'], operationId: 'listMemberLots',
      description: 'The lots that still hold points (or a debt), soonest to expire first, then those that never expire: what "expiring soon" shows. At most 200. A member token may read its own.',
      params: MemberParams,
      response: {
        200: Type.Object({
          object: Type.Literal('list'),
          data: Type.Array(Type.Object({
            object: Type.Literal('lot'),
            lotId: Id('the lot'),
            wallet: Type.String({ examples: ['points'] }),
            amount: Points('what the lot was earned with (negative: a debt)'),
            remaining: Points('what is left in it'),
            pending: Type.Boolean({ description: 'still inside the return window' }),
            earnedAt: Timestamp('when it was earned'),
            availableAt: Timestamp('when it becomes (or became) spendable'),
            expiresAt: Nullable(Timestamp('when what remains expires; null: never')),
          })),
        }, { description: 'the open lots' }),
        ...errors(403, 404),
      },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => ({
    object: 'list' as const,
    data: (await openLots(laurel, tenantOf(request), request.params.memberId)).map((l) => ({
      object: 'lot' as const, lotId: l.lotId, wallet: l.wallet, amount: Number(l.amount), remaining: Number(l.remaining), pending: l.pending,
      earnedAt: l.earnedAt.toISOString(), availableAt: l.availableAt.toISOString(), expiresAt: l.expiresAt?.toISOString() ?? null,
    })),
  }));

  app.get('/members/:memberId/balances', {
    schema: {
      operationId: 'getBalances', summary: "A member's balances", tags: ['ledger'], description: 'One row per wallet; reading never scans history.',
      params: MemberParams, querystring: Type.Object({ wallet: Wallet }, { additionalProperties: false }),
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(Type.Ref('Balance')) }), "The member's balance in each wallet."), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => ({
    object: 'list' as const,
    data: (await getBalances(laurel, tenantOf(request), request.params.memberId, request.query.wallet)).map(presentBalance),
  }));

  app.get('/members/:memberId/journal', {
    schema: {
      operationId: 'listJournal', summary: "A member's journal", tags: ['ledger'], description: 'Newest first by the time each entry was made (then by id), with postings; transfers appear for both members.',
      params: MemberParams,
      querystring: Type.Object({
        wallet: Wallet,
        kind: Type.Optional(Type.Array(Type.String({ enum: ['earn', 'mature', 'redeem', 'hold', 'release', 'expire', 'reverse', 'adjust', 'transfer'] }), { description: 'only these kinds (repeat the parameter)' })),
        from: Type.Optional(Timestamp('entries at or after')),
        to: Type.Optional(Timestamp('entries before')),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(Type.Ref('JournalEntry'), 'a page of journal entries'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listJournal(laurel, tenantOf(request), {
      memberId: request.params.memberId, wallet: q.wallet, kinds: q.kind, limit, before: decodeCursor(q.cursor),
      from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined,
    });
    const p = page(rows, limit, (e) => e.entryId);
    return { ...p, data: p.data.map(presentEntry) };
  });

  app.post('/members/:memberId/redemptions', {
    schema: {
      operationId: 'redeemPoints', summary: 'Redeem points', tags: ['ledger'], description: 'Spends available points at once, soonest-expiring first. 422 when the wallet cannot pay.',
      params: MemberParams, headers: IdempotencyHeader,
      body: Type.Object({ amount: PositivePoints('points to spend'), wallet: Wallet, ref: Ref }, { additionalProperties: false }),
      response: { 201: described(Result, 'The redeem entry and the balance after it.'), ...errors(403, 404, 409, 422) },
    },
    config: { access: POS, operation: 'redeem' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(
    await redeem(laurel, { ...write(request), memberId: request.params.memberId, ...request.body }))));

  app.post('/members/:memberId/adjustments', {
    schema: {
      operationId: 'adjustPoints', summary: 'Adjust points', tags: ['ledger'],
      description: 'A manual correction with a reason, journaled with the key that made it. Positive credits a new lot; negative spends and cannot overdraw.',
      params: MemberParams, headers: IdempotencyHeader,
      body: Type.Object({
        amount: Type.Integer({ minimum: -Number(MAX_POINTS), maximum: Number(MAX_POINTS), not: { const: 0 }, description: 'points to add (positive) or remove (negative)', examples: [50] }),
        reason: Type.String({ minLength: 1, maxLength: 500, examples: ['missing points for order 17'] }),
        wallet: Wallet,
      }, { additionalProperties: false }),
      response: { 201: described(Result, 'The adjust entry and the balance after it.'), ...errors(403, 404, 409, 422) },
    },
    config: { access: ADMIN, operation: 'adjust' },
  }, async (request, reply) => {
    const result = await adjust(laurel, { ...write(request), memberId: request.params.memberId, ...request.body, actor: actorOf(request) });
    // The balance milestones watch moved: a rise is told (and paid) as on an event, a fall lowers their level.
    if ((request.body.wallet ?? DEFAULT_WALLET) === DEFAULT_WALLET) {
      await milestonesAfterAdjustment(laurel, tenantOf(request), request.params.memberId, { key: write(request).idempotencyKey, actor: actorOf(request) });
    }
    return reply.status(201).send(presentLedgerResult(result));
  });

  app.post('/members/:memberId/holds', {
    schema: {
      operationId: 'createHold', summary: 'Hold points (checkout)', tags: ['holds'],
      description: 'Reserves points for a checkout: they leave `available` for `held` and cannot be spent twice. Capture or void it; past its TTL it releases itself.',
      params: MemberParams, headers: IdempotencyHeader,
      body: Type.Object({
        amount: PositivePoints('points to reserve'),
        ttlSeconds: Type.Integer({ minimum: 1, maximum: 30 * 86_400, description: 'how long the hold lives', examples: [900] }),
        wallet: Wallet, ref: Ref,
      }, { additionalProperties: false }),
      response: { 201: described(Result, 'The hold, its entry and the balance after it.'), ...errors(403, 404, 409, 422) },
    },
    config: { access: POS, operation: 'hold' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(
    await createHold(laurel, { ...write(request), memberId: request.params.memberId, ...request.body }))));

  app.get('/holds/:holdId', {
    schema: { operationId: 'getHold', summary: 'Get a hold', tags: ['holds'], description: 'A hold and its status: active, captured, voided or expired.', params: HoldParams, response: { 200: described(Type.Ref('Hold'), 'The hold.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => presentHold(await getHold(laurel, tenantOf(request), request.params.holdId)));

  app.post('/holds/:holdId/capture', {
    schema: {
      operationId: 'captureHold', summary: 'Capture a hold', tags: ['holds'], description: 'Redeems the held points, or `amount` of them and releases the rest.',
      params: HoldParams, headers: IdempotencyHeader,
      body: Type.Optional(Type.Object({ amount: Type.Optional(PositivePoints('points to capture (default: all)')), ref: Ref }, { additionalProperties: false })),
      response: { 201: described(Result, 'The redeem entry (and the release of any rest) and the balance after them.'), ...errors(403, 404, 409) },
    },
    config: { access: POS, operation: 'capture' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(
    await captureHold(laurel, { ...write(request), holdId: request.params.holdId, ...(request.body ?? {}) }))));

  app.post('/holds/:holdId/void', {
    schema: {
      operationId: 'voidHold', summary: 'Void a hold', tags: ['holds'], description: 'Gives the held points back to the lots they came from.',
      params: HoldParams, headers: IdempotencyHeader,
      response: { 201: described(Result, 'The release entry and the balance after it.'), ...errors(403, 404, 409) },
    },
    config: { access: POS, operation: 'void' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(
    await voidHold(laurel, { ...write(request), holdId: request.params.holdId }))));

  app.post('/transfers', {
    schema: {
      operationId: 'transferPoints', summary: 'Transfer points between members', tags: ['ledger'],
      description: "Moves points between two members of one program; the receiver's points keep the sender's expiry dates.",
      headers: IdempotencyHeader,
      body: Type.Object({
        fromMemberId: Id('the sender'), toMemberId: Id('the receiver'), amount: PositivePoints('points to move'), wallet: Wallet,
        reason: Type.Optional(Type.String({ maxLength: 500 })),
      }, { additionalProperties: false }),
      response: { 201: described(Result, "The transfer entry and both members' balances after it."), ...errors(403, 404, 409, 422) },
    },
    config: { access: POS, operation: 'transfer' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(await transfer(laurel, { ...write(request), ...request.body }))));

  app.get('/journal-entries/:entryId', {
    schema: { operationId: 'getJournalEntry', summary: 'Get a journal entry', tags: ['ledger'], description: 'One entry of the append-only journal, with its postings (they sum to zero) and, when an event wrote it, the event with the rules that fired.', params: Type.Object({ entryId: Id('the entry') }), response: { 200: described(Type.Ref('JournalEntry'), 'The entry with its postings.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => {
    const entry = await getEntry(laurel, tenantOf(request), request.params.entryId);
    const event = await eventOfEntry(laurel, tenantOf(request), entry);
    return {
      ...presentEntry(entry),
      ...(event ? { event: { eventId: event.eventId, externalId: event.externalId, type: event.type, explanation: event.explanation.map(presentExplained) } } : {}),
    };
  });

  app.post('/journal-entries/:entryId/reversals', {
    schema: {
      operationId: 'reverseJournalEntry', summary: 'Reverse a journal entry', tags: ['ledger'],
      description: 'Reverses all, or `amount`, of an earn, redeem, adjustment or transfer. Points given are taken back (pending first; what was already spent becomes a debt or is written off, per program); points taken are restored to their lots.',
      params: Type.Object({ entryId: Id('the entry to reverse') }), headers: IdempotencyHeader,
      body: Type.Optional(Type.Object({ amount: Type.Optional(PositivePoints('points to reverse (default: all that is left)')), reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false })),
      response: { 201: described(Result, 'The reverse entries and the balances after them.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN, operation: 'reverse' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(
    await reverseEntry(laurel, { ...write(request), entryId: request.params.entryId, ...(request.body ?? {}) }))));
};
