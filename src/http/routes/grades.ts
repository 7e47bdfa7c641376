// Customer grades: a program's grading scheme, grading on demand, the members per grade, and a
// member's grade history.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { GRADE_CODE, MAX_GRADES, MAX_QUANTILES, MAX_WEIGHT, MAX_WINDOW_MONTHS, MIN_QUANTILES } from '../../core/grades/grading.js';
import type { Laurel } from '../../services/context.js';
import {
  deleteGrading, getGrading, gradeHistory, gradeReport, putGrading, recomputeProgram, type GradeChangeRecord, type Grading, type GradingRun,
} from '../../services/grades.js';
import { actorOf, ADMIN, clientKey, READ, READ_OR_MEMBER, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Code = Type.String({ pattern: GRADE_CODE.source, description: 'the grade as members carry it (member.grade in rule conditions)', examples: ['a'] });
const Weight = (what: string) => Type.Integer({ minimum: 0, maximum: MAX_WEIGHT, description: `how much ${what} counts` });

const Fields = {
  kind: Type.String({ enum: ['rfm', 'expression'], description: 'rfm: members scored against each other on recency, frequency and monetary value; expression: the first CEL condition over the member\'s own stats that holds' }),
  windowMonths: Type.Integer({ minimum: 1, maximum: MAX_WINDOW_MONTHS, description: 'rfm: purchases in the last N months count (whole local days, today included, up to the instant of grading)' }),
  quantiles: Type.Integer({ minimum: MIN_QUANTILES, maximum: MAX_QUANTILES, description: 'rfm: each of R, F and M is a score from 1 to this (5: quintiles)' }),
  weights: Type.Object({ recency: Weight('recency'), frequency: Weight('frequency'), monetary: Weight('monetary value') }, {
    additionalProperties: false, description: 'rfm: the weighted score is (wR·R + wF·F + wM·M) / (wR + wF + wM), truncated to hundredths',
  }),
};

const Body = Type.Object({
  kind: Fields.kind,
  windowMonths: Type.Optional(Fields.windowMonths),
  quantiles: Type.Optional(Fields.quantiles),
  weights: Type.Optional(Fields.weights),
  grades: Type.Array(Type.Object({
    code: Code,
    minScore: Type.Optional(Type.Union([Type.String({ maxLength: 10 }), Type.Number()], { description: 'rfm: the lowest weighted score that earns the grade, at most 2 decimals ("4", "2.5"); strictly decreasing, the last 0' })),
    condition: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'expression: a CEL bool over `stats` (see the README)' })),
  }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_GRADES, description: 'best first' }),
}, {
  additionalProperties: false,
  examples: [
    {
      kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 1, frequency: 1, monetary: 1 },
      grades: [{ code: 'a', minScore: '4' }, { code: 'b', minScore: '3' }, { code: 'c', minScore: '2' }, { code: 'd', minScore: '0' }],
    },
    {
      kind: 'expression',
      grades: [
        { code: 'vip', condition: 'stats.spendLast12Months >= 100000' },
        { code: 'regular', condition: 'stats.purchasesThisYear >= 2 && stats.daysSinceLastPurchase <= 90' },
        { code: 'lapsed', condition: 'stats.purchases > 0' },
      ],
    },
  ],
});

const GradingSchema = Type.Object({
  object: Type.Literal('grading'),
  programId: Id('the program'),
  kind: Fields.kind,
  windowMonths: Type.Optional(Fields.windowMonths),
  quantiles: Type.Optional(Fields.quantiles),
  weights: Type.Optional(Fields.weights),
  grades: Type.Array(Type.Object({
    code: Type.String(),
    minScore: Type.Optional(Type.String({ description: 'with two decimals', examples: ['4.00'] })),
    condition: Type.Optional(Type.String()),
  })),
  updatedBy: Type.String({ description: 'the key (or member) that saved it' }),
  updatedAt: Timestamp('when it was saved'),
});

const RunSchema = Type.Object({
  object: Type.Literal('grading_run'),
  programId: Id('the program'),
  at: Timestamp('the instant graded'),
  members: Type.Integer({ description: 'active members graded' }),
  changed: Type.Integer({ description: 'members whose grade changed (each with a grade history row)' }),
});

const ReportSchema = Type.Object({
  object: Type.Literal('grade_report'),
  programId: Id('the program'),
  graded: Type.Boolean({ description: 'whether the program has a grading scheme (GET …/grading answers 404 without one)' }),
  grades: Type.Array(Type.Object({ grade: Nullable(Type.String()), members: Type.Integer() }), {
    description: "active members per grade: the scheme's grades best first, any other grade members hold, then null (no grade)",
  }),
});

