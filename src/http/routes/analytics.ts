// Program analytics and incremental ROI with a holdout (SPEC §11): read-only reports over a period,
// and the program's analytics settings (control group share, gross margin).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Laurel } from '../../services/context.js';
import {
  cohortRetention, getAnalyticsSettings, overview, pointsOverTime, rewardPopularity, roiReport, tierAnalytics, updateAnalyticsSettings,
  type AnalyticsScope, type AnalyticsSettings, type GroupBehaviour, type MembershipFees, type NpsFigures, type ProgramCost, type ReferralFigures,
} from '../../services/analytics.js';
import { actorOf, ADMIN, tenantOf, type Access } from '../auth.js';
import { described, errors, Id, Nullable, Points, Timestamp } from '../schemas.js';

/** Analytics are read by admin and read keys and every console role; not by point-of-sale keys. */
const ANALYTICS: Access = { scopes: ['admin', 'read'] };

const Params = Type.Object({ programId: Id('the program') });
const Period = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'start of the period (included); default: 90 days before `to`', examples: ['2026-01-01T00:00:00Z'] })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'end of the period (excluded); default: now (included)', examples: ['2026-04-01T00:00:00Z'] })),
};
const PeriodQuery = Type.Object(Period, { additionalProperties: false });

const Money = (description: string) => Type.Integer({ description: `${description}, minor units of the tenant's currency`, examples: [12500] });
const Rate = (description: string) => Type.Number({ minimum: 0, description: `${description} (0 to 1, four decimals; 0 when the denominator is 0)`, examples: [0.42] });
const Count = (description: string, example = 120) => Type.Integer({ minimum: 0, description, examples: [example] });

const scopeFields = {
  programId: Id('the program'),
  from: Timestamp('start of the period (included)'),
  to: Timestamp('end of the period (excluded)'),
  timeZone: Type.String({ description: "the tenant's time zone: days, weeks and months are its own", examples: ['Europe/Paris'] }),
};
const presentScope = (s: AnalyticsScope) => ({ programId: s.programId, from: s.from.toISOString(), to: s.to.toISOString(), timeZone: s.timeZone });

const Group = (description: string) => Type.Object({
  customers: Count('members in the group, enrolled before the end of the period'),
  active: Count('of them, with an event of their own in the period (not signup or birthday)'),
  activeRate: Rate('active / customers'),
  purchasers: Count('with at least one purchase in the period'),
  repeatPurchasers: Count('with two purchases or more'),
  repeatPurchaseRate: Rate('repeat purchasers / purchasers'),
  orders: Count('purchases in the period'),
  revenue: Money('money paid on those purchases'),
  averageOrderValue: Money('revenue / orders, rounded'),
}, { description });
const presentGroup = (g: GroupBehaviour) => ({
  customers: Number(g.customers), active: Number(g.active), activeRate: g.activeRate, purchasers: Number(g.purchasers),
  repeatPurchasers: Number(g.repeatPurchasers), repeatPurchaseRate: g.repeatPurchaseRate, orders: Number(g.orders), revenue: Number(g.revenue),
  averageOrderValue: Number(g.averageOrderValue),
});

const CostSchema = Type.Object({
  pointsRedeemed: Points('points redeemed in the period, net of reversals'),
  points: Money('redeemed points not spent on rewards (orders paid with points, manual redemptions), at the point value; 0 without a point value'),
  rewards: Money('rewards given in the period (issued or used): their money value (fixed discount, store credit, donation), or their points at the point value'),
  membershipFees: Money('membership fees paid in the period less those refunded in it (the overview\'s membershipFees.net), subtracted from the cost'),
  total: Type.Integer({ description: "points + rewards − membership fees, minor units of the tenant's currency; negative when the fees pay for more than the program gives away", examples: [12500] }),
}, { description: 'what the program gave away in the period, less what members paid to belong' });
const presentCost = (c: ProgramCost) => ({
  pointsRedeemed: Number(c.pointsRedeemed), points: Number(c.points), rewards: Number(c.rewards), membershipFees: Number(c.membershipFees), total: Number(c.total),
});

