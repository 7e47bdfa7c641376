// Referrals: a program's settings, a member's code and link, the referrals and the funnel.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { REFERRAL_STATES, REJECTION_REASONS } from '../../core/referrals/referral.js';
import { CAP_PERIODS, DEFAULT_CONDITION, type SideReward } from '../../core/referrals/settings.js';
import type { Laurel } from '../../services/context.js';
import {
  getReferral, getReferralSettings, listReferrals, memberReferral, putReferralSettings, referralFunnel, type Referral, type SavedReferralSettings,
} from '../../services/referrals.js';
import { actorOf, ADMIN, clientKey, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Count = (description: string) => Type.Integer({ minimum: 1, maximum: 1_000_000, description });
const State = Type.String({ enum: [...REFERRAL_STATES] });
const Reason = Type.String({ enum: [...REJECTION_REASONS] });

const Side = (who: string) => Type.Object({
  points: Type.Integer({ minimum: 0, description: `points the ${who} earns into the points wallet, pending until the qualifying order's return window passes`, examples: [500] }),
  rewardId: Nullable(Id(`a catalog reward issued to the ${who} free of charge; null: none`)),
}, { description: `what the ${who} gets` });

const SideBody = (who: string) => Type.Object({
  points: Type.Optional(Type.Integer({ minimum: 0, description: `points for the ${who} (default 0)` })),
  rewardId: Type.Optional(Nullable(Type.String({ description: `a catalog reward for the ${who}` }))),
}, { additionalProperties: false });

const Caps = Type.Object({
  perPeriod: Nullable(Type.Object({ count: Count('referrals paid per period'), period: Type.String({ enum: [...CAP_PERIODS] }) }, { description: 'a calendar period in the tenant time zone (weeks start on Monday)' })),
  lifetime: Nullable(Count('referrals paid ever')),
}, { description: 'how many referrals a referrer is paid for; a referral over a cap is rejected (referrer_cap_reached)' });

const SettingsFields = {
  enabled: Type.Boolean({ description: 'referrals on or off; off: no codes are handed out and nothing qualifies' }),
  linkBaseUrl: Type.String({ description: 'the page a shared link opens: the code goes in place of `{code}`, or else in the `ref` query parameter', examples: ['https://shop.example/join'] }),
  condition: Type.String({ description: `CEL over the referee's event, as earning rules' conditions read it (without member.stats); default \`${DEFAULT_CONDITION}\``, examples: ['event.type == "purchase" && order.total >= 5000'] }),
  withinDays: Nullable(Type.Integer({ minimum: 1, maximum: 3650, description: 'days after joining in which the referee must qualify; null: no limit' })),
};

const SettingsSchema = Type.Object({
  object: Type.Literal('referral_settings'),
  programId: Id('the program'),
  ...SettingsFields,
  linkBaseUrl: Nullable(Type.String({ description: 'the page a shared link opens; null: never set', examples: ['https://shop.example/join'] })),
  referrer: Side('referrer'),
  referee: Side('referee'),
  caps: Caps,
  updatedAt: Nullable(Timestamp('when they were last set; null: never (referrals are off, the rest are the defaults)')),
});

const SettingsBody = Type.Object({
  enabled: SettingsFields.enabled,
  linkBaseUrl: Type.String({ maxLength: 500, description: 'the page a shared link opens: the code goes in place of `{code}`, or else in the `ref` query parameter' }),
  condition: Type.Optional(Type.String({ maxLength: 2000, description: `CEL over the referee's event (without member.stats); default \`${DEFAULT_CONDITION}\`` })),
  withinDays: Type.Optional(Nullable(Type.Integer({ description: 'days after joining in which the referee must qualify (1 to 3650); null: no limit' }))),
  referrer: Type.Optional(SideBody('referrer')),
  referee: Type.Optional(SideBody('referee')),
  caps: Type.Optional(Type.Object({
    perPeriod: Type.Optional(Nullable(Type.Object({ count: Type.Integer(), period: Type.String() }, { additionalProperties: false }))),
    lifetime: Type.Optional(Nullable(Type.Integer())),
  }, { additionalProperties: false })),
}, {
  additionalProperties: false,
  examples: [{
    enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 30,
    referrer: { points: 500 }, referee: { points: 500 }, caps: { perPeriod: { count: 10, period: 'month' }, lifetime: 50 },
  }],
});

const ReferralSchema = Type.Object({
  object: Type.Literal('referral'),
  referralId: Id('the referral'),
  programId: Id('the program'),
  referrerId: Id('the member whose code was used'),
  refereeId: Id('the member who joined with it'),
  code: Type.String({ description: 'the code used' }),
  state: { ...State, description: 'pending → qualified → rewarded, or rejected (with a reason) or reversed' },
  reason: Nullable({ ...Reason, description: 'why it was rejected' }),
  detail: Nullable(Type.String({ description: 'what the refusal found', examples: ['referrer and referee share a email'] })),
  joinedAt: Timestamp('when the referee joined with the code'),
  expiresAt: Nullable(Timestamp('the end of the window to qualify in')),
  qualifiedAt: Nullable(Timestamp('when the referee met the condition')),
  qualifyingExternalId: Nullable(Type.String({ description: 'the externalId of the event that qualified it' })),
  rewardAt: Nullable(Timestamp("when the hold ends (the qualifying order's return window): a return before it reverses the referral")),
  rewardedAt: Nullable(Timestamp('when the hold ended')),
  rejectedAt: Nullable(Timestamp('when it was rejected')),
  reversedAt: Nullable(Timestamp('when it was reversed')),
  referrerPoints: Type.Integer({ description: 'points given to the referrer' }),
  refereePoints: Type.Integer({ description: 'points given to the referee' }),
  referrerEntryId: Nullable(Id("the referrer's earn")),
  refereeEntryId: Nullable(Id("the referee's earn")),
  referrerInstanceId: Nullable(Id("the referrer's reward instance")),
  refereeInstanceId: Nullable(Id("the referee's reward instance")),
});

const MemberReferralSchema = Type.Object({
  object: Type.Literal('member_referral'),
  memberId: Id('the member'),
  programId: Id('the program'),
  enabled: Type.Boolean({ description: "whether the member's program has referrals on" }),
  code: Nullable(Type.String({ description: 'the member\'s referral code: the same every time, 80 random bits; null while referrals are off', examples: ['7K3M9QXR2B4TDW6H'] })),
  link: Nullable(Type.String({ description: 'the link to share; null while referrals are off', examples: ['https://shop.example/join?ref=7K3M9QXR2B4TDW6H'] })),
  referredBy: Nullable(Type.Object({ referralId: Id('the referral'), referrerId: Id('the referrer'), state: State }, { description: 'the referral that brought this member in' })),
  referrals: Type.Object(Object.fromEntries(REFERRAL_STATES.map((s) => [s, Type.Integer()])), { description: "this member's referrals, by state" }),
  pointsEarned: Type.Integer({ description: 'points this member was given as a referrer (qualified or rewarded referrals)' }),
});

const FunnelSchema = Type.Object({
  object: Type.Literal('referral_funnel'),
  programId: Id('the program'),
  from: Nullable(Timestamp('from')),
  to: Nullable(Timestamp('until (excluded)')),
  codesShared: Type.Integer({ description: 'codes handed out to members' }),
  joined: Type.Integer({ description: 'referees who joined with a code' }),
  pending: Type.Integer({ description: 'waiting for the referee to qualify' }),
  qualified: Type.Integer({ description: 'referrals whose referee qualified (whatever became of them since)' }),
  rewarded: Type.Integer({ description: 'referrals whose hold ended' }),
  reversed: Type.Integer({ description: 'referrals reversed by a return' }),
  rejected: Type.Record(Type.String(), Type.Integer(), { description: 'rejected referrals by reason', examples: [{ self_referral: 2 }] }),
  pointsPaid: Type.Integer({ description: 'points given to both sides by referrals not reversed' }),
});

const n = (v: bigint): number => Number(v);
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const side = (s: SideReward) => ({ points: n(s.points), rewardId: s.rewardId });

const presentSettings = (s: SavedReferralSettings) => ({
  object: 'referral_settings' as const, programId: s.programId, enabled: s.enabled, linkBaseUrl: s.linkBaseUrl, condition: s.condition,
  withinDays: s.withinDays, referrer: side(s.referrer), referee: side(s.referee), caps: s.caps, updatedAt: iso(s.updatedAt),
});

const presentReferral = (r: Referral) => ({
  object: 'referral' as const, referralId: r.referralId, programId: r.programId, referrerId: r.referrerId, refereeId: r.refereeId, code: r.code,
  state: r.state, reason: r.reason, detail: r.detail, joinedAt: r.joinedAt.toISOString(), expiresAt: iso(r.expiresAt), qualifiedAt: iso(r.qualifiedAt),
  qualifyingExternalId: r.qualifyingExternalId, rewardAt: iso(r.rewardAt), rewardedAt: iso(r.rewardedAt), rejectedAt: iso(r.rejectedAt),
  reversedAt: iso(r.reversedAt), referrerPoints: n(r.referrerPoints), refereePoints: n(r.refereePoints), referrerEntryId: r.referrerEntryId,
  refereeEntryId: r.refereeEntryId, referrerInstanceId: r.referrerInstanceId, refereeInstanceId: r.refereeInstanceId,
});

const ProgramParams = Type.Object({ programId: Id('the program') });

export const referralRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/referral-settings', {
    schema: {
      operationId: 'getReferralSettings', summary: "A program's referral settings", tags: ['referrals'],
      description: 'Whether referrals are on, the link base, the qualifying condition and window, what each side gets and the caps per referrer. A program that never set them answers the defaults with `enabled: false` and `updatedAt: null`.',
      params: ProgramParams, response: { 200: described(SettingsSchema, 'The referral settings.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentSettings(await getReferralSettings(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/referral-settings', {
    schema: {
      operationId: 'setReferralSettings', summary: 'Set referral settings', tags: ['referrals'],
      description: [
        "A referee joins with a member's code (`referralCode` on POST /v1/members, or `attributes.referralCode` on the first event of a universal program). The referral **qualifies** on the referee's first event that meets `condition` within `withinDays` of joining: inside that event's transaction both sides get their points (through the ledger, pending until the program's return window passes: the hold) and their reward instances.",
        'A return of the qualifying order during the hold reverses the referral (both earns reversed, unused instances cancelled), once. Refusals, each stored as the referral\'s reason: `self_referral` (same e-mail with plus-addressing folded, phone, or a `deviceId` / `paymentFingerprint` attribute seen on both members\' events, kept hashed), `already_member`, `referrer_cap_reached`, `referrer_suspended`, `window_passed`.',
        'Changes apply to referrals from the next event on; nothing already paid moves.',
      ].join('\n\n'),
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: SettingsBody,
      response: { 200: described(SettingsSchema, 'The settings as saved.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentSettings(await putReferralSettings(laurel, tenantOf(request), request.params.programId, request.body,
    { actor: actorOf(request), idempotencyKey: clientKey(request) })));

  app.get('/members/:memberId/referral', {
    schema: {
      operationId: 'getMemberReferral', summary: "A member's referral code and link", tags: ['referrals'],
      description: "The member's code (made on first ask, the same ever after), the link to share, who referred them, and their referrals by state. A member token may read its own. While the program has referrals off, `enabled` is false and there is no code or link. 409 for a suspended or erased member.",
      params: Type.Object({ memberId: Id('the member') }),
      response: { 200: described(MemberReferralSchema, "The member's code, link and referrals."), ...errors(403, 404, 409) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const r = await memberReferral(laurel, tenantOf(request), request.params.memberId);
    return { object: 'member_referral' as const, ...r, pointsEarned: n(r.pointsEarned) };
  });

  app.get('/referrals', {
    schema: {
      operationId: 'listReferrals', summary: 'List referrals', tags: ['referrals'], description: 'Newest first, a page at a time, filtered by program, state, rejection reason, referrer or referee.',
      querystring: Type.Object({
        programId: Type.Optional(Id('only this program')),
        state: Type.Optional(State),
        reason: Type.Optional(Reason),
        referrerId: Type.Optional(Id('only this referrer')),
        refereeId: Type.Optional(Id('only this referee')),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(ReferralSchema, 'a page of referrals'), ...errors(403) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listReferrals(laurel, tenantOf(request), { ...q, before: decodeCursor(q.cursor), limit });
    const p = page(rows, limit, (r) => r.referralId);
    return { ...p, data: p.data.map(presentReferral) };
  });

  app.get('/referrals/:referralId', {
    schema: {
      operationId: 'getReferral', summary: 'A referral', tags: ['referrals'], description: 'Its state, refusal reason, dates, points and the journal entries and reward instances that paid it.',
      params: Type.Object({ referralId: Id('the referral') }),
      response: { 200: described(ReferralSchema, 'The referral.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentReferral(await getReferral(laurel, tenantOf(request), request.params.referralId)));

  app.get('/programs/:programId/referral-funnel', {
    schema: {
      operationId: 'getReferralFunnel', summary: 'The referral funnel', tags: ['referrals'],
      description: 'Over referees who joined in [from, to): codes handed out, joined, pending, qualified, rewarded, reversed, rejected by reason, and the points paid.',
      params: ProgramParams, querystring: Type.Object({ from: Type.Optional(Timestamp('from')), to: Type.Optional(Timestamp('until (excluded)')) }, { additionalProperties: false }),
      response: { 200: described(FunnelSchema, 'The funnel.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const f = await referralFunnel(laurel, tenantOf(request), request.params.programId, {
      from: request.query.from ? new Date(request.query.from) : null, to: request.query.to ? new Date(request.query.to) : null,
    });
    return { object: 'referral_funnel' as const, ...f, from: iso(f.from), to: iso(f.to), pointsPaid: n(f.pointsPaid) };
  });
};