const ChangeSchema = Type.Object({
  object: Type.Literal('grade_change'),
  historyId: Id('the history row'),
  memberId: Id('the member'),
  at: Timestamp('when it was graded'),
  fromGrade: Nullable(Type.String()),
  toGrade: Nullable(Type.String()),
  reason: Type.String({ examples: ['rfm: R4 F5 M5 score 4.66'] }),
});

const presentGrading = (g: Grading) => ({
  object: 'grading' as const, programId: g.programId, ...g.scheme, grades: g.scheme.grades.map((x) => ({ ...x })),
  updatedBy: g.updatedBy, updatedAt: g.updatedAt.toISOString(),
});

const presentRun = (r: GradingRun) => ({ object: 'grading_run' as const, programId: r.programId, at: r.at.toISOString(), members: r.members, changed: r.changed });

const presentChange = (c: GradeChangeRecord) => ({
  object: 'grade_change' as const, historyId: c.historyId, memberId: c.memberId, at: c.at.toISOString(), fromGrade: c.fromGrade, toGrade: c.toGrade, reason: c.reason,
});

const ProgramParams = Type.Object({ programId: Id('the program') });

export const gradeRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/grading', {
    schema: {
      operationId: 'getGrading', summary: "A program's grading scheme", tags: ['grades'], description: 'The scheme as saved (scores with two decimals), who saved it and when; 404 when the program has none.',
      params: ProgramParams, response: { 200: described(GradingSchema, 'The grading scheme.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentGrading(await getGrading(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/grading', {
    schema: {
      operationId: 'setGrading', summary: 'Set a grading scheme', tags: ['grades'],
      description: [
        'Sets or replaces how the program grades its members (A/B/C…), checked on save: every problem is a 400 naming its field.',
        '**rfm**: members with purchases in the window are ranked on recency, frequency and spend, each scored 1 to `quantiles` by rank (ties take the lower score), the scores weighted, and the weighted score falls into the first grade whose `minScore` it reaches. Members without a purchase in the window score 1, 1, 1.',
        '**expression**: the first grade whose CEL `condition` over `stats` holds; none: no grade.',
        'Grades change at the next run of the daily `grades` job, or at once with `POST …/grading/recompute`.',
      ].join('\n\n'),
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: Body, response: { 200: described(GradingSchema, 'The scheme as saved.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentGrading(await putGrading(laurel, tenantOf(request), request.params.programId, request.body,
    { actor: actorOf(request), idempotencyKey: clientKey(request) })));

  app.delete('/programs/:programId/grading', {
    schema: {
      operationId: 'deleteGrading', summary: 'Remove a grading scheme', tags: ['grades'],
      description: 'Nothing grades the program any more; members keep the grade they have (rule conditions still read it) and their history. Answers the scheme removed; 404 when there is none.',
      params: ProgramParams, response: { 200: described(GradingSchema, 'The scheme that was removed.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentGrading(await deleteGrading(laurel, tenantOf(request), request.params.programId)));

  app.post('/programs/:programId/grading/recompute', {
    schema: {
      operationId: 'recomputeGrades', summary: 'Grade the program now', tags: ['grades'],
      description: 'Grades every active member as of now, as the daily job does. Only grades that change are written, each with a history row: running it twice changes nothing. 409 when the program has no scheme.',
      params: ProgramParams, response: { 200: described(RunSchema, 'What the run graded and changed.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN },
  }, async (request) => presentRun(await recomputeProgram(laurel, tenantOf(request), request.params.programId)));

  app.get('/programs/:programId/grades', {
    schema: { operationId: 'getGradeReport', summary: 'Members per grade', tags: ['grades'], description: 'How many active members hold each grade now.', params: ProgramParams, response: { 200: described(ReportSchema, 'Active members per grade.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => ({ object: 'grade_report' as const, ...(await gradeReport(laurel, tenantOf(request), request.params.programId)) }));

  app.get('/members/:memberId/grade-history', {
    schema: {
      operationId: 'listGradeHistory', summary: "A member's grade history", tags: ['grades'], description: 'Every change of grade, newest first, with why. A member token may read its own.',
      params: Type.Object({ memberId: Id('the member') }), querystring: Type.Object(ListQuery, { additionalProperties: false }),
      response: { 200: listOf(ChangeSchema, 'a page of grade changes'), ...errors(403, 404) },
    },
    config: { access: READ_OR_MEMBER },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const rows = await gradeHistory(laurel, tenantOf(request), request.params.memberId, { before: decodeCursor(request.query.cursor), limit });
    const p = page(rows, limit, (c) => c.historyId);
    return { ...p, data: p.data.map(presentChange) };
  });
};
