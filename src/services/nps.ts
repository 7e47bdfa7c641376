// NPS reports: per period (on the tenant's calendar), channel and segment, and the comments.
import { invalid, notFound } from '../core/errors.js';
import { NPS_DIMENSIONS, NPS_PERIODS, npsOf, type NpsDimension, type NpsPeriod } from '../core/engagement/nps.js';
import { npsComments, npsCounts, type CommentRow, type NpsRow } from '../db/nps.js';
import type { Laurel } from './context.js';
import { requireId } from './validate.js';

export type { CommentRow };

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const DEFAULT_DAYS = 365;

async function programOf(laurel: Laurel, tenantId: string, programId: string) {
  const id = requireId(programId, 'programId', 'program');
  const row = await laurel.db.selectFrom('programs as p').innerJoin('tenants as t', 't.tenant_id', 'p.tenant_id')
    .select(['p.program_id', 't.time_zone']).where('p.tenant_id', '=', tenantId).where('p.program_id', '=', id).executeTakeFirst();
  if (!row) throw notFound('program', 'programId');
  return { programId: row.program_id, timeZone: row.time_zone };
}

export interface NpsReportInput {
  from?: Date | null;
  to?: Date | null;
  period?: string;
  groupBy?: string[];
  segment?: string;
  channel?: string;
}

export interface NpsGroup extends NpsRow {
  nps: number | null;
}

function range(laurel: Laurel, from: Date | null | undefined, to: Date | null | undefined) {
  // By default up to now, now included: a response recorded this very millisecond counts.
  const end = to ?? new Date(laurel.clock.now().getTime() + 1);
  const start = from ?? new Date(end.getTime() - DEFAULT_DAYS * 86_400_000);
  if (end <= start) throw invalid('to', 'to must be after from');
  return { start, end };
}

export async function npsReport(laurel: Laurel, tenantId: string, programId: string, input: NpsReportInput) {
  const program = await programOf(laurel, tenantId, programId);
  const period = (input.period ?? 'month') as NpsPeriod;
  if (!NPS_PERIODS.includes(period)) throw invalid('period', `period must be ${NPS_PERIODS.join(', ')}`);
  const groupBy = [...new Set(input.groupBy ?? ['period'])] as NpsDimension[];
  groupBy.forEach((d, i) => { if (!NPS_DIMENSIONS.includes(d)) throw invalid(`groupBy[${i}]`, `groupBy takes ${NPS_DIMENSIONS.join(', ')}`); });
  const segment = input.segment ?? null;
  if (segment !== null && !ATTRIBUTE.test(segment)) throw invalid('segment', 'segment is the name of a member attribute, such as region');
  if (groupBy.includes('segment') && segment === null) throw invalid('segment', 'grouping by segment needs the member attribute that makes the segments');
  const { start, end } = range(laurel, input.from, input.to);
  const base = { tenantId, programId: program.programId, timeZone: program.timeZone, from: start, to: end, period, segment, channel: input.channel ?? null };
  const [total] = await npsCounts(laurel.db, { ...base, groupBy: [] });
  const groups = groupBy.length ? await npsCounts(laurel.db, { ...base, groupBy }) : [];
  const withNps = (r: NpsRow): NpsGroup => ({ ...r, nps: npsOf(r) });
  return { programId: program.programId, from: start, to: end, period, groupBy, segment, total: withNps(total!), groups: groups.map(withNps) };
}

export async function npsCommentList(laurel: Laurel, tenantId: string, programId: string, input: {
  from?: Date | null; to?: Date | null; minScore?: number; maxScore?: number; channel?: string; limit?: number;
}) {
  const program = await programOf(laurel, tenantId, programId);
  const minScore = input.minScore ?? 0;
  const maxScore = input.maxScore ?? 10;
  if (maxScore < minScore) throw invalid('maxScore', 'maxScore must be at least minScore');
  const { start, end } = range(laurel, input.from, input.to);
  return npsComments(laurel.db, {
    tenantId, programId: program.programId, timeZone: program.timeZone, from: start, to: end, channel: input.channel ?? null,
    minScore, maxScore, limit: input.limit ?? 50,
  });
}