const FeesSchema = Type.Object({
  paid: Money('membership fees paid in the period (by when they were paid)'),
  refunded: Money('membership fees refunded in the period (by when they were refunded), a positive figure'),
  net: Type.Integer({ description: "paid − refunded, minor units of the tenant's currency", examples: [12500] }),
  payments: Count('fee payments in the period', 25),
  refunds: Count('fee refunds in the period', 1),
}, { description: "paid memberships' fees in the tenant's currency" });
const presentFees = (f: MembershipFees) => ({ paid: Number(f.paid), refunded: Number(f.refunded), net: Number(f.net), payments: Number(f.payments), refunds: Number(f.refunds) });

const ReferralsSchema = Type.Object({
  codesShared: Count('referral codes members created in the period', 40),
  joined: Count('friends who joined with a code in the period; the figures below count these referrals', 12),
  pending: Count('still waiting for a qualifying purchase', 4),
  qualified: Count('made a qualifying purchase (then rewarded, or reversed by a return)', 6),
  rewarded: Count('rewarded: the return window passed', 5),
  reversed: Count('reversed by a return in the window', 1),
  rejected: Count('refused (self-referral, shared signals, limits, window passed)', 2),
  conversionRate: Rate('qualified / joined'),
  pointsPaid: Points('points paid to both sides of the referrals qualified or rewarded'),
}, { description: 'the referral funnel over the referrals that joined in the period' });
const presentReferrals = (r: ReferralFigures) => ({
  codesShared: Number(r.codesShared), joined: Number(r.joined), pending: Number(r.pending), qualified: Number(r.qualified), rewarded: Number(r.rewarded),
  reversed: Number(r.reversed), rejected: Number(r.rejected), conversionRate: r.conversionRate, pointsPaid: Number(r.pointsPaid),
});

const NpsSchema = Type.Object({
  responses: Count('survey responses (survey_response events) in the period', 50),
  promoters: Count('scored 9 or 10', 30),
  passives: Count('scored 7 or 8', 10),
  detractors: Count('scored 0 to 6', 10),
  score: Nullable(Type.Number({ minimum: -100, maximum: 100, description: '(promoters − detractors) / responses × 100, one decimal; null without a response', examples: [40] })),
}, { description: 'the net promoter score of the survey responses of the period, every channel' });
const presentNps = (n: NpsFigures) => ({
  responses: Number(n.responses), promoters: Number(n.promoters), passives: Number(n.passives), detractors: Number(n.detractors), score: n.score,
});

const OverviewSchema = Type.Object({
  object: Type.Literal('analytics_overview'),
  ...scopeFields,
  members: Count('members not erased, enrolled before the end of the period', 1200),
  newMembers: Count('of them, enrolled in the period', 90),
  controlMembers: Count('of them, in the control group (holdout)', 120),
  enrolmentRate: Rate('new members / members'),
  groups: Type.Object({ members: Group("the program's members, the control group apart"), control: Group('the control group: members who earn nothing') }),
  points: Type.Object({
    issued: Points('earned in the points wallet, less what returns took back'),
    redeemed: Points('redeemed, less what cancellations and returns gave back'),
    expired: Points('expired'),
    redemptionRate: Rate('redeemed / issued'),
  }),
  membershipFees: FeesSchema,
  cost: CostSchema,
  referrals: ReferralsSchema,
  nps: NpsSchema,
}, { description: "the program's figures over the period" });

