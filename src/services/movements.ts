// The program's recent tier and grade changes, across its members: what a program manager reads
// after changing a ladder or a grading scheme, or to see who moved this week.
import { gradeMovementRows, tierMovementRows } from '../db/movements.js';
import type { Laurel } from './context.js';
import { getProgram } from './tenants.js';
import { requireId } from './validate.js';

interface Page { before: string | null; limit: number }

export async function tierMovements(laurel: Laurel, tenantId: string, programId: string,
  filter: { change?: string | undefined; tier?: string | undefined; memberId?: string | undefined } & Page) {
  const program = await getProgram(laurel, tenantId, programId);
  const memberId = filter.memberId === undefined ? undefined : requireId(filter.memberId, 'memberId', 'member');
  const rows = await tierMovementRows(laurel.db, tenantId, { ...filter, memberId, programId: program.programId, limit: filter.limit + 1 });
  return rows.map((r) => ({
    historyId: r.history_id, memberId: r.member_id, externalId: r.external_id, cardCode: r.card_code, at: r.at,
    from: r.from_tier, to: r.to_tier, change: r.change, reason: r.reason, eventId: r.event_id,
  }));
}

export async function gradeMovements(laurel: Laurel, tenantId: string, programId: string,
  filter: { grade?: string | undefined; memberId?: string | undefined } & Page) {
  const program = await getProgram(laurel, tenantId, programId);
  const memberId = filter.memberId === undefined ? undefined : requireId(filter.memberId, 'memberId', 'member');
  const rows = await gradeMovementRows(laurel.db, tenantId, { ...filter, memberId, programId: program.programId, limit: filter.limit + 1 });
  return rows.map((r) => ({
    historyId: r.history_id, memberId: r.member_id, externalId: r.external_id, cardCode: r.card_code, at: r.at,
    fromGrade: r.from_grade, toGrade: r.to_grade, reason: r.reason,
  }));
}
