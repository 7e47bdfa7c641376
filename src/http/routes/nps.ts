// Surveys and NPS: the Net Promoter Score of a program's survey_response events per period,
// channel and segment, and the comments listed by score.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { categoryOf, NPS_DIMENSIONS, NPS_PERIODS } from '../../core/engagement/nps.js';
import { dateTime } from '../../core/input.js';
import type { Laurel } from '../../services/context.js';
import { npsCommentList, npsReport, type NpsGroup } from '../../services/nps.js';
import { READ, tenantOf } from '../auth.js';
import { described, errors, Id, Nullable, Timestamp } from '../schemas.js';

const ProgramParams = Type.Object({ programId: Id('the program') });
const Range = {
  from: Type.Optional(Type.String({ maxLength: 40, description: 'responses that occurred at or after this instant, with its offset (default: a year before `to`)' })),
  to: Type.Optional(Type.String({ maxLength: 40, description: 'responses that occurred before this instant (default: now)' })),
  channel: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only responses from this channel' })),
};

const Counts = {
  responses: Type.Integer({ description: 'survey responses' }),
  promoters: Type.Integer({ description: 'scores 9 and 10' }),
  passives: Type.Integer({ description: 'scores 7 and 8' }),
  detractors: Type.Integer({ description: 'scores 0 to 6' }),
  nps: Nullable(Type.Number({ description: '(promoters − detractors) / responses × 100, one decimal; null without responses', examples: [33.3] })),
};

const GroupSchema = Type.Object({
  period: Nullable(Timestamp("the period's start (midnight in the tenant's zone), when grouped by period")),
  channel: Nullable(Type.String({ description: 'when grouped by channel (null: responses without one)' })),
  segment: Nullable(Type.String({ description: "the member attribute's value, when grouped by segment (null: members without it)" })),
  ...Counts,
});

const presentGroup = (g: NpsGroup) => ({
  period: g.period?.toISOString() ?? null, channel: g.channel, segment: g.segment,
  responses: g.responses, promoters: g.promoters, passives: g.passives, detractors: g.detractors, nps: g.nps,
});

export const npsRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/nps', {
    schema: {
      operationId: 'getNps', summary: 'The Net Promoter Score', tags: ['nps'],
      description: "From the program's `survey_response` events (attributes.score 0–10, attributes.comment): promoters (9–10), passives (7–8), detractors (0–6) and the NPS, in all and per group: the period (day, week, month, quarter or year on the tenant's calendar), the event's channel, and a segment (a member attribute such as region). Groups by period unless told otherwise.",
      params: ProgramParams,
      querystring: Type.Object({
        ...Range,
        period: Type.Optional(Type.String({ enum: [...NPS_PERIODS], default: 'month', description: 'the length of a period' })),
        groupBy: Type.Optional(Type.Array(Type.String({ enum: [...NPS_DIMENSIONS] }), { maxItems: 3, description: 'the dimensions of the groups (repeat the parameter); default period' })),
        segment: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'the member attribute that makes the segments', examples: ['region'] })),
      }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('nps_report'), programId: Id('the program'), from: Timestamp('start'), to: Timestamp('end (exclusive)'),
          period: Type.String(), groupBy: Type.Array(Type.String()), segment: Nullable(Type.String()),
          total: Type.Object(Counts), groups: Type.Array(GroupSchema),
        }), 'The NPS in all and per group.'),
        ...errors(400, 403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const r = await npsReport(laurel, tenantOf(request), request.params.programId, {
      from: dateTime(q.from, 'from'), to: dateTime(q.to, 'to'), period: q.period, groupBy: q.groupBy, segment: q.segment, channel: q.channel,
    });
    const { period: _p, channel: _c, segment: _s, ...total } = presentGroup(r.total);
    return {
      object: 'nps_report' as const, programId: r.programId, from: r.from.toISOString(), to: r.to.toISOString(), period: r.period,
      groupBy: r.groupBy, segment: r.segment, total, groups: r.groups.map(presentGroup),
    };
  });

  app.get('/programs/:programId/nps/comments', {
    schema: {
      operationId: 'listNpsComments', summary: 'Survey comments by score', tags: ['nps'],
      description: 'Responses with a comment, lowest score first (what detractors say comes first), newest first within a score.',
      params: ProgramParams,
      querystring: Type.Object({
        ...Range,
        minScore: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 0 })),
        maxScore: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 10 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
      }, { additionalProperties: false }),
      response: {
        200: described(Type.Object({
          object: Type.Literal('list'),
          data: Type.Array(Type.Object({
            object: Type.Literal('survey_comment'), eventId: Id('the survey_response event'), memberId: Id('who answered'),
            score: Type.Integer({ minimum: 0, maximum: 10 }), category: Type.String({ enum: ['promoter', 'passive', 'detractor'] }),
            comment: Type.String(), channel: Nullable(Type.String()), occurredAt: Timestamp('when they answered'),
          })),
        }), 'The comments.'),
        ...errors(400, 403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const rows = await npsCommentList(laurel, tenantOf(request), request.params.programId, {
      from: dateTime(q.from, 'from'), to: dateTime(q.to, 'to'), minScore: q.minScore, maxScore: q.maxScore, channel: q.channel, limit: q.limit,
    });
    return {
      object: 'list' as const,
      data: rows.map((c) => ({
        object: 'survey_comment' as const, eventId: c.event_id, memberId: c.member_id, score: c.score,
        category: categoryOf(c.score), comment: c.comment, channel: c.channel,
        occurredAt: new Date(c.occurred_at).toISOString(),
      })),
    };
  });
};
