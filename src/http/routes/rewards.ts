// The rewards catalog, redemption and reward instances, pay-with-points quotes, donations.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { displayCode, qrPayload } from '../../core/rewards/codes.js';
import type { Lock } from '../../core/rewards/eligibility.js';
import { REWARD_TYPES, type Reward, type RewardValue } from '../../core/rewards/reward.js';
import type { Instance, RewardRow } from '../../db/rewards.js';
import type { Laurel } from '../../services/context.js';
import {
  cancelInstance, consumeInstance, createReward, donations, getInstance, getReward, importPartnerCodes, listRewards, memberInstances, programInstances,
  quotePointsPayment, redeemReward, rewardsForMember, updateReward, validateInstance, type Redemption,
} from '../../services/rewards.js';
import { actorOf, ADMIN, clientKey, POS, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { plain, presentLedgerResult } from '../present.js';
import { described, errors, Id, IdempotencyHeader, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Money = (description: string) => Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description });
const Codes = (description: string) => Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$' }), { minItems: 1, maxItems: 50, description });

const ValueBody = Type.Object({
  type: Type.String({ enum: [...REWARD_TYPES] }),
  amount: Type.Optional(Money('fixed_discount: money off; store_credit: credit into `wallet`; donation: money given to `charity` (minor units)')),
  percent: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: 'percent_discount: percent off ("15", "12.5")' })),
  cap: Type.Optional(Nullable(Money('percent_discount: the most it takes off'))),
  sku: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'free_product: the product' })),
  wallet: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: "store_credit: the program's money wallet" })),
  startsAt: Type.Optional(Timestamp('experience: when it takes place')),
  location: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  charity: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'donation: who receives it' })),
  partner: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'partner_voucher: whose codes (import them with POST /v1/rewards/{id}/partner-codes)' })),
}, { additionalProperties: false, description: 'what it gives; the fields its type takes' });

const Cap = Type.Object({
  period: Type.String({ enum: ['day', 'week', 'month', 'year', 'lifetime'] }),
  times: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
  points: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }))),
}, { additionalProperties: false });

const RewardBody = Type.Object({
  code: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: "the program's code for it (tiers' rewardAccess names it)", examples: ['free-coffee'] }),
  name: Type.String({ minLength: 1, maxLength: 200, examples: ['A free coffee'] }),
  description: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 4000 }))),
  imageUrl: Type.Optional(Nullable(Type.String({ maxLength: 2000, description: 'http or https URL of its picture, shown in the console, the member portal and the widget', examples: ['https://cdn.example.com/rewards/latte.jpg'] }))),
  value: ValueBody,
  cost: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'points it costs' }),
  validFrom: Type.Optional(Nullable(Timestamp('redeemable from'))),
  validTo: Type.Optional(Nullable(Timestamp('redeemable until (excluded)'))),
  stock: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description: "instances it may issue (an experience's capacity); null: unlimited" }))),
  perMember: Type.Optional(Nullable(Type.Array(Cap, { maxItems: 5, description: 'per member and period (tenant time zone): at most `times` instances and/or `points` spent on it' }))),
  tiers: Type.Optional(Nullable(Codes('only members of these tiers'))),
  grades: Type.Optional(Nullable(Codes('only members of these grades'))),
  segment: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 4000, description: 'a CEL condition over `member` (as in rule conditions): only members it holds for', examples: ['member.attributes.city == "Paris"'] }))),
  channels: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100, description: 'only through these channels', examples: [['store']] }))),
  expiresAfterDays: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3650, description: 'an issued instance is valid this many days (default 30); null: until used' }))),
  enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false, examples: [{ code: 'free-coffee', name: 'A free coffee', value: { type: 'free_product', sku: 'LATTE-L' }, cost: 150, perMember: [{ period: 'week', times: 1 }] }] });

