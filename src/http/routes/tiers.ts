// Tier ladders, a member's tier and progress, and tier history.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TierLadder } from '../../core/tiers/ladder.js';
import type { Laurel } from '../../services/context.js';
import { deleteLadder, getLadder, listTierHistory, memberTier, putLadder, type SavedLadder, type TierChange } from '../../services/tiers.js';
import { actorOf, ADMIN, clientKey, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Amount = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description });
const Code = Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', examples: ['gold'] });

const Benefits = Type.Object({
  earnMultiplier: Nullable(Type.String({ description: 'the factor `tier_multiplier` rules without their own factors apply ("2", "1.5")', examples: ['2'] })),
  flags: Type.Array(Type.String(), { description: 'switches the shop reads', examples: [['free_shipping', 'early_access']] }),
  rewardAccess: Type.Array(Type.String(), { description: 'codes of the rewards only this tier (and higher ones listing them) may redeem' }),
  upgradeBonus: Amount('points given when a member reaches this tier by an upgrade'),
});

const TierSchema = Type.Object({ code: Code, name: Type.String(), threshold: Amount('the metric needed in the window'), benefits: Benefits });

const LadderFields = {
  metric: Type.String({ enum: ['points', 'spend', 'visits'], description: 'points: rule awards into the points wallet and the qualifying wallets, net of returns; spend: money paid (minor units) net of refunds; visits: purchases' }),
  window: Type.Object({
    kind: Type.String({ enum: ['calendar_year', 'rolling_months', 'lifetime'] }),
    months: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
  }, { description: 'the stretch the metric is summed over, in the tenant time zone' }),
  review: Type.Object({ kind: Type.String({ enum: ['period_end', 'anniversary'] }) }, { description: 'when a tier can be lost: at the end of each period (1 January; for a rolling window every 12 months from the day the tier was reached) or on each anniversary of enrolment' }),
  graceDays: Type.Integer({ minimum: 0, maximum: 3650, description: 'days a member below their tier keeps it after a review before moving down one level' }),
  upgradeRate: Type.String({ enum: ['next_event', 'crossing_event'], description: 'the tier the event that crosses a threshold earns at: the one the member had, or the one it reaches' }),
};

const LadderSchema = Type.Object({
  object: Type.Literal('tier_ladder'),
  programId: Id('the program'),
  ...LadderFields,
  tiers: Type.Array(TierSchema),
  updatedAt: Timestamp('when it was last set'),
  placed: Type.Optional(Type.Integer({ description: 'members put on the first tier by this change, measured by the next tier review' })),
});

