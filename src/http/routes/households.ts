// Households: members pooling points in one shared wallet, with per-member spending permissions;
// the pool's journal says which member each entry was for.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Laurel } from '../../services/context.js';
import {
  createHousehold, getHousehold, getMemberHousehold, householdJournal, leaveHousehold, listHouseholds, putHouseholdMember, spendFromHousehold,
  type Household, type PoolEntryRow,
} from '../../services/households.js';
import { actorOf, clientKey, POS, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { presentBalance, presentLedgerResult } from '../present.js';
import { described, errors, Id, IdempotencyHeader, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Points, PositivePoints, Timestamp } from '../schemas.js';

const HouseholdSchema = Type.Object({
  object: Type.Literal('household'),
  householdId: Id('the household'),
  programId: Id('the program'),
  name: Type.String(),
  accountMemberId: Id("the household's account: the member whose points wallet is the pool (external id `household:<householdId>`)"),
  members: Type.Array(Type.Object({
    memberId: Id('a member of the household'),
    canSpend: Type.Boolean({ description: "whether they may spend the pool's points" }),
    joinedAt: Timestamp('when they joined'),
  })),
  balance: Type.Ref('Balance'),
  createdAt: Timestamp('when it was created'),
});

const presentHousehold = (h: Household) => ({
  object: 'household' as const, householdId: h.householdId, programId: h.programId, name: h.name, accountMemberId: h.accountMemberId,
  members: h.members.map((m) => ({ memberId: m.memberId, canSpend: m.canSpend, joinedAt: m.joinedAt.toISOString() })),
  balance: presentBalance(h.balance), createdAt: h.createdAt.toISOString(),
});

const PoolEntrySchema = Type.Object({
  object: Type.Literal('household_entry'),
  entryId: Id('the journal entry'),
  kind: Type.String({ description: 'the journal entry\'s kind: transfer (brought or earned into the pool), redeem (spent), reverse (a return taking back points the member earned into the pool), mature, expire…' }),
  action: Nullable(Type.String({ enum: ['brought', 'earned', 'spent', 'returned'], description: 'what a member did; null for the ledger\'s own entries (maturing, expiry)' })),
  memberId: Nullable(Id('the member who brought, earned, spent or returned')),
  change: Points("what the entry did to the pool (available + pending + held)"),
  ref: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  createdAt: Timestamp('when'),
});

const presentPoolEntry = (e: PoolEntryRow) => ({
  object: 'household_entry' as const, entryId: e.entry_id, kind: e.kind, action: e.action, memberId: e.for_member_id,
  change: Number(e.pool_change), ref: e.ref, reason: e.reason, createdAt: new Date(e.created_at).toISOString(),
});

const HouseholdParams = Type.Object({ householdId: Id('the household') });
const HouseholdMemberParams = Type.Object({ householdId: Id('the household'), memberId: Id('the member') });

export const householdRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/households', {
    schema: {
      operationId: 'createHousehold', summary: 'Create a household', tags: ['households'],
      description: "A shared points wallet for several members of a program. Laurel creates the household's account member, whose points wallet is the pool; members join with PUT /v1/households/{householdId}/members/{memberId}.",
      headers: OptionalIdempotencyHeader,
      body: Type.Object({ programId: Id('the program'), name: Type.String({ minLength: 1, maxLength: 200, examples: ['The Garcias'] }) }, { additionalProperties: false }),
      response: { 201: described(HouseholdSchema, 'The household, with no members yet.'), ...errors(400, 403, 404, 409) },
    },
    config: { access: POS },
  }, async (request, reply) => reply.status(201).send(presentHousehold(await createHousehold(laurel, tenantOf(request), request.body, clientKey(request)))));

  app.get('/programs/:programId/households', {
    schema: {
      operationId: 'listHouseholds', summary: "A program's households", tags: ['households'], description: 'Newest first, each with its members and the pool\'s balance.',
      params: Type.Object({ programId: Id('the program') }), querystring: Type.Object({ ...ListQuery }, { additionalProperties: false }),
      response: { 200: listOf(HouseholdSchema, 'A page of households.'), ...errors(400, 403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await listHouseholds(laurel, tenantOf(request), request.params.programId, { before: decodeCursor(request.query.cursor), limit });
    const p = page(rows, limit, (h) => h.householdId);
    return { ...p, data: p.data.map(presentHousehold) };
  });

  app.get('/households/:householdId', {
    schema: {
      operationId: 'getHousehold', summary: 'Get a household', tags: ['households'], description: 'Its members, their permissions and the pool\'s balance.',
      params: HouseholdParams, response: { 200: described(HouseholdSchema, 'The household.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentHousehold(await getHousehold(laurel, tenantOf(request), request.params.householdId)));

  app.get('/members/:memberId/household', {
    schema: {
      operationId: 'getMemberHousehold', summary: "A member's household", tags: ['households'],
      description: 'The household the member is in now, with the pool\'s balance; 404 when they are in none. A member token may read its own.',
      params: Type.Object({ memberId: Id('the member') }), response: { 200: described(HouseholdSchema, 'The household.'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => presentHousehold(await getMemberHousehold(laurel, tenantOf(request), request.params.memberId)));

  app.put('/households/:householdId/members/:memberId', {
    schema: {
      operationId: 'putHouseholdMember', summary: 'Add a member to a household, or change their permission', tags: ['households'],
      description: "A member who joins brings all their points (available and pending, with their dates) into the pool, as one transfer entry; a member with a negative balance settles it first (409), a member of another household leaves it first (409). From then on, every point they earn in the points wallet moves into the pool in the event's own transaction. For a member already in the household, only `canSpend` changes.",
      params: HouseholdMemberParams, headers: OptionalIdempotencyHeader,
      body: Type.Object({ canSpend: Type.Boolean({ description: "whether the member may spend the pool's points" }) }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('household_membership'), joined: Type.Boolean({ description: 'true when the member joined now; false when they were already in' }),
          brought: Points('points the member brought into the pool'), household: HouseholdSchema,
        }), 'The household after the change.'),
        ...errors(400, 403, 404, 409),
      },
    },
    config: { access: POS },
  }, async (request) => {
    const r = await putHouseholdMember(laurel, {
      tenantId: tenantOf(request), householdId: request.params.householdId, memberId: request.params.memberId, canSpend: request.body.canSpend,
      actor: actorOf(request), idempotencyKey: clientKey(request),
    });
    return { object: 'household_membership' as const, joined: r.joined, brought: Number(r.brought), household: presentHousehold(r.household) };
  });

  app.delete('/households/:householdId/members/:memberId', {
    schema: {
      operationId: 'removeHouseholdMember', summary: 'A member leaves a household', tags: ['households'],
      description: 'The member takes nothing: what they brought and earned stays in the pool. Their own wallet earns for them again from then on.',
      params: HouseholdMemberParams, response: { 200: described(HouseholdSchema, 'The household after they left.'), ...errors(403, 404) },
    },
    config: { access: POS },
  }, async (request) => presentHousehold(await leaveHousehold(laurel, { tenantId: tenantOf(request), ...request.params })));

  app.post('/households/:householdId/redemptions', {
    schema: {
      operationId: 'spendFromHousehold', summary: "A member spends the household's points", tags: ['households'],
      description: "A redeem from the pool, recorded as spent by the member. The member must be in the household with `canSpend` (409 otherwise); two members spending the last points at once: one succeeds, the other is refused with 422.",
      params: HouseholdParams, headers: IdempotencyHeader,
      body: Type.Object({
        memberId: Id('the member spending'), amount: PositivePoints('points to spend'),
        ref: Type.Optional(Type.String({ maxLength: 200, description: 'your reference: order id', examples: ['order-2001'] })),
      }, { additionalProperties: false }),
      response: { 201: described(Type.Ref('LedgerResult'), "The redeem entry and the pool's balance after it."), ...errors(400, 403, 404, 409, 422) },
    },
    config: { access: POS, operation: 'household_spend' },
  }, async (request, reply) => reply.status(201).send(presentLedgerResult(await spendFromHousehold(laurel, {
    tenantId: tenantOf(request), householdId: request.params.householdId, idempotencyKey: clientKey(request)!, actor: actorOf(request), ...request.body,
  }))));

  app.get('/households/:householdId/journal', {
    schema: {
      operationId: 'listHouseholdJournal', summary: "The household pool's journal", tags: ['households'],
      description: 'Newest first: every entry of the pool with the member who brought, earned or spent it, or whose return took points back from it.',
      params: HouseholdParams, querystring: Type.Object({ ...ListQuery }, { additionalProperties: false }),
      response: { 200: listOf(PoolEntrySchema, 'A page of the journal.'), ...errors(400, 403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await householdJournal(laurel, tenantOf(request), request.params.householdId, { before: decodeCursor(request.query.cursor), limit });
    const p = page(rows, limit, (e) => e.entry_id);
    return { ...p, data: p.data.map(presentPoolEntry) };
  });
};
