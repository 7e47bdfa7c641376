// Employee recognition: a program's giving rules, the allowance, gifts between members (a member
// token may give for its own member), approvals by a manager, the feed, the leaderboard and the
// giving report.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { MAX_ALLOWANCE, MAX_MESSAGE, MAX_VALUES, PERIODS } from '../../core/engagement/recognition.js';
import { dateTime } from '../../core/input.js';
import type { Laurel } from '../../services/context.js';
import {
  approveGift, declineGift, getGift, getGivingReport, getLeaderboard, getRecognition, give, issueProgramAllowances, listProgramGifts, listRecognitionPrograms,
  memberFeed, putRecognition, type Gift, type GiftResult, type StoredSettings,
} from '../../services/recognition.js';
import { actorOf, ADMIN, clientKey, READ, READ_OR_MEMBER, tenantOf, type Access } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { presentBalance, presentEntry } from '../present.js';
import { described, errors, Id, IdempotencyHeader, listOf, ListQuery, Nullable, Points, Timestamp } from '../schemas.js';

const Period = Type.String({ enum: [...PERIODS], description: 'how often the allowance is credited: weeks start on Monday, periods at midnight in the tenant\'s zone' });
const Amount = (description: string) => Type.Integer({ minimum: 1, maximum: Number(MAX_ALLOWANCE), description, examples: [500] });

const SettingsBody = Type.Object({
  givingWallet: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'the wallet the allowance is credited to and gifts are paid from (default `giving`); a qualifying wallet keeps ordinary redemptions and transfers off it' })),
  receivingWallet: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'the redeemable wallet received points land in (default `points`)' })),
  allowance: Amount('points each active member may give per period'),
  period: Period,
  carryOver: Type.Optional(Type.Boolean({ description: 'unspent allowance stays (true) or lapses at the end of its period (false, the default)' })),
  maxGift: Type.Optional(Amount('the most one gift may give (default: the allowance)')),
  approvalThreshold: Type.Optional(Nullable(Amount('gifts above this wait for a manager\'s approval; null: none wait'))),
  values: Type.Array(Type.String({ maxLength: 40 }), { minItems: 1, maxItems: MAX_VALUES, description: 'the company values a gift is tagged with', examples: [['teamwork', 'customer-first']] }),
}, {
  additionalProperties: false,
  examples: [{ allowance: 500, period: 'month', carryOver: false, maxGift: 200, approvalThreshold: 100, values: ['teamwork', 'customer-first', 'ownership'] }],
});

const SettingsSchema = Type.Object({
  object: Type.Literal('recognition_program'),
  programId: Id('the program'),
  kind: Type.Literal('recognition'),
  givingWallet: Type.String(), receivingWallet: Type.String(),
  allowance: Points('points per member and period'), period: Period, carryOver: Type.Boolean(),
  maxGift: Points('the most one gift gives'), approvalThreshold: Nullable(Points('gifts above this wait for approval')),
  values: Type.Array(Type.String()),
  updatedAt: Timestamp('when the settings were saved'),
});

const GiftSchema = Type.Object({
  object: Type.Literal('gift'),
  giftId: Id('the gift'),
  programId: Id('the program'),
  giverId: Id('the member who gave'),
  receiverId: Id('the member who received'),
  amount: Points('points given'),
  message: Type.String(),
  value: Type.String({ description: 'the company value it recognises' }),
  status: Type.String({ enum: ['pending', 'approved', 'declined'], description: 'pending: above the approval threshold, waiting for a manager' }),
  spendEntryId: Id("the journal entry spending the giver's allowance"),
  creditEntryId: Nullable(Id("the journal entry crediting the receiver's points (once approved)")),
  returnEntryId: Nullable(Id('the reversal giving a declined gift back to the allowance')),
  decidedBy: Nullable(Type.String({ description: '`auto` below the threshold, else the manager\'s key or user' })),
  decidedAt: Nullable(Timestamp('when approved or declined')),
  note: Nullable(Type.String({ description: "the manager's note" })),
  createdAt: Timestamp('when it was given'),
});

