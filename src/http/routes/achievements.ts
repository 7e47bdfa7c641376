// Achievements: definitions (versioned like rules), a member's badges and progress, the unlock
// report, and the backfill an admin asks for.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_TYPE } from '../../core/events/rate.js';
import {
  achievementReport, achievementVersions, createAchievement, getAchievement, getBackfill, listAchievements, memberAchievements, requestBackfill,
  setAchievementEnabled, updateAchievement, type Achievement, type Backfill, type MemberAchievement,
} from '../../services/achievements.js';
import type { Laurel } from '../../services/context.js';
import { actorOf, ADMIN, clientKey, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { described, errors, Id, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Condition = (description: string, example: string) => Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 4000, description, examples: [example] })));
const Target = Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'counter, challenge: how much of the metric (events, minor units, distinct items); streak: how many consecutive periods', examples: [5] });

const RewardBody = Type.Object({
  type: Type.String({ enum: ['badge', 'points', 'reward'], description: 'badge: only the badge; points: `points` into the points wallet through the ledger; reward: a free instance of the catalog reward `rewardId`' }),
  points: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, examples: [500] })),
  rewardId: Type.Optional(Id('the catalog reward whose instance it issues, free')),
}, { additionalProperties: false, description: 'what unlocking gives (default: the badge alone)', examples: [{ type: 'points', points: 500 }] });

const Definition = {
  code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: "the program's own code for it", examples: ['coffee-streak'] }),
  name: Type.String({ minLength: 1, maxLength: 200, examples: ['Four weeks of coffee'] }),
  description: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000 }))),
  imageUrl: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000, description: 'the badge picture' }))),
  kind: Type.String({ enum: ['counter', 'challenge', 'streak', 'milestone'], description: 'counter: N events, spend ≥ X, N distinct skus or categories; challenge: a counter inside `window` (its end is the deadline), optionally for a `segment`; streak: an event in each of `target` consecutive days, weeks (Monday to Sunday) or months in the tenant time zone; milestone: the points balance reaches `thresholds`' }),
  metric: Type.Optional(Nullable(Type.String({ enum: ['count', 'spend', 'distinctSkus', 'distinctCategories'], description: 'counter, challenge: what is counted (default count); spend is money paid in minor units' }))),
  eventType: Type.Optional(Nullable(Type.String({ pattern: EVENT_TYPE.source, description: 'the events that count: purchase (default) or a custom action type', examples: ['purchase'] }))),
  target: Type.Optional(Target),
  streakUnit: Type.Optional(Nullable(Type.String({ enum: ['day', 'week', 'month'], description: 'streak: the period' }))),
  window: Type.Optional(Nullable(Type.Object({
    from: Timestamp('events that occurred from then…'), to: Timestamp('…until then (excluded): the deadline'),
  }, { additionalProperties: false, description: 'challenge: the window' }))),
  segment: Condition('challenge, streak: only members this CEL condition holds for when the event occurs (over `member`)', 'member.tier == "gold"'),
  filter: Condition('which events count: CEL over `event`, `order`, `member` (not its stats) and `time`, as rule conditions read them', '"coffee" in order.categories'),
  thresholds: Type.Optional(Nullable(Type.Object({
    every: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, examples: [50] }))),
    list: Type.Optional(Nullable(Type.Array(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000 }), { minItems: 1, maxItems: 100, examples: [[100, 500, 1000]] }))),
  }, { additionalProperties: false, description: 'milestone: every multiple of `every`, or the increasing `list`. A rise tells the highest threshold reached (milestone.reached) and pays its reward, once; a fall and a new rise tell it again. Points a milestone pays tell no further milestone' }))),
  repeatable: Type.Optional(Type.Boolean({ description: 'counter, challenge: unlocked again each time the metric reaches another multiple of the target; streak: again each time another run of `target` periods completes, the count starting again after each (default false)' })),
  resetEvery: Type.Optional(Nullable(Type.String({ enum: ['day', 'week', 'month', 'year'], description: 'repeatable counters: the count starts again each period (tenant time zone)' }))),
  hidden: Type.Optional(Type.Boolean({ description: 'not shown to the member until unlocked (default false)' })),
  stampCard: Type.Optional(Type.Boolean({ description: 'a repeatable counter shown as a card of `target` stamps whose reward is a free product' })),
  revokeOnReturn: Type.Optional(Type.Boolean({ description: 'a return that takes the progress back below an unlock revokes it and takes its reward back (points reversed, an unused instance cancelled); default false: the member keeps it' })),
  reward: Type.Optional(Nullable(RewardBody)),
};