const RewardSchema = Type.Object({
  object: Type.Literal('reward'),
  rewardId: Id('the reward'),
  programId: Id('the program'),
  code: Type.String(), name: Type.String(), description: Nullable(Type.String()), imageUrl: Nullable(Type.String()),
  value: Type.Record(Type.String(), Type.Unknown()),
  cost: Type.Integer(),
  validFrom: Nullable(Type.String()), validTo: Nullable(Type.String()),
  stock: Nullable(Type.Integer()),
  issued: Type.Integer({ description: 'instances issued and not cancelled' }),
  perMember: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  tiers: Nullable(Type.Array(Type.String())), grades: Nullable(Type.Array(Type.String())), segment: Nullable(Type.String()),
  channels: Nullable(Type.Array(Type.String())), expiresAfterDays: Nullable(Type.Integer()), enabled: Type.Boolean(),
  partnerCodesFree: Type.Optional(Type.Integer({ description: "partner_voucher, in the catalog's list: imported codes not yet given out (redemptions stop at 0 whatever the stock)" })),
});

const presentValue = (v: RewardValue) => plain(v) as Record<string, unknown>;

const presentReward = (r: Reward, issued: bigint) => ({
  object: 'reward' as const, rewardId: r.rewardId, programId: r.programId, code: r.code, name: r.name, description: r.description,
  imageUrl: r.imageUrl, value: presentValue(r.value), cost: Number(r.cost), validFrom: r.validFrom?.toISOString() ?? null,
  validTo: r.validTo?.toISOString() ?? null, stock: r.stock === null ? null : Number(r.stock), issued: Number(issued),
  perMember: plain(r.perMember) as Record<string, unknown>[], tiers: r.tiers, grades: r.grades, segment: r.segment, channels: r.channels,
  expiresAfterDays: r.expiresAfterDays, enabled: r.enabled,
});
const presentRow = (row: RewardRow) => presentReward(row.reward, row.issued);

const InstanceSchema = Type.Object({
  object: Type.Literal('reward_instance'),
  instanceId: Id('the instance'),
  rewardId: Id('the reward'),
  memberId: Id('the member'),
  code: Type.String({ description: 'to show and type: four groups of four (case, dashes and I/L/O are forgiven)', examples: ['7K2M-9QXD-4TRB-HW3E'] }),
  qr: Type.String({ description: 'the payload of a QR code for the till', examples: ['LAUREL:7K2M9QXD4TRBHW3E'] }),
  status: Type.String({ enum: ['reserved', 'issued', 'consumed', 'cancelled', 'expired'] }),
  cost: Type.Integer({ description: 'points it cost' }),
  value: Type.Record(Type.String(), Type.Unknown(), { description: 'what it gives, as when it was issued' }),
  partnerCode: Nullable(Type.String({ description: "partner_voucher: the partner's code" })),
  channel: Nullable(Type.String()),
  entryId: Nullable(Id('the journal entry that paid it')),
  holdId: Nullable(Id('the hold paying it while it is reserved for a checkout')),
  issuedAt: Timestamp('when it was issued'),
  expiresAt: Nullable(Timestamp('when it stops being usable')),
  resolvedAt: Nullable(Timestamp('when it was used, cancelled or expired')),
  consumedRef: Nullable(Type.String({ description: 'the order it was used on' })),
});

const presentInstance = (i: Instance) => ({
  object: 'reward_instance' as const, instanceId: i.instanceId, rewardId: i.rewardId, memberId: i.memberId, code: displayCode(i.code),
  qr: qrPayload(i.code), status: i.status, cost: Number(i.cost), value: presentValue(i.value), partnerCode: i.partnerCode, channel: i.channel,
  entryId: i.entryId, holdId: i.holdId, issuedAt: new Date(i.issuedAt).toISOString(), expiresAt: i.expiresAt ? new Date(i.expiresAt).toISOString() : null,
  resolvedAt: i.resolvedAt ? new Date(i.resolvedAt).toISOString() : null, consumedRef: i.consumedRef,
});

const RedemptionSchema = Type.Object({
  object: Type.Literal('redemption'),
  instance: InstanceSchema,
  ledger: Type.Array(Type.Ref('LedgerResult'), { description: 'what paid it (a spend, a hold, a capture, a reversal) and the balances after' }),
});
const presentRedemption = (r: Redemption) => ({ object: 'redemption' as const, instance: presentInstance(r.instance), ledger: r.ledger.map(presentLedgerResult) });