const LadderBody = Type.Object({
  metric: LadderFields.metric,
  window: LadderFields.window,
  review: Type.Optional(LadderFields.review),
  graceDays: Type.Optional(LadderFields.graceDays),
  upgradeRate: Type.Optional(LadderFields.upgradeRate),
  tiers: Type.Array(Type.Object({
    code: Code,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    threshold: Amount('the metric needed in the window; the first tier 0'),
    benefits: Type.Optional(Type.Object({
      earnMultiplier: Type.Optional(Nullable(Type.Union([Type.String(), Type.Number()]))),
      flags: Type.Optional(Type.Array(Type.String())),
      rewardAccess: Type.Optional(Type.Array(Type.String())),
      upgradeBonus: Type.Optional(Amount('points given on reaching this tier by an upgrade')),
    }, { additionalProperties: false })),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 20, description: 'lowest first, thresholds strictly increasing' }),
}, {
  additionalProperties: false,
  examples: [{
    metric: 'points', window: { kind: 'calendar_year' }, graceDays: 30,
    tiers: [
      { code: 'member', name: 'Member', threshold: 0 },
      { code: 'silver', name: 'Silver', threshold: 1000, benefits: { earnMultiplier: '1.5', upgradeBonus: 100 } },
      { code: 'gold', name: 'Gold', threshold: 5000, benefits: { earnMultiplier: '2', flags: ['free_shipping'], upgradeBonus: 500 } },
    ],
  }],
});

const n = (v: bigint): number => Number(v);
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

const presentTier = (t: TierLadder['tiers'][number]) => ({
  code: t.code, name: t.name, threshold: n(t.threshold),
  benefits: { ...t.benefits, upgradeBonus: n(t.benefits.upgradeBonus) },
});

const presentLadder = (s: SavedLadder & { placed?: number }) => ({
  object: 'tier_ladder' as const, programId: s.programId, metric: s.ladder.metric, window: s.ladder.window, review: s.ladder.review,
  graceDays: s.ladder.graceDays, upgradeRate: s.ladder.upgradeRate, tiers: s.ladder.tiers.map(presentTier),
  updatedAt: s.updatedAt.toISOString(), ...(s.placed === undefined ? {} : { placed: s.placed }),
});

export const TierChangeSchema = Type.Object({
  from: Type.String({ examples: ['silver'] }),
  to: Type.String({ examples: ['gold'] }),
  reason: Type.String({ examples: ['upgrade: metric 5200 ≥ 5000 (gold)'] }),
  bonus: Amount('points given for the tiers climbed'),
  bonusEntryId: Nullable(Id('the journal entry of the bonus')),
});

export const presentTierChange = (t: TierChange) => ({ ...t, bonus: n(t.bonus) });

const MemberTierSchema = Type.Object({
  object: Type.Literal('member_tier'),
  memberId: Id('the member'),
  tier: TierSchema,
  qualifiedTier: Code,
  heldBy: Nullable(Type.Object({
    plan: Type.String({ description: "the membership plan's code", examples: ['delivery-pass'] }),
    tier: Code,
    mode: Type.String({ enum: ['floor', 'override'], description: 'floor: at least its tier; override: exactly its tier' }),
    since: Timestamp('when the membership started'),
  }, { description: 'the membership whose plan gives the tier while it entitles the member; null: the tier is their own (qualifiedTier)' })),
  metric: Type.Integer({ description: "the ladder's metric in the current window (net of returns: it may be below 0)" }),
  window: Type.Object({ start: Nullable(Timestamp('first instant counted')), end: Nullable(Timestamp('first instant not counted')) }),
  nextTier: Nullable(Code),
  missing: Type.Integer({ description: 'what the metric lacks to reach nextTier (0 at the top)' }),
  missingToKeep: Type.Integer({ description: 'what the metric lacks to keep the current tier at the next review' }),
  securedUntil: Nullable(Timestamp('the first instant the tier could be lost; null on the first tier')),
  reviewAt: Nullable(Timestamp('the next review')),
  graceUntil: Nullable(Timestamp('the end of the grace the member is in')),
  since: Nullable(Timestamp('when the member reached the tier')),
});

const HistorySchema = Type.Object({
  object: Type.Literal('tier_change'),
  historyId: Id('the history row'),
  at: Timestamp('when'),
  from: Nullable(Type.String()),
  to: Type.String(),
  change: Type.String({ enum: ['placed', 'up', 'kept', 'grace', 'down', 'set'], description: 'kept: the tier qualified for moved, but a membership holds the tier the member has' }),
  reason: Type.String({ examples: ['review: down one level (metric 800 < 1000)'] }),
  eventId: Nullable(Id('the event whose activity lifted the member')),
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const MemberParams = Type.Object({ memberId: Id('the member') });

export const tierRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/tier-ladder', {
    schema: {
      operationId: 'getTierLadder', summary: "A program's tier ladder", tags: ['tiers'], description: 'The metric, window, review policy, grace and tiers with their thresholds and benefits.',
      params: ProgramParams, response: { 200: described(LadderSchema, 'The tier ladder.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentLadder(await getLadder(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/tier-ladder', {
    schema: {
      operationId: 'setTierLadder', summary: 'Set a tier ladder', tags: ['tiers'],
      description: [
        'Sets or replaces the program\'s ladder. Members are upgraded the moment an event lifts their metric over a threshold (inside that event\'s transaction, with the bonus of every tier climbed); only a review lowers a tier, one level at a time, after the grace.',
        'Members keep a tier the new ladder still has; the others are put on its first tier and placed by the next `tier_reviews` run at the tier their metric reaches (no bonus for a placement).',
      ].join('\n\n'),
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: LadderBody, response: { 200: described(LadderSchema, 'The ladder as saved.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentLadder(await putLadder(laurel, tenantOf(request), request.params.programId, request.body,
    { actor: actorOf(request), idempotencyKey: clientKey(request) })));

  app.delete('/programs/:programId/tier-ladder', {
    schema: {
      operationId: 'deleteTierLadder', summary: 'Remove a tier ladder', tags: ['tiers'],
      description: 'Answers the ladder removed. Nothing reviews tiers any more; members keep the tier they have as a label (rule conditions still read it).',
      params: ProgramParams, response: { 200: described(LadderSchema, 'The ladder that was removed.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentLadder(await deleteLadder(laurel, tenantOf(request), request.params.programId)));

  app.get('/members/:memberId/tier', {
    schema: {
      operationId: 'getMemberTier', summary: "A member's tier and progress", tags: ['tiers'],
      description: 'The tier the member holds with its benefits (a membership entitling them may hold it: at least its plan\'s tier, or exactly it; then heldBy names it and qualifiedTier is their own), the metric in the current window, the next tier and what is missing, and the date the tier they qualify for is secured until. A member token may read its own.',
      params: MemberParams, response: { 200: described(MemberTierSchema, "The member's tier, its benefits and the progress to the next."), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const t = await memberTier(laurel, tenantOf(request), request.params.memberId);
    const p = t.progress;
    return {
      object: 'member_tier' as const, memberId: t.memberId, tier: presentTier(t.tier), qualifiedTier: t.qualifiedTier.code,
      heldBy: t.heldBy ? { ...t.heldBy, since: t.heldBy.since.toISOString() } : null, metric: n(p.metric),
      window: { start: iso(p.window.start), end: iso(p.window.end) }, nextTier: p.nextTier, missing: n(p.missing), missingToKeep: n(p.missingToKeep),
      securedUntil: iso(p.securedUntil), reviewAt: iso(t.reviewAt), graceUntil: iso(t.graceUntil), since: iso(t.since),
    };
  });

  app.get('/members/:memberId/tier-history', {
    schema: {
      operationId: 'listTierHistory', summary: "A member's tier history", tags: ['tiers'], description: 'Newest first: placements, upgrades (with the event that caused them), graces, downgrades and changes by an admin, each with its reason.',
      params: MemberParams, querystring: Type.Object(ListQuery, { additionalProperties: false }),
      response: { 200: listOf(HistorySchema, 'a page of tier changes'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await listTierHistory(laurel, tenantOf(request), request.params.memberId, decodeCursor(request.query.cursor), limit + 1);
    const p = page(rows, limit, (r) => r.historyId);
    return { ...p, data: p.data.map((r) => ({ object: 'tier_change' as const, ...r, at: r.at.toISOString() })) };
  });
};