const AchievementSchema = Type.Object({
  object: Type.Literal('achievement'),
  achievementId: Id('the achievement'),
  programId: Id('the program'),
  version: Type.Integer({ examples: [1] }),
  enabled: Type.Boolean(),
  code: Type.String(), name: Type.String(), description: Nullable(Type.String()), imageUrl: Nullable(Type.String()),
  kind: Type.String({ enum: ['counter', 'challenge', 'streak', 'milestone'] }),
  metric: Type.String({ enum: ['count', 'spend', 'distinctSkus', 'distinctCategories'] }),
  eventType: Type.String(),
  target: Type.Integer({ description: '0 for a milestone' }),
  streakUnit: Nullable(Type.String()),
  window: Nullable(Type.Object({ from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) })),
  segment: Nullable(Type.String()), filter: Nullable(Type.String()),
  thresholds: Nullable(Type.Object({ every: Nullable(Type.Integer()), list: Nullable(Type.Array(Type.Integer())) })),
  repeatable: Type.Boolean(), resetEvery: Nullable(Type.String()), hidden: Type.Boolean(), stampCard: Type.Boolean(), revokeOnReturn: Type.Boolean(),
  reward: Type.Object({ type: Type.String({ enum: ['badge', 'points', 'reward'] }), points: Type.Optional(Type.Integer()), rewardId: Type.Optional(Type.String()) }),
  savedBy: Type.Optional(Type.String()),
  savedAt: Type.Optional(Timestamp('when this version was saved')),
});

const present = (a: Achievement & { savedBy?: string; savedAt?: Date }) => ({
  object: 'achievement' as const, achievementId: a.achievementId, programId: a.programId, version: a.version, enabled: a.enabled,
  code: a.code, name: a.name, description: a.description, imageUrl: a.imageUrl, kind: a.kind, metric: a.metric, eventType: a.eventType,
  target: Number(a.target), streakUnit: a.streakUnit, window: a.window ? { from: a.window.from.toISOString(), to: a.window.to.toISOString() } : null,
  segment: a.segment, filter: a.filter,
  thresholds: a.thresholds ? { every: a.thresholds.every === null ? null : Number(a.thresholds.every), list: a.thresholds.list?.map(Number) ?? null } : null,
  repeatable: a.repeatable, resetEvery: a.resetEvery, hidden: a.hidden, stampCard: a.stampCard, revokeOnReturn: a.revokeOnReturn,
  reward: a.reward.type === 'points' ? { type: 'points', points: Number(a.reward.points) } : a.reward.type === 'reward' ? { type: 'reward', rewardId: a.reward.rewardId } : { type: 'badge' },
  ...(a.savedBy !== undefined ? { savedBy: a.savedBy, savedAt: a.savedAt!.toISOString() } : {}),
});

const MemberAchievementSchema = Type.Object({
  object: Type.Literal('member_achievement'),
  achievementId: Id('the achievement'),
  code: Type.String({ examples: ['coffee-card'] }), name: Type.String(), description: Nullable(Type.String()), imageUrl: Nullable(Type.String()),
  kind: Type.String({ enum: ['counter', 'challenge', 'streak', 'milestone'] }),
  repeatable: Type.Boolean(), stampCard: Type.Boolean(), hidden: Type.Boolean({ description: 'hidden until unlocked: shown because the member unlocked it' }),
  unlocked: Type.Boolean({ description: 'unlocked at least once (and not revoked)' }),
  timesUnlocked: Type.Integer({ description: 'a repeatable one: how many times (a stamp card: cards completed)' }),
  lastUnlockedAt: Nullable(Timestamp('the last unlock')),
  current: Type.Integer({ description: "toward the next unlock: a counter's metric this period, a streak's current run, a stamp card's stamps, a milestone's balance", examples: [7] }),
  target: Type.Integer({ description: 'what unlocks it: the target, or the next milestone threshold', examples: [10] }),
  next: Nullable(Type.Object({
    remaining: Type.Integer({ examples: [3] }),
    unit: Type.String({ enum: ['events', 'money', 'skus', 'categories', 'days', 'weeks', 'months', 'points'] }),
  }, { description: 'the next step: this much more; null when nothing is left to do' })),
  deadline: Nullable(Timestamp("a challenge's deadline")),
  reward: Type.Object({ type: Type.String({ enum: ['badge', 'points', 'reward'] }), points: Type.Optional(Type.Integer()), rewardId: Type.Optional(Type.String()) }),
});