const GiftResultSchema = Type.Object({
  object: Type.Literal('gift_result'),
  gift: GiftSchema,
  entries: Type.Array(Type.Ref('JournalEntry')),
  balances: Type.Array(Type.Ref('Balance'), { description: "the giver's giving wallet and, once credited, the receiver's wallet" }),
});

const presentGift = (g: Gift) => ({
  object: 'gift' as const, giftId: g.giftId, programId: g.programId, giverId: g.giverId, receiverId: g.receiverId, amount: Number(g.amount),
  message: g.message, value: g.value, status: g.status, spendEntryId: g.spendEntryId, creditEntryId: g.creditEntryId,
  returnEntryId: g.returnEntryId, decidedBy: g.decidedBy, decidedAt: g.decidedAt?.toISOString() ?? null, note: g.note,
  createdAt: g.createdAt.toISOString(),
});

const presentResult = (r: GiftResult) => ({
  object: 'gift_result' as const, gift: presentGift(r.gift), entries: r.entries.map(presentEntry), balances: r.balances.map(presentBalance),
});

const presentSettings = (s: StoredSettings) => ({
  object: 'recognition_program' as const, programId: s.programId, kind: 'recognition' as const, givingWallet: s.givingWallet,
  receivingWallet: s.receivingWallet, allowance: Number(s.allowance), period: s.period, carryOver: s.carryOver, maxGift: Number(s.maxGift),
  approvalThreshold: s.approvalThreshold === null ? null : Number(s.approvalThreshold), values: s.values, updatedAt: s.updatedAt.toISOString(),
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const GiftParams = Type.Object({ giftId: Id('the gift') });
const MemberParams = Type.Object({ memberId: Id('the member') });
/** Gives: POS and admin keys, and a member token for its own member (an employee giving from the portal). */
const GIVER: Access = { scopes: ['admin', 'pos'], member: true };

const write = (request: FastifyRequest) => ({ tenantId: tenantOf(request), idempotencyKey: clientKey(request)!, actor: actorOf(request) });

export const recognitionRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/recognition-programs', {
    schema: {
      operationId: 'listRecognitionPrograms', summary: "The tenant's recognition programs", tags: ['recognition'],
      description: 'Every program of kind `recognition`, with its giving rules.',
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(SettingsSchema) }), 'The recognition programs.'), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listRecognitionPrograms(laurel, tenantOf(request))).map(presentSettings) }));

  app.get('/programs/:programId/recognition', {
    schema: {
      operationId: 'getRecognition', summary: "A recognition program's giving rules", tags: ['recognition'],
      description: 'The allowance, its period, carry-over, the per-gift maximum, the approval threshold and the company values; 404 when the program is not a recognition program.',
      params: ProgramParams, response: { 200: described(SettingsSchema, 'The giving rules.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentSettings(await getRecognition(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/recognition', {
    schema: {
      operationId: 'setRecognition', summary: 'Make a program a recognition program', tags: ['recognition'],
      description: 'Saves the giving rules; the program becomes (or stays) a program of kind `recognition`. Changes apply from the next allowance and gift.',
      params: ProgramParams, body: SettingsBody,
      response: { 200: described(SettingsSchema, 'The giving rules as saved.'), ...errors(400, 403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentSettings(await putRecognition(laurel, tenantOf(request), request.params.programId, request.body)));

  app.post('/programs/:programId/recognition/allowances', {
    schema: {
      operationId: 'issueAllowances', summary: "Credit this period's allowance now", tags: ['recognition'],
      description: "What the `recognition_allowances` job does every hour, for this program: each active member who has not had this period's allowance gets it, once (a second call credits nobody).",
      params: ProgramParams,
      response: {
        200: described(Type.Object({ object: Type.Literal('allowance_run'), members: Type.Integer({ description: 'members credited' }), points: Points('points credited in all') }), 'What was credited.'),
        ...errors(403, 404),
      },
    },
    config: { access: ADMIN },
  }, async (request) => {
    const r = await issueProgramAllowances(laurel, tenantOf(request), request.params.programId);
    return { object: 'allowance_run' as const, members: r.members, points: Number(r.points) };
  });

  app.post('/members/:memberId/gifts', {
    schema: {
      operationId: 'giveRecognition', summary: 'Give points to a peer', tags: ['recognition'],
      description: "The member gives from their allowance, with a message and a company value. Not to themselves, at most the program's maxGift, at most what is left of the allowance (422). Above the approval threshold the allowance is spent at once and the gift waits for a manager (status `pending`); otherwise the receiver is credited at once, in their redeemable wallet. A member token may give for its own member.",
      params: MemberParams, headers: IdempotencyHeader,
      body: Type.Object({
        receiverId: Id('the member recognised'),
        amount: Type.Integer({ minimum: 1, description: 'points to give', examples: [50] }),
        message: Type.String({ minLength: 1, maxLength: MAX_MESSAGE, examples: ['Thanks for covering the Saturday shift!'] }),
        value: Type.String({ minLength: 1, maxLength: 40, description: "one of the program's company values", examples: ['teamwork'] }),
      }, { additionalProperties: false }),
      response: { 201: described(GiftResultSchema, 'The gift, its journal entries and the balances after it.'), ...errors(400, 403, 404, 409, 422) },
    },
    config: { access: GIVER, operation: 'gift' },
  }, async (request, reply) => reply.status(201).send(presentResult(await give(laurel, { ...write(request), giverId: request.params.memberId, ...request.body }))));

  for (const [verb, run, summary] of [['approve', approveGift, "Approve a gift waiting for a manager"], ['decline', declineGift, 'Decline a gift waiting for a manager']] as const) {
    app.post(`/gifts/:giftId/${verb}`, {
      schema: {
        operationId: `${verb}Gift`, summary, tags: ['recognition'],
        description: verb === 'approve'
          ? "Credits the receiver's redeemable wallet with the gift. 409 when the gift is not pending."
          : "Gives the points back to the giver's allowance (they lapse with it if its period has ended). 409 when the gift is not pending.",
        params: GiftParams, headers: IdempotencyHeader,
        body: Type.Optional(Type.Object({ note: Type.Optional(Type.String({ maxLength: 500, description: 'why, for the giver and the audit log' })) }, { additionalProperties: false })),
        response: { 201: described(GiftResultSchema, 'The gift as decided, its journal entry and the balance it changed.'), ...errors(400, 403, 404, 409) },
      },
      config: { access: ADMIN },
    }, async (request, reply) => reply.status(201).send(presentResult(await run(laurel, { ...write(request), giftId: request.params.giftId, note: request.body?.note }))));
  }

  app.get('/gifts/:giftId', {
    schema: {
      operationId: 'getGift', summary: 'Get a gift', tags: ['recognition'], description: 'One gift with its status and journal entries.',
      params: GiftParams, response: { 200: described(GiftSchema, 'The gift.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentGift(await getGift(laurel, tenantOf(request), request.params.giftId)));

  app.get('/programs/:programId/gifts', {
    schema: {
      operationId: 'listGifts', summary: "A program's gifts", tags: ['recognition'],
      description: 'Newest first; `status=pending` is what managers have to decide.',
      params: ProgramParams,
      querystring: Type.Object({
        ...ListQuery,
        status: Type.Optional(Type.String({ enum: ['pending', 'approved', 'declined'] })),
        memberId: Type.Optional(Id('only gifts this member gave or received')),
      }, { additionalProperties: false }),
      response: { 200: listOf(GiftSchema, 'A page of gifts.'), ...errors(400, 403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await listProgramGifts(laurel, tenantOf(request), {
      programId: request.params.programId, status: request.query.status as Gift['status'] | undefined,
      memberId: request.query.memberId, before: decodeCursor(request.query.cursor), limit,
    });
    const p = page(rows, limit, (g) => g.giftId);
    return { ...p, data: p.data.map(presentGift) };
  });

  app.get('/members/:memberId/recognition-feed', {
    schema: {
      operationId: 'getRecognitionFeed', summary: "The recognition feed of a member's program", tags: ['recognition'],
      description: "Approved gifts of the member's program, newest first: what the portal's feed shows. A member token may read its own.",
      params: MemberParams, querystring: Type.Object({ ...ListQuery }, { additionalProperties: false }),
      response: { 200: listOf(GiftSchema, 'A page of the feed.'), ...errors(400, 403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await memberFeed(laurel, tenantOf(request), request.params.memberId, { before: decodeCursor(request.query.cursor), limit });
    const p = page(rows, limit, (g) => g.giftId);
    return { ...p, data: p.data.map(presentGift) };
  });

  app.get('/programs/:programId/recognition/leaderboard', {
    schema: {
      operationId: 'getRecognitionLeaderboard', summary: 'The most recognised members of a period', tags: ['recognition'],
      description: "Members by points received in approved gifts given within the period holding `at` (default: now), on the tenant's calendar.",
      params: ProgramParams,
      querystring: Type.Object({
        at: Type.Optional(Type.String({ maxLength: 40, description: 'any instant of the period wanted, with its offset', examples: ['2026-11-15T12:00:00+01:00'] })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
      }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('recognition_leaderboard'), programId: Id('the program'), period: Period,
          from: Timestamp('the period\'s start'), to: Timestamp('its end (exclusive)'),
          leaders: Type.Array(Type.Object({ rank: Type.Integer(), memberId: Id('the member'), externalId: Nullable(Type.String()), received: Points('points received'), gifts: Type.Integer() })),
        }), 'The leaderboard.'),
        ...errors(400, 403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const board = await getLeaderboard(laurel, tenantOf(request), request.params.programId, dateTime(request.query.at, 'at'), request.query.limit ?? 10);
    return {
      object: 'recognition_leaderboard' as const, programId: board.programId, period: board.period, from: board.from.toISOString(), to: board.to.toISOString(),
      leaders: board.leaders.map((l, i) => ({ rank: i + 1, memberId: l.member_id, externalId: l.external_id, received: Number(l.received), gifts: l.gifts })),
    };
  });

  app.get('/programs/:programId/recognition/report', {
    schema: {
      operationId: 'getGivingReport', summary: 'Giving by team or attribute', tags: ['recognition'],
      description: "Approved gifts within [from, to) (default: the current period) grouped by a member attribute — the giver's for what was given, the receiver's for what was received. Members without the attribute are the group null.",
      params: ProgramParams,
      querystring: Type.Object({
        attribute: Type.String({ minLength: 1, maxLength: 64, description: 'a member attribute: team, department, site', examples: ['team'] }),
        from: Type.Optional(Type.String({ maxLength: 40, description: 'start (inclusive), with its offset' })),
        to: Type.Optional(Type.String({ maxLength: 40, description: 'end (exclusive), with its offset' })),
      }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('giving_report'), programId: Id('the program'), attribute: Type.String(), from: Timestamp('start'), to: Timestamp('end'),
          groups: Type.Array(Type.Object({
            group: Nullable(Type.String({ description: 'the attribute\'s value' })), given: Points('points its members gave'), giftsGiven: Type.Integer(),
            givers: Type.Integer({ description: 'members who gave' }), received: Points('points its members received'), giftsReceived: Type.Integer(),
          })),
        }), 'The report.'),
        ...errors(400, 403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const from = dateTime(request.query.from, 'from') ?? undefined;
    const to = dateTime(request.query.to, 'to') ?? undefined;
    const r = await getGivingReport(laurel, tenantOf(request), request.params.programId, { attribute: request.query.attribute, from, to });
    return {
      object: 'giving_report' as const, programId: r.programId, attribute: r.attribute, from: r.from.toISOString(), to: r.to.toISOString(),
      groups: r.groups.map((g) => ({ ...g, given: Number(g.given), received: Number(g.received) })),
    };
  });
};