const LockSchema = Type.Object({
  reason: Type.String({ enum: ['disabled', 'not_started', 'ended', 'channel', 'tier', 'grade', 'segment', 'stock', 'limit', 'points'] }),
  detail: Type.String({ examples: ['120 points missing'] }),
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const RewardParams = Type.Object({ rewardId: Id('the reward') });
const MemberParams = Type.Object({ memberId: Id('the member') });
const InstanceParams = Type.Object({ instanceId: Id('the reward instance') });
const CodeBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 64, description: 'as shown, typed or scanned', examples: ['7K2M-9QXD-4TRB-HW3E'] }) }, { additionalProperties: false });
const POS_OR_MEMBER = { scopes: POS.scopes, member: true } as const;

export const rewardRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/programs/:programId/rewards', {
    schema: {
      operationId: 'createReward', summary: 'Add a reward to the catalog', tags: ['rewards'],
      description: 'Types: fixed_discount, percent_discount (with a cap), free_product, free_shipping, store_credit (credited into a money wallet when redeemed), experience (stock is its capacity), donation (reported), partner_voucher (codes imported). Each with a cost, a validity window, stock, per-member limits, tier/grade/segment and channel restrictions.',
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: RewardBody, response: { 201: described(RewardSchema, 'The new reward.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => reply.status(201).send(presentRow(await createReward(laurel, tenantOf(request), request.params.programId, request.body, { idempotencyKey: clientKey(request) }))));

  app.get('/programs/:programId/rewards', {
    schema: { operationId: 'listRewards', summary: 'The catalog', tags: ['rewards'], description: "A program's rewards, by code.", params: ProgramParams, response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(RewardSchema) }), "The program's rewards."), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => ({
    object: 'list' as const,
    data: (await listRewards(laurel, tenantOf(request), request.params.programId)).map((row) => ({
      ...presentRow(row), ...(row.partnerCodesFree === undefined ? {} : { partnerCodesFree: Number(row.partnerCodesFree) }),
    })),
  }));

  app.get('/rewards/:rewardId', {
    schema: { operationId: 'getReward', summary: 'A reward', tags: ['rewards'], description: 'One reward of the catalog with its stock used.', params: RewardParams, response: { 200: described(RewardSchema, 'The reward.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => presentRow(await getReward(laurel, tenantOf(request), request.params.rewardId)));

  app.put('/rewards/:rewardId', {
    schema: { operationId: 'updateReward', summary: 'Change a reward', tags: ['rewards'], description: 'Replaces its definition (its type stays); instances already issued keep what they were issued with.', params: RewardParams, body: RewardBody, response: { 200: described(RewardSchema, 'The reward as changed.'), ...errors(403, 404, 409) } },
    config: { access: ADMIN },
  }, async (request) => presentRow(await updateReward(laurel, tenantOf(request), request.params.rewardId, request.body)));

  app.post('/rewards/:rewardId/partner-codes', {
    schema: {
      operationId: 'importPartnerCodes', summary: "Import a partner's voucher codes", tags: ['rewards'], description: 'Codes already imported are skipped. Each redemption takes one code nobody has.',
      params: RewardParams, body: Type.Object({ codes: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false }),
      response: { 201: described(Type.Object({ object: Type.Literal('partner_codes'), imported: Type.Integer(), free: Type.Integer({ description: 'codes not yet given out' }) }), 'How many codes were new, and how many are free.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => {
    const r = await importPartnerCodes(laurel, tenantOf(request), request.params.rewardId, request.body.codes);
    return reply.status(201).send({ object: 'partner_codes' as const, imported: r.imported, free: Number(r.free) });
  });

  app.get('/members/:memberId/rewards', {
    schema: {
      operationId: 'listMemberRewards', summary: 'Rewards for a member', tags: ['rewards'],
      description: 'The catalog as the member sees it: what they can redeem now (cheapest first), then what only points keep from them (closest first), then the rest, each with every reason it is locked.',
      params: MemberParams, querystring: Type.Object({ channel: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          object: Type.Literal('list'), available: Type.Integer({ description: "the member's available points" }),
          data: Type.Array(Type.Object({ reward: RewardSchema, redeemable: Type.Boolean(), stockLeft: Nullable(Type.Integer()), locks: Type.Array(LockSchema) })),
        }, { description: 'Every reward with whether the member can redeem it, and why not.' }),
        ...errors(403, 404),
      },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const items = await rewardsForMember(laurel, tenantOf(request), request.params.memberId, request.query.channel ?? null);
    return {
      object: 'list' as const, available: Number(items[0]?.available ?? 0n),
      data: items.map((x) => ({
        reward: presentReward(x.reward, x.issued),
        redeemable: x.locks.length === 0, stockLeft: x.stockLeft === null ? null : Number(x.stockLeft), locks: x.locks.map((l: Lock) => ({ ...l })),
      })),
    };
  });

  app.post('/members/:memberId/rewards/:rewardId/redeem', {
    schema: {
      operationId: 'redeemReward', summary: 'Redeem a reward', tags: ['rewards'],
      description: [
        'Spends the points and issues a reward instance with a unique, unguessable code (and a QR payload) that the shop validates and consumes once. With `holdSeconds` (part of a checkout) the points are held instead, and consuming the instance with the order captures them; unused, the hold runs out and the instance is cancelled.',
        'Refused with 409 (and the reason: tier, limit, stock, window…) when the member may not redeem it, 422 when their points are short. Stock and per-member limits hold under concurrency. A member token may redeem for its own member.',
      ].join('\n\n'),
      params: Type.Object({ memberId: Id('the member'), rewardId: Id('the reward') }), headers: IdempotencyHeader,
      body: Type.Object({
        channel: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['store'] })),
        holdSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86_400, description: 'part of a checkout: hold the points this long' })),
      }, { additionalProperties: false }),
      response: { 201: described(RedemptionSchema, 'The issued instance with its code, and the ledger entries that paid for it.'), ...errors(403, 404, 409, 422) },
    },
    config: { access: POS_OR_MEMBER, operation: 'redeem_reward' },
  }, async (request, reply) => reply.status(201).send(presentRedemption(await redeemReward(laurel, tenantOf(request), {
    rewardId: request.params.rewardId, memberId: request.params.memberId, ...request.body,
  }, { idempotencyKey: clientKey(request), actor: actorOf(request) }))));

  app.get('/members/:memberId/reward-instances', {
    schema: {
      operationId: 'listRewardInstances', summary: "A member's rewards", tags: ['rewards'], description: 'Issued to the member, newest first.',
      params: MemberParams, querystring: Type.Object(ListQuery, { additionalProperties: false }), response: { 200: listOf(InstanceSchema, 'a page of reward instances'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await memberInstances(laurel, tenantOf(request), request.params.memberId, decodeCursor(request.query.cursor), limit + 1);
    const p = page(rows, limit, (i) => i.instanceId);
    return { ...p, data: p.data.map(presentInstance) };
  });

  app.get('/programs/:programId/reward-instances', {
    schema: {
      operationId: 'listProgramRewardInstances', summary: 'Redemptions', tags: ['rewards'],
      description: "Every reward instance the program issued, newest first, a page at a time: the console's redemptions list. Filter by status (repeat the parameter), reward, member and when it was issued.",
      params: ProgramParams,
      querystring: Type.Object({
        status: Type.Optional(Type.Array(Type.String({ enum: ['reserved', 'issued', 'consumed', 'cancelled', 'expired'] }), { description: 'only these statuses (repeat the parameter)' })),
        rewardId: Type.Optional(Id('only this reward')),
        memberId: Type.Optional(Id('only this member')),
        from: Type.Optional(Timestamp('issued at or after')),
        to: Type.Optional(Timestamp('issued before')),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(InstanceSchema, 'a page of reward instances, newest first'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await programInstances(laurel, tenantOf(request), request.params.programId, {
      statuses: q.status as Instance['status'][] | undefined, rewardId: q.rewardId, memberId: q.memberId,
      from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined, before: decodeCursor(q.cursor), limit: limit + 1,
    });
    const p = page(rows, limit, (i) => i.instanceId);
    return { ...p, data: p.data.map(presentInstance) };
  });

  app.get('/reward-instances/:instanceId', {
    schema: { operationId: 'getRewardInstance', summary: 'A reward instance', tags: ['rewards'], description: 'One issued reward.', params: InstanceParams, response: { 200: described(InstanceSchema, 'The reward instance.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => presentInstance(await getInstance(laurel, tenantOf(request), request.params.instanceId)));

  app.post('/reward-instances/validate', {
    schema: {
      operationId: 'validateRewardCode', summary: 'Validate a reward code', tags: ['rewards'], description: 'What the till sees when it scans or types a code: the reward, what it gives, whether it can be used now (and if not, why). Changes nothing.',
      body: CodeBody,
      response: { 200: described(Type.Object({ object: Type.Literal('reward_validation'), usable: Type.Boolean(), reason: Nullable(Type.String()), instance: InstanceSchema, reward: RewardSchema }), 'The instance, its reward, and whether it can be used now.'), ...errors(403, 404) },
    },
    config: { access: POS },
  }, async (request) => {
    const v = await validateInstance(laurel, tenantOf(request), request.body.code);
    return { object: 'reward_validation' as const, usable: v.usable, reason: v.reason, instance: presentInstance(v.instance), reward: presentRow(v.reward) };
  });

  app.post('/reward-instances/consume', {
    schema: {
      operationId: 'consumeReward', summary: 'Use a reward', tags: ['rewards'], description: 'Marks the instance used on an order, once: a second consume is 409, even concurrently. A reserved instance captures its hold now.',
      headers: IdempotencyHeader,
      body: Type.Object({ code: CodeBody.properties.code, orderRef: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['order-4711'] })) }, { additionalProperties: false }),
      response: { 200: described(RedemptionSchema, 'The instance, now used, and any hold it captured.'), ...errors(403, 404, 409) },
    },
    config: { access: POS, operation: 'consume_reward' },
  }, async (request) => presentRedemption(await consumeInstance(laurel, tenantOf(request), request.body, { idempotencyKey: clientKey(request), actor: actorOf(request) })));

  app.post('/reward-instances/:instanceId/cancel', {
    schema: {
      operationId: 'cancelRewardInstance', summary: 'Cancel an unused reward', tags: ['rewards'], description: 'Gives back the exact points it cost, to the lots they came from (a reserved one: its hold is voided), and its unit to the stock.',
      params: InstanceParams, headers: IdempotencyHeader, response: { 200: described(RedemptionSchema, 'The instance, cancelled, and the entries that gave the points back.'), ...errors(403, 404, 409) },
    },
    config: { access: POS, operation: 'cancel_reward' },
  }, async (request) => presentRedemption(await cancelInstance(laurel, tenantOf(request), request.params.instanceId, { idempotencyKey: clientKey(request), actor: actorOf(request) })));

  app.post('/checkout/points-quote', {
    schema: {
      operationId: 'quotePointsPayment', summary: 'How much points can pay', tags: ['rewards'],
      description: "For a basket of `amount` minor units: the most points the member's balance can put towards it at the program's pointValue, and the money they pay. Nothing is held: hold the points (`POST /v1/members/{id}/holds`), then send the purchase with `pointsHoldId`; it captures them.",
      body: Type.Object({ memberId: Id('the member'), amount: Money('the basket, in minor units') }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          object: Type.Literal('points_quote'), memberId: Id('the member'), available: Type.Integer(), points: Type.Integer({ description: 'points to hold' }),
          money: Type.Integer({ description: 'what they pay (minor units): the purchase\'s paidWithPoints' }),
          pointValue: Type.Object({ points: Type.Integer(), minor: Type.Integer() }),
        }, { description: 'The points to hold and the money left to pay.' }),
        ...errors(403, 404, 409),
      },
    },
    config: { access: POS },
  }, async (request) => ({ object: 'points_quote' as const, ...(plain(await quotePointsPayment(laurel, tenantOf(request), request.body)) as { memberId: string; available: number; points: number; money: number; pointValue: { points: number; minor: number } }) }));

  app.get('/programs/:programId/donations', {
    schema: {
      operationId: 'listDonations', summary: 'Donations made with points', tags: ['rewards'], description: 'Per donation reward and charity: how many, how much money, how many points, over [from, to).',
      params: ProgramParams, querystring: Type.Object({ from: Type.Optional(Timestamp('from')), to: Type.Optional(Timestamp('until (excluded)')) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ object: Type.Literal('list'), data: Type.Array(Type.Object({ rewardId: Id('the reward'), charity: Type.String(), donations: Type.Integer(), amount: Type.Integer(), points: Type.Integer() })) }, { description: 'Donations per reward and charity.' }),
        ...errors(403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const rows = await donations(laurel, tenantOf(request), request.params.programId, {
      from: request.query.from ? new Date(request.query.from) : null, to: request.query.to ? new Date(request.query.to) : null,
    });
    return { object: 'list' as const, data: rows.map((r) => plain(r) as { rewardId: string; charity: string; donations: number; amount: number; points: number }) };
  });
};