const presentMember = (m: MemberAchievement) => {
  const a = m.achievement;
  return {
    object: 'member_achievement' as const, achievementId: a.achievementId, code: a.code, name: a.name, description: a.description, imageUrl: a.imageUrl,
    kind: a.kind, repeatable: a.repeatable, stampCard: a.stampCard, hidden: a.hidden, unlocked: m.unlocked, timesUnlocked: m.timesUnlocked,
    lastUnlockedAt: m.lastUnlockedAt?.toISOString() ?? null, current: Number(m.current), target: Number(m.target),
    next: m.next ? { remaining: Number(m.next.remaining), unit: m.next.unit } : null, deadline: m.deadline?.toISOString() ?? null,
    reward: present(a).reward,
  };
};

const BackfillSchema = Type.Object({
  object: Type.Literal('achievement_backfill'),
  backfillId: Id('the backfill'),
  achievementId: Id('the achievement'),
  programId: Id('the program'),
  status: Type.String({ enum: ['pending', 'done'], description: 'pending: the achievement_backfill job has members left to do' }),
  membersDone: Type.Integer({ examples: [2000] }),
  unlocksFound: Type.Integer({ description: 'unlocks history reached that members did not hold (recorded without reward or message)' }),
  createdAt: Timestamp('when it was asked for'),
  finishedAt: Nullable(Timestamp('when the last member was done')),
});

