// Members: enrol, find by any identifier, list, update, suspend, erase; portal tokens.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Laurel } from '../../services/context.js';
import { enrolMember } from '../../services/events.js';
import {
  eraseMember, findMember, getMember, IDENTIFIERS, listMembers, searchMembers, setMemberStatus, updateMember, type Member,
} from '../../services/members.js';
import { ADMIN, adminOnlyField, clientKey, POS, READ, READ_OR_MEMBER, signMemberToken, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { httpProblem } from '../problems.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Identifiers = {
  externalId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: "the brand's own customer id", examples: ['cust_4711'] }))),
  email: Type.Optional(Nullable(Type.String({ minLength: 3, maxLength: 200, examples: ['ada@example.com'] }))),
  phone: Type.Optional(Nullable(Type.String({ minLength: 3, maxLength: 30, description: 'international form', examples: ['+33612345678'] }))),
  cardCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: 'loyalty card number or QR payload', examples: ['CARD-0001'] }))),
};
const Details = {
  attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'free-form JSON the brand keeps on the member' })),
  birthday: Type.Optional(Nullable(Type.String({ format: 'date', examples: ['1990-04-30'] }))),
  tier: Type.Optional(Nullable(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description: "the tier the member qualifies for; admin keys only. Rules read it as member.tier unless a paid membership holds the member on another (GET /members/{memberId}/tier)", examples: ['gold'] }))),
  grade: Type.Optional(Nullable(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description: "the member's customer grade, as rules read it (member.grade); admin keys only", examples: ['a'] }))),
};

