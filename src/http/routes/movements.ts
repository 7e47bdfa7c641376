// The program's recent tier and grade changes across its members ("movements"), filterable.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Laurel } from '../../services/context.js';
import { gradeMovements, tierMovements } from '../../services/movements.js';
import { READ, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { errors, Id, listOf, ListQuery, Nullable, Timestamp } from '../schemas.js';

const Who = {
  memberId: Id('the member'),
  externalId: Nullable(Type.String({ description: "the member's id in the brand's systems" })),
  cardCode: Nullable(Type.String({ examples: ['CARD-0002'] })),
};

const TierMovementSchema = Type.Object({
  object: Type.Literal('tier_movement'),
  historyId: Id('the history row'),
  ...Who,
  at: Timestamp('when'),
  from: Nullable(Type.String({ examples: ['member'] })),
  to: Type.String({ examples: ['silver'] }),
  change: Type.String({ enum: ['placed', 'up', 'kept', 'grace', 'down', 'set'] }),
  reason: Type.String({ examples: ['upgrade: metric 1200 ≥ 1000 (silver)'] }),
  eventId: Nullable(Id('the event whose activity lifted the member')),
});

const GradeMovementSchema = Type.Object({
  object: Type.Literal('grade_movement'),
  historyId: Id('the history row'),
  ...Who,
  at: Timestamp('when'),
  fromGrade: Nullable(Type.String({ examples: ['b'] })),
  toGrade: Nullable(Type.String({ examples: ['a'] })),
  reason: Type.String(),
});

const Code = (description: string) => Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description });
const ProgramParams = Type.Object({ programId: Id('the program') });

export const movementRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/tier-movements', {
    schema: {
      operationId: 'listTierMovements', summary: "A program's tier movements", tags: ['tiers'],
      description: 'Every tier change of the members of the program, newest first: placements, upgrades (with the event that caused them), graces, downgrades and changes by an admin. Filter by `change`, by a `tier` moved from or to, or by a member.',
      params: ProgramParams,
      querystring: Type.Object({
        change: Type.Optional(Type.String({ enum: ['placed', 'up', 'kept', 'grace', 'down', 'set'] })),
        tier: Type.Optional(Code('a tier moved from or to')),
        memberId: Type.Optional(Id('one member')),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(TierMovementSchema, 'a page of tier movements'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await tierMovements(laurel, tenantOf(request), request.params.programId, { change: q.change, tier: q.tier, memberId: q.memberId, before: decodeCursor(q.cursor), limit });
    const p = page(rows, limit, (r) => r.historyId);
    return { ...p, data: p.data.map((r) => ({ object: 'tier_movement' as const, ...r, at: r.at.toISOString() })) };
  });

  app.get('/programs/:programId/grade-movements', {
    schema: {
      operationId: 'listGradeMovements', summary: "A program's grade movements", tags: ['grades'],
      description: 'Every grade change of the members of the program, newest first, with why. Filter by a `grade` moved from or to, or by a member.',
      params: ProgramParams,
      querystring: Type.Object({
        grade: Type.Optional(Code('a grade moved from or to')),
        memberId: Type.Optional(Id('one member')),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(GradeMovementSchema, 'a page of grade movements'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await gradeMovements(laurel, tenantOf(request), request.params.programId, { grade: q.grade, memberId: q.memberId, before: decodeCursor(q.cursor), limit });
    const p = page(rows, limit, (r) => r.historyId);
    return { ...p, data: p.data.map((r) => ({ object: 'grade_movement' as const, ...r, at: r.at.toISOString() })) };
  });
};