const PointsSeriesSchema = Type.Object({
  object: Type.Literal('analytics_points'),
  ...scopeFields,
  bucket: Type.String({ enum: ['day', 'week', 'month'], description: 'weeks start on Monday' }),
  buckets: Type.Array(Type.Object({
    start: Type.String({ format: 'date', description: "first day of the bucket, in the tenant's time zone", examples: ['2026-03-01'] }),
    issued: Points('earned, less what returns took back'),
    redeemed: Points('redeemed, less what was given back'),
    expired: Points('expired'),
  }), { description: 'buckets with a movement, oldest first' }),
}, { description: 'points of the points wallet issued, redeemed and expired per bucket' });

const Distribution = (what: string) => Type.Array(Type.Object({
  code: Nullable(Type.String({ description: `the ${what}; null: members without one`, examples: ['gold'] })),
  members: Count('members', 42),
}), { description: `members per ${what} now` });
const Moves = (what: string, changes: string) => Type.Array(Type.Object({
  from: Nullable(Type.String({ description: `the ${what} left; null: none`, examples: ['silver'] })),
  to: Nullable(Type.String({ description: `the ${what} reached; null: none`, examples: ['gold'] })),
  change: Type.String({ description: changes, examples: ['up'] }),
  members: Count('distinct members who moved so', 12),
  moves: Count('moves (a member may move twice)', 13),
}), { description: `moves between ${what}s in the period` });

const TiersSchema = Type.Object({
  object: Type.Literal('analytics_tiers'),
  ...scopeFields,
  tiers: Distribution('tier'),
  grades: Distribution('grade'),
  tierMoves: Moves('tier', 'placed, up, kept, grace, down or set (by hand)'),
  gradeMoves: Moves('grade', 'changed'),
}, { description: 'tier and grade distribution and movements' });

const CohortsSchema = Type.Object({
  object: Type.Literal('analytics_cohorts'),
  ...scopeFields,
  cohorts: Type.Array(Type.Object({
    month: Type.String({ pattern: '^\\d{4}-\\d{2}$', description: "enrolment month, tenant's time zone", examples: ['2026-01'] }),
    members: Count('members enrolled that month (not erased)', 300),
    retention: Type.Array(Type.Object({
      offset: Type.Integer({ minimum: 0, description: 'months after the enrolment month (0: that month)', examples: [1] }),
      active: Count('cohort members with a purchase that month', 120),
      rate: Rate('active / members'),
    }), { description: 'months with a purchase, until the end of the period' }),
  })),
}, { description: 'members enrolled in the period by month, and the share of each who bought in each later month' });

const RewardsSchema = Type.Object({
  object: Type.Literal('analytics_rewards'),
  ...scopeFields,
  rewards: Type.Array(Type.Object({
    rewardId: Id('the reward'),
    code: Type.String({ examples: ['free-coffee'] }),
    name: Type.String({ examples: ['Free coffee'] }),
    type: Type.String({ examples: ['free_product'] }),
    issued: Count('instances issued in the period, not cancelled', 40),
    consumed: Count('of them, used', 31),
    expired: Count('of them, expired unused', 2),
    cancelled: Count('instances cancelled (their points went back)', 1),
    members: Count('distinct members who got one', 35),
    points: Points('points the instances not cancelled cost'),
    cost: Money("what the given instances (issued or used) cost: their money value, or their points at the point value"),
  }), { description: 'most issued first' }),
}, { description: 'rewards by popularity over the period' });

const GroupStats = (description: string) => Type.Object({
  customers: Count('customers in the group (those who spent nothing count, with 0)'),
  meanSpend: Nullable(Type.Number({ description: 'mean net spend per customer in the period (purchases less refunds), minor units, two decimals', examples: [4210.5] })),
  standardDeviation: Nullable(Type.Number({ description: 'sample standard deviation of the spend per customer', examples: [3120.25] })),
  interval: Nullable(Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: '95% confidence interval of the mean', examples: [[4010.1, 4410.9]] })),
}, { description });