const MemberSchema = Type.Object({
  object: Type.Literal('member'),
  memberId: Id('the member'),
  programId: Id('the program'),
  externalId: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  cardCode: Nullable(Type.String()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  birthday: Nullable(Type.String()),
  tier: Nullable(Type.String({ description: 'the tier the member qualifies for; while a paid membership holds them on another, GET /members/{memberId}/tier tells the one they hold (what rules and rewards read)' })),
  grade: Nullable(Type.String()),
  status: Type.String({ enum: ['active', 'suspended', 'erased'] }),
  enrolledAt: Timestamp('when the member joined'),
  enrolledByEvent: Nullable(Type.String({
    description: "the externalId of the event that enrolled the member (a universal program enrols someone its first event names); null: enrolled by a request",
    examples: ['order-1001'],
  })),
});

const presentMember = (m: Member) => ({
  object: 'member' as const, memberId: m.memberId, programId: m.programId, externalId: m.externalId, email: m.email,
  phone: m.phone, cardCode: m.cardCode, attributes: m.attributes, birthday: m.birthday, tier: m.tier, grade: m.grade, status: m.status,
  enrolledAt: m.enrolledAt.toISOString(), enrolledByEvent: m.enrolledByEvent ?? null,
});

/** A welcome that failed is logged; the member is enrolled and the welcomes job sends it again. */
export const welcomeFailed = (request: FastifyRequest) => (err: unknown) =>
  request.log.error({ err }, 'the welcome (signup event) of a new member failed; the welcomes job will send it again');

const MemberParams = Type.Object({ memberId: Id('the member') });

export const memberRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/members', {
    schema: {
      summary: 'Enrol a member', tags: ['members'], operationId: 'createMember',
      description: "Identifiers (externalId, email, phone, cardCode) are unique within the program; at least one is required. Emails are stored lower-case, phones in E.164. When the program has `signup` rules, the member's welcome (a signup event) follows; if it fails, the member stays enrolled and the `welcomes` job sends it again within minutes, once.",
      headers: OptionalIdempotencyHeader,
      body: Type.Object({
        programId: Id('the program'), ...Identifiers, ...Details,
        referralCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64, description: "the referral code of the member who referred this one (the program's referrals must be on); attributed once, for good", examples: ['7K3M9QXR2B4TDW6H'] }))),
      }, { additionalProperties: false }),
      response: { 201: { ...MemberSchema, description: 'The member enrolled (or, replayed, the one the first call enrolled).' }, ...errors(403, 404, 409) },
    },
    config: { access: POS },
  }, async (request, reply) => {
    for (const field of ['tier', 'grade'] as const) if (request.body[field] !== undefined) adminOnlyField(request, field);
    return reply.status(201).send(presentMember(await enrolMember(laurel, tenantOf(request),
      request.body as Parameters<typeof enrolMember>[2], clientKey(request), { onWelcomeFailed: welcomeFailed(request) })));
  });

  app.get('/members', {
    schema: {
      operationId: 'listMembers', summary: 'List members', tags: ['members'], description: 'In enrolment order, a page at a time.',
      querystring: Type.Object({
        programId: Type.Optional(Id('only this program')),
        status: Type.Optional(Type.String({ enum: ['active', 'suspended', 'erased'] })),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(MemberSchema, 'a page of members'), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listMembers(laurel, tenantOf(request), { programId: q.programId, status: q.status as Member['status'] | undefined, after: decodeCursor(q.cursor), limit });
    const p = page(rows, limit, (m) => m.memberId);
    return { ...p, data: p.data.map(presentMember) };
  });

  app.get('/members/search', {
    schema: {
      summary: 'Search members by any identifier', tags: ['members'], operationId: 'searchMembers',
      description: 'The console search box: members whose member id, external id, e-mail, phone or card code is exactly `q` (e-mail in any case, phone with or without spaces). At most 20.',
      querystring: Type.Object({
        q: Type.String({ minLength: 1, maxLength: 200, description: 'an identifier of any kind', examples: ['CARD-0001'] }),
        programId: Type.Optional(Id('only this program')),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(MemberSchema) }, { description: 'the members found, none if nothing matches' }), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await searchMembers(laurel, tenantOf(request), request.query.q, request.query.programId)).map(presentMember) }));

  app.get('/members/lookup', {
    schema: {
      operationId: 'lookupMember', summary: 'Find a member by an identifier', tags: ['members'],
      description: 'Give the program and exactly one of externalId, email, phone, cardCode — e.g. the card a cashier scans.',
      querystring: Type.Object({
        programId: Id('the program'),
        externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        email: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        phone: Type.Optional(Type.String({ minLength: 1, maxLength: 30 })),
        cardCode: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      }, { additionalProperties: false }),
      response: { 200: described(MemberSchema, 'The member the identifier belongs to.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const given = IDENTIFIERS.filter((k) => q[k] !== undefined);
    if (given.length !== 1) {
      throw httpProblem('validation', 'give exactly one of externalId, email, phone, cardCode', [{ field: 'externalId', message: 'exactly one identifier is required' }]);
    }
    return presentMember(await findMember(laurel, tenantOf(request), q.programId!, given[0]!, q[given[0]!]!));
  });

  app.get('/members/:memberId', {
    schema: { operationId: 'getMember', summary: 'Get a member', tags: ['members'], description: 'The member profile. A member token may read its own member.', params: MemberParams, response: { 200: described(MemberSchema, 'The member.'), ...errors(403, 404) } },
    config: { access: READ_OR_MEMBER },
  }, async (request) => presentMember(await getMember(laurel, tenantOf(request), request.params.memberId)));

  app.patch('/members/:memberId', {
    schema: {
      operationId: 'updateMember', summary: 'Update a member', tags: ['members'], description: 'Only the fields given change; null clears an identifier.',
      params: MemberParams,
      body: Type.Object({ ...Identifiers, ...Details }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: described(MemberSchema, 'The member as updated.'), ...errors(403, 404, 409) },
    },
    config: { access: POS },
  }, async (request) => {
    for (const field of ['tier', 'grade'] as const) if (request.body[field] !== undefined) adminOnlyField(request, field);
    return presentMember(await updateMember(laurel, tenantOf(request), request.params.memberId, request.body as Parameters<typeof updateMember>[3]));
  });

  for (const [action, status] of [['suspend', 'suspended'], ['reactivate', 'active']] as const) {
    app.post(`/members/:memberId/${action}`, {
      schema: {
        operationId: `${action}Member`, summary: action === 'suspend' ? 'Suspend a member' : 'Reactivate a member', tags: ['members'],
        description: action === 'suspend' ? 'A suspended member can neither earn nor spend; their entries can still be reversed.' : 'Lift a suspension.',
        params: MemberParams, response: { 200: described(MemberSchema, `The member, ${status}.`), ...errors(403, 404, 409) },
      },
      config: { access: ADMIN },
    }, async (request) => presentMember(await setMemberStatus(laurel, tenantOf(request), request.params.memberId, status === 'suspended' ? 'suspended' : 'active')));
  }

  app.post('/members/:memberId/erase', {
    schema: {
      operationId: 'eraseMember', summary: 'Erase personal data (GDPR)', tags: ['members'],
      description: 'Deletes identifiers, attributes and birthday. The member id and the ledger stay, so every balance and report still adds up.',
      params: MemberParams, response: { 200: described(MemberSchema, 'The member, erased: identifiers, attributes and birthday are gone.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentMember(await eraseMember(laurel, tenantOf(request), request.params.memberId)));

  app.post('/members/:memberId/tokens', {
    schema: {
      operationId: 'createMemberToken', summary: 'Issue a member portal token', tags: ['members'],
      description: "A JWT that reads only this member's profile, balances and journal: hand it to the member portal or widget.",
      params: MemberParams,
      body: Type.Optional(Type.Object({ ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400, default: 3600 })) }, { additionalProperties: false })),
      response: { 201: described(Type.Object({ object: Type.Literal('member_token'), token: Type.String(), expiresAt: Timestamp('when it stops working') }), 'The token and when it expires.'), ...errors(403, 404) },
    },
    config: { access: POS },
  }, async (request, reply) => {
    const member = await getMember(laurel, tenantOf(request), request.params.memberId);
    const { token, expiresAt } = await signMemberToken(laurel, member.tenantId, member.memberId, request.body?.ttlSeconds ?? 3600);
    return reply.status(201).send({ object: 'member_token' as const, token, expiresAt: expiresAt.toISOString() });
  });
};