const presentBackfill = (b: Backfill) => ({
  object: 'achievement_backfill' as const, backfillId: b.backfillId, achievementId: b.achievementId, programId: b.programId, status: b.status,
  membersDone: Number(b.membersDone), unlocksFound: Number(b.unlocksFound), createdAt: b.createdAt.toISOString(), finishedAt: b.finishedAt?.toISOString() ?? null,
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const AchievementParams = Type.Object({ achievementId: Id('the achievement') });
const list = <T extends ReturnType<typeof Type.Object>>(item: T) => Type.Object({ object: Type.Literal('list'), data: Type.Array(item) });
const EXAMPLE = { code: 'coffee-streak', name: 'Four weeks of coffee', kind: 'streak', streakUnit: 'week', target: 4, filter: '"coffee" in order.categories', reward: { type: 'points', points: 500 } };

export const achievementRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/programs/:programId/achievements', {
    schema: {
      operationId: 'createAchievement', summary: 'Create an achievement', tags: ['achievements'],
      description: 'A badge members unlock: a counter, a challenge, a streak or a balance milestone, with a CEL filter over the events that count and a reward. Everything is checked on save; a bad field (a CEL filter that does not type-check, a window that ends before it starts, a negative target) is refused with 400 naming it. Progress counts from the events received from now on: ask for a backfill to count past ones.',
      headers: OptionalIdempotencyHeader, params: ProgramParams,
      body: Type.Object({ ...Definition, enabled: Type.Optional(Type.Boolean({ description: 'default true' })) }, { additionalProperties: false, examples: [EXAMPLE] }),
      response: { 201: described(AchievementSchema, 'The new achievement, at version 1.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => reply.status(201).send(present(await createAchievement(laurel, tenantOf(request), request.params.programId, request.body, {
    actor: actorOf(request), idempotencyKey: clientKey(request),
  }))));

  app.get('/programs/:programId/achievements', {
    schema: {
      operationId: 'listAchievements', summary: "List a program's achievements", tags: ['achievements'], description: 'Each at its current version, enabled or not.',
      params: ProgramParams, response: { 200: described(list(AchievementSchema), "The program's achievements."), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listAchievements(laurel, tenantOf(request), request.params.programId)).map(present) }));

  app.get('/programs/:programId/achievements/report', {
    schema: {
      operationId: 'achievementReport', summary: 'Unlocks per achievement', tags: ['achievements'],
      description: 'For each achievement of the program, the unlocks in [from, to) (by unlock time): how many (live), by how many members, how many were revoked by returns, the points paid and the reward instances issued.',
      params: ProgramParams,
      querystring: Type.Object({ from: Type.Optional(Timestamp('unlocks from then…')), to: Type.Optional(Timestamp('…until then')) }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('achievement_report'),
          data: Type.Array(Type.Object({
            achievementId: Id('the achievement'), code: Type.String(), name: Type.String(), kind: Type.String(), enabled: Type.Boolean(),
            unlocks: Type.Integer({ examples: [42] }), members: Type.Integer(), revoked: Type.Integer(), points: Type.Integer(), rewards: Type.Integer(),
          })),
        }), 'The report, an entry per achievement.'),
        ...errors(403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => ({
    object: 'achievement_report' as const,
    data: (await achievementReport(laurel, tenantOf(request), request.params.programId, request.query)).map((r) => ({
      achievementId: r.achievement.achievementId, code: r.achievement.code, name: r.achievement.name, kind: r.achievement.kind, enabled: r.achievement.enabled,
      unlocks: Number(r.unlocks), members: Number(r.members), revoked: Number(r.revoked), points: Number(r.points), rewards: Number(r.rewards),
    })),
  }));

  app.get('/achievements/:achievementId', {
    schema: {
      operationId: 'getAchievement', summary: 'Get an achievement', tags: ['achievements'], description: 'The current version, or `?version=n`.',
      params: AchievementParams, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }, { additionalProperties: false }),
      response: { 200: described(AchievementSchema, 'The achievement at the version asked for.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => present(await getAchievement(laurel, tenantOf(request), request.params.achievementId, request.query.version)));

  app.put('/achievements/:achievementId', {
    schema: {
      operationId: 'updateAchievement', summary: 'Save a new version of an achievement', tags: ['achievements'],
      description: 'Replaces the definition from now on. History is not rewritten: progress and unlocks already made stay and move on under the new version (ask for a backfill to recount). Its kind, metric, streak unit and reset period stay what they were: progress is kept in them.',
      headers: OptionalIdempotencyHeader, params: AchievementParams, body: Type.Object(Definition, { additionalProperties: false, examples: [EXAMPLE] }),
      response: { 200: described(AchievementSchema, 'The achievement at its new version.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN },
  }, async (request) => present(await updateAchievement(laurel, tenantOf(request), request.params.achievementId, request.body, {
    actor: actorOf(request), idempotencyKey: clientKey(request),
  })));

  app.get('/achievements/:achievementId/versions', {
    schema: {
      operationId: 'listAchievementVersions', summary: "An achievement's versions", tags: ['achievements'], description: 'Oldest first, with who saved each and when.',
      params: AchievementParams, response: { 200: described(list(AchievementSchema), "The achievement's versions."), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const current = await getAchievement(laurel, tenantOf(request), request.params.achievementId);
    const versions = await achievementVersions(laurel, tenantOf(request), request.params.achievementId);
    return {
      object: 'list' as const,
      data: versions.map((v) => present({ ...v.definition, achievementId: current.achievementId, programId: current.programId, version: v.version, enabled: current.enabled, savedBy: v.actor, savedAt: v.createdAt })),
    };
  });

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/achievements/:achievementId/${action}`, {
      schema: {
        operationId: `${action}Achievement`, summary: `${enabled ? 'Enable' : 'Disable'} an achievement`, tags: ['achievements'],
        description: `Events received from now on ${enabled ? 'count toward it' : 'no longer count toward it; unlocks already made stay'}. Doing it twice changes nothing.`,
        params: AchievementParams, response: { 200: described(AchievementSchema, `The achievement, ${enabled ? 'enabled' : 'disabled'}.`), ...errors(403, 404) },
      },
      config: { access: ADMIN },
    }, async (request) => present(await setAchievementEnabled(laurel, tenantOf(request), request.params.achievementId, enabled)));
  }

  app.post('/achievements/:achievementId/backfills', {
    schema: {
      operationId: 'requestAchievementBackfill', summary: 'Recompute progress from history', tags: ['achievements'],
      description: "Asks the `achievement_backfill` job to recompute every member's progress toward this achievement from their recorded events (returns included), a chunk of members per transaction. Unlocks that history reaches and a member does not hold are recorded, without paying a reward or telling anyone; unlocks held are kept. Answers at once; follow it with GET /v1/achievement-backfills/{backfillId}.",
      headers: OptionalIdempotencyHeader, params: AchievementParams,
      response: { 202: described(BackfillSchema, 'The backfill, pending.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => reply.status(202).send(presentBackfill(await requestBackfill(laurel, tenantOf(request), request.params.achievementId, {
    actor: actorOf(request), idempotencyKey: clientKey(request),
  }))));

  app.get('/achievement-backfills/:backfillId', {
    schema: {
      operationId: 'getAchievementBackfill', summary: 'Get a backfill', tags: ['achievements'], description: 'How far the recompute has gone.',
      params: Type.Object({ backfillId: Id('the backfill') }),
      response: { 200: described(BackfillSchema, 'The backfill.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentBackfill(await getBackfill(laurel, tenantOf(request), request.params.backfillId)));

  app.get('/members/:memberId/achievements', {
    schema: {
      operationId: 'listMemberAchievements', summary: "A member's badges and progress", tags: ['achievements'],
      description: "Every enabled, visible achievement of the member's program and every one they unlocked (hidden ones only once unlocked): unlocked or not, the progress toward the next unlock (a stamp card's stamps), and the next step. Readable with the member's own token.",
      params: Type.Object({ memberId: Id('the member') }),
      response: { 200: described(list(MemberAchievementSchema), "The member's achievements."), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => ({ object: 'list' as const, data: (await memberAchievements(laurel, tenantOf(request), request.params.memberId)).map(presentMember) }));
};