const RoiSchema = Type.Object({
  object: Type.Literal('analytics_roi'),
  ...scopeFields,
  controlShareBp: Type.Integer({ description: 'share of customers in the control group, basis points', examples: [1000] }),
  grossMarginBp: Type.Integer({ description: 'gross margin used, basis points', examples: [4000] }),
  method: Type.Literal('welch-normal-95', { description: "Welch's comparison of two means with the normal approximation, 95% intervals (docs/analytics.md)" }),
  members: GroupStats("the program's members"),
  control: GroupStats('the control group'),
  difference: Nullable(Type.Number({ description: 'mean spend per member − per control customer; null without two customers in each group', examples: [612.4] })),
  differenceInterval: Nullable(Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: '95% interval of the difference', examples: [[310.2, 914.6]] })),
  degreesOfFreedom: Nullable(Type.Number({ description: 'Welch–Satterthwaite degrees of freedom: below about 30 the normal interval is too narrow', examples: [1790.4] })),
  incrementalRevenue: Nullable(Money('difference × members: what members spent because of the program')),
  incrementalRevenueInterval: Nullable(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2, description: 'its 95% interval, minor units', examples: [[300000, 900000]] })),
  incrementalGrossMargin: Nullable(Money('incremental revenue × gross margin')),
  cost: CostSchema,
  roi: Nullable(Type.Number({ description: '(incremental gross margin − cost) / cost; null when the cost is 0 or the difference unknown', examples: [1.35] })),
  roiInterval: Nullable(Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: 'ROI at the ends of the difference interval', examples: [[0.2, 2.5]] })),
}, { description: 'members vs control: the incremental revenue and ROI of the program' });

const SettingsSchema = Type.Object({
  object: Type.Literal('analytics_settings'),
  programId: Id('the program'),
  controlShareBp: Type.Integer({ minimum: 0, maximum: 5000, description: 'share of customers kept in the control group (holdout), basis points: 1000 is 10%. They are members and their events are recorded, but they earn nothing. Who is in it: docs/analytics.md', examples: [1000] }),
  grossMarginBp: Type.Integer({ minimum: 0, maximum: 10000, description: 'gross margin of sales, basis points (4000: 40%), for ROI', examples: [4000] }),
  holdoutSalt: Nullable(Type.String({ description: "what the holdout hashes with each external id; null: the program's id. A new salt draws a new control group", examples: ['holdout-2027'] })),
  updatedAt: Nullable(Timestamp('when they were last changed; null: never (the defaults: no control group, margin 100%)')),
}, { description: "the program's analytics settings" });
const presentSettings = (s: AnalyticsSettings) => ({
  object: 'analytics_settings' as const, programId: s.programId, controlShareBp: s.controlShareBp, grossMarginBp: s.grossMarginBp,
  holdoutSalt: s.holdoutSalt, updatedAt: s.updatedAt?.toISOString() ?? null,
});

const round2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
const round4 = (x: number | null) => (x === null ? null : Math.round(x * 10_000) / 10_000);
const pair = <T, U>(p: [T, T] | null, f: (x: T) => U): [U, U] | null => (p === null ? null : [f(p[0]), f(p[1])]);

const reply = (schema: TSchema, description: string) => ({ 200: described(schema, description), ...errors(403, 404) });

export const analyticsRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/analytics/overview', {
    schema: {
      summary: "A program's analytics overview", tags: ['analytics'], operationId: 'getAnalyticsOverview',
      description: "Members, enrolment, activity, repeat purchases and average order value (the program's members and its control group apart), points issued, redeemed and expired, membership fees, the program cost, the referral funnel and the net promoter score over a period. Admin and read keys; every console role.",
      params: Params, querystring: PeriodQuery, response: reply(OverviewSchema, 'the overview'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const o = await overview(laurel, tenantOf(request), request.params.programId, request.query);
    return {
      object: 'analytics_overview' as const, ...presentScope(o.scope), members: Number(o.members), newMembers: Number(o.newMembers),
      controlMembers: Number(o.controlMembers), enrolmentRate: o.enrolmentRate,
      groups: { members: presentGroup(o.groups.members), control: presentGroup(o.groups.control) },
      points: { issued: Number(o.points.issued), redeemed: Number(o.points.redeemed), expired: Number(o.points.expired), redemptionRate: o.points.redemptionRate },
      membershipFees: presentFees(o.membershipFees), cost: presentCost(o.cost), referrals: presentReferrals(o.referrals), nps: presentNps(o.nps),
    };
  });

  app.get('/programs/:programId/analytics/points', {
    schema: {
      summary: 'Points issued, redeemed and expired over time', tags: ['analytics'], operationId: 'getAnalyticsPoints',
      description: "The points wallet's movements per day, week or month of the tenant's time zone. Day buckets cover at most 400 days.",
      params: Params,
      querystring: Type.Object({ ...Period, bucket: Type.Optional(Type.String({ enum: ['day', 'week', 'month'], default: 'day', description: 'bucket size' })) }, { additionalProperties: false }),
      response: reply(PointsSeriesSchema, 'the series'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const r = await pointsOverTime(laurel, tenantOf(request), request.params.programId, request.query);
    return {
      object: 'analytics_points' as const, ...presentScope(r.scope), bucket: r.bucket,
      buckets: r.buckets.map((b) => ({ start: b.start, issued: Number(b.issued), redeemed: Number(b.redeemed), expired: Number(b.expired) })),
    };
  });

  app.get('/programs/:programId/analytics/tiers', {
    schema: {
      summary: 'Tier and grade distribution and movements', tags: ['analytics'], operationId: 'getAnalyticsTiers',
      description: 'Members per tier and per grade now, and the moves between tiers and between grades in the period.',
      params: Params, querystring: PeriodQuery, response: reply(TiersSchema, 'the distribution and moves'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const r = await tierAnalytics(laurel, tenantOf(request), request.params.programId, request.query);
    const moves = (m: typeof r.tierMoves) => m.map((x) => ({ from: x.from, to: x.to, change: x.change, members: Number(x.members), moves: Number(x.moves) }));
    return {
      object: 'analytics_tiers' as const, ...presentScope(r.scope),
      tiers: r.tiers.map((t) => ({ code: t.code, members: Number(t.members) })), grades: r.grades.map((t) => ({ code: t.code, members: Number(t.members) })),
      tierMoves: moves(r.tierMoves), gradeMoves: moves(r.gradeMoves),
    };
  });

  app.get('/programs/:programId/analytics/cohorts', {
    schema: {
      summary: 'Cohort retention by enrolment month', tags: ['analytics'], operationId: 'getAnalyticsCohorts',
      description: "Members enrolled in the period, grouped by enrolment month (tenant's time zone), and how many of each cohort made a purchase in each month after, until the end of the period.",
      params: Params, querystring: PeriodQuery, response: reply(CohortsSchema, 'the cohorts'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const r = await cohortRetention(laurel, tenantOf(request), request.params.programId, request.query);
    return {
      object: 'analytics_cohorts' as const, ...presentScope(r.scope),
      cohorts: r.cohorts.map((c) => ({
        month: c.month, members: Number(c.members),
        retention: c.cells.map((x) => ({ offset: x.offset, active: Number(x.active), rate: Number(c.members) === 0 ? 0 : round4(Number(x.active) / Number(c.members))! })),
      })),
    };
  });

  app.get('/programs/:programId/analytics/rewards', {
    schema: {
      summary: 'Reward popularity', tags: ['analytics'], operationId: 'getAnalyticsRewards',
      description: 'Rewards by instances issued in the period: how many, used, expired, cancelled, by how many members, for how many points, and what they cost.',
      params: Params, querystring: PeriodQuery, response: reply(RewardsSchema, 'the rewards'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const r = await rewardPopularity(laurel, tenantOf(request), request.params.programId, request.query);
    const pv = r.scope.pointValue;
    return {
      object: 'analytics_rewards' as const, ...presentScope(r.scope),
      rewards: r.rewards.map((x) => ({
        rewardId: x.rewardId, code: x.code, name: x.name, type: x.type, issued: Number(x.issued), consumed: Number(x.consumed), expired: Number(x.expired),
        cancelled: Number(x.cancelled), members: Number(x.members), points: Number(x.points),
        cost: Number(x.givenMoney + (pv === null ? 0n : (x.givenPointsWithoutMoney * pv.minor) / pv.points)),
      })),
    };
  });

  app.get('/programs/:programId/analytics/roi', {
    schema: {
      summary: 'Incremental ROI against the control group', tags: ['analytics'], operationId: 'getAnalyticsRoi',
      description: "Spend per customer of the program's members vs its control group (holdout) over the period, with 95% confidence intervals (Welch, normal approximation), the incremental revenue and gross margin, the program cost and ROI = (incremental gross margin − cost) / cost. The method: docs/analytics.md.",
      params: Params, querystring: PeriodQuery, response: reply(RoiSchema, 'the comparison'),
    },
    config: { access: ANALYTICS },
  }, async (request) => {
    const r = await roiReport(laurel, tenantOf(request), request.params.programId, request.query);
    const group = (g: typeof r.members) => ({
      customers: g.customers, meanSpend: round2(g.mean), standardDeviation: round2(g.standardDeviation), interval: pair(g.interval, (x) => round2(x)!),
    });
    return {
      object: 'analytics_roi' as const, ...presentScope(r.scope), controlShareBp: r.scope.controlShareBp, grossMarginBp: r.scope.grossMarginBp,
      method: 'welch-normal-95' as const, members: group(r.members), control: group(r.control),
      difference: round2(r.difference), differenceInterval: pair(r.differenceInterval, (x) => round2(x)!),
      degreesOfFreedom: r.degreesOfFreedom === null ? null : Math.round(r.degreesOfFreedom * 10) / 10,
      incrementalRevenue: r.incrementalRevenue === null ? null : Number(r.incrementalRevenue),
      incrementalRevenueInterval: pair(r.incrementalRevenueInterval, Number),
      incrementalGrossMargin: r.incrementalGrossMargin === null ? null : Number(r.incrementalGrossMargin),
      cost: presentCost(r.programCost), roi: round4(r.roi), roiInterval: pair(r.roiInterval, (x) => round4(x)!),
    };
  });

  app.get('/programs/:programId/analytics/settings', {
    schema: {
      summary: "A program's analytics settings", tags: ['analytics'], operationId: 'getAnalyticsSettings',
      description: 'The control group share (holdout) and the gross margin ROI uses.',
      params: Params, response: reply(SettingsSchema, 'the settings'),
    },
    config: { access: ANALYTICS },
  }, async (request) => presentSettings(await getAnalyticsSettings(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/analytics/settings', {
    schema: {
      summary: "Change a program's analytics settings", tags: ['analytics'], operationId: 'updateAnalyticsSettings',
      description: 'Sets the control group share and the gross margin; a field left out keeps its value. Raising the share keeps everyone already in the control group in it; lowering it lets some back in, and they earn again from their next event. Compare periods with the same share. Admin keys, owners and marketers.',
      params: Params,
      body: Type.Object({
        controlShareBp: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: 'basis points of customers held out (at most half)', examples: [1000] })),
        grossMarginBp: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'gross margin, basis points', examples: [4000] })),
        holdoutSalt: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100, description: "a new salt draws a new control group (a new experiment); null: the program's id", examples: ['holdout-2027'] }))),
      }, { additionalProperties: false }),
      response: { 200: described(SettingsSchema, 'the settings as they are now'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentSettings(await updateAnalyticsSettings(laurel, tenantOf(request), request.params.programId, request.body, actorOf(request))));
};
